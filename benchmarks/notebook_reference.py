"""The original notebook's flow, run as it is written (Keras 3 port), as the
reference the pipeline is measured against.

Reads the cached raw MovieLens 100K (``data/01_raw/ml-100k/u.data``), rebuilds
``fetch_movielens(min_rating=3.0)``'s dense train/test arrays (the GroupLens
``ua`` split), then: ``wide_to_long`` with ``np.where``, a pandas table turned
into ``tf.data`` through a dict, NeuMF with 4/32 factors, Adam, batch 512, the
seed's eight Keras metrics, TensorBoard with histograms, EarlyStopping; scores
every pair, pivots them back, Keras ``Precision/Recall(top_k=5)``; LightFM WARP
on the same data, min-max scaled scores. Only two edits, both forced by Keras 3:
no ``input_length`` on ``Embedding``, and the label is passed as an array, not a
``{"interaction": y}`` dict.

Prints one JSON line: wall time, NCF rows/s, peak RSS and both protocols' P@5.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd
import tensorflow as tf
from lightfm import LightFM
from scipy import sparse
from tensorflow import keras
from tensorflow.keras.layers import (
    Concatenate,
    Dense,
    Embedding,
    Flatten,
    Input,
    Multiply,
)
from tensorflow.keras.models import Model
from tensorflow.keras.optimizers import Adam
from tensorflow.keras.regularizers import l2

TOP_K = 5
N_EPOCHS = 10


def load_ua(u_data: Path, min_rating: float = 3.0) -> dict[str, np.ndarray]:
    """``fetch_movielens(min_rating)``'s train/test as dense 0/1 int8 arrays."""
    ratings = pd.read_csv(u_data, sep="\t", names=["user", "item", "rating", "ts"])
    is_test = ratings.groupby("user", sort=False).cumcount() < 10
    shape = (ratings["user"].max(), ratings["item"].max())
    data = {}
    for name, rows in (("train", ratings[~is_test]), ("test", ratings[is_test])):
        part = rows[rows["rating"] >= min_rating]
        wide = np.zeros(shape, dtype="int8")
        wide[part["user"] - 1, part["item"] - 1] = 1
        data[name] = wide
    return data


def wide_to_long(wide: np.ndarray, possible_ratings: list[int]) -> np.ndarray:
    def _get_ratings(arr: np.ndarray, rating: int) -> np.ndarray:
        idx = np.where(arr == rating)
        return np.vstack(
            (idx[0], idx[1], np.ones(idx[0].size, dtype="int8") * rating)
        ).T

    return np.vstack([_get_ratings(wide, r) for r in possible_ratings])


def create_ncf(
    number_of_users: int,
    number_of_items: int,
    latent_dim_mf: int = 4,
    latent_dim_mlp: int = 32,
    reg_mf: float = 0,
    reg_mlp: float = 0.01,
    dense_layers: tuple[int, ...] = (8, 4),
    reg_layers: tuple[float, ...] = (0.01, 0.01),
    activation_dense: str = "relu",
) -> keras.Model:
    user = Input(shape=(), dtype="int32", name="user_id")
    item = Input(shape=(), dtype="int32", name="item_id")

    def embedding(name: str, count: int, dim: int, reg: float) -> Embedding:
        return Embedding(
            input_dim=count,
            output_dim=dim,
            name=name,
            embeddings_initializer="RandomNormal",
            embeddings_regularizer=l2(reg),
        )

    mf_user = Flatten()(
        embedding("mf_user_embedding", number_of_users, latent_dim_mf, reg_mf)(user)
    )
    mf_item = Flatten()(
        embedding("mf_item_embedding", number_of_items, latent_dim_mf, reg_mf)(item)
    )
    mf_cat_latent = Multiply()([mf_user, mf_item])
    mlp_user = Flatten()(
        embedding("mlp_user_embedding", number_of_users, latent_dim_mlp, reg_mlp)(user)
    )
    mlp_item = Flatten()(
        embedding("mlp_item_embedding", number_of_items, latent_dim_mlp, reg_mlp)(item)
    )
    mlp_vector = Concatenate()([mlp_user, mlp_item])
    for i in range(len(dense_layers)):
        mlp_vector = Dense(
            dense_layers[i],
            activity_regularizer=l2(reg_layers[i]),
            activation=activation_dense,
            name=f"layer{i}",
        )(mlp_vector)
    predict_layer = Concatenate()([mf_cat_latent, mlp_vector])
    output = Dense(
        1, activation="sigmoid", kernel_initializer="lecun_uniform", name="interaction"
    )(predict_layer)
    return Model(inputs=[user, item], outputs=[output])


def make_tf_dataset(
    df: pd.DataFrame,
    targets: list[str],
    val_split: float = 0.1,
    batch_size: int = 512,
    seed=42,
):
    n_val = round(df.shape[0] * val_split)
    x = (
        df.sample(frac=1, random_state=seed).to_dict("series")
        if seed
        else df.to_dict("series")
    )
    y = x.pop(targets[0])  # Keras 3: a plain label, not {"interaction": y}
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    return ds.skip(n_val).batch(batch_size), ds.take(n_val).batch(batch_size)


def seed_flow(u_data: Path, logdir: str, seed: int) -> dict:
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    data = load_ua(u_data)
    unique_ratings = np.unique(data["train"])
    df_train = pd.DataFrame(
        wide_to_long(data["train"], unique_ratings),
        columns=["user_id", "item_id", "interaction"],
    )

    n_users, n_items = data["train"].shape
    ncf_model = create_ncf(n_users, n_items)
    ncf_model.compile(
        optimizer=Adam(),
        loss="binary_crossentropy",
        metrics=[
            keras.metrics.TruePositives(name="tp"),
            keras.metrics.FalsePositives(name="fp"),
            keras.metrics.TrueNegatives(name="tn"),
            keras.metrics.FalseNegatives(name="fn"),
            keras.metrics.BinaryAccuracy(name="accuracy"),
            keras.metrics.Precision(name="precision"),
            keras.metrics.Recall(name="recall"),
            keras.metrics.AUC(name="auc"),
        ],
    )
    ds_train, ds_val = make_tf_dataset(df_train, ["interaction"])
    fit_start = time.perf_counter()
    history = ncf_model.fit(
        ds_train,
        validation_data=ds_val,
        epochs=N_EPOCHS,
        callbacks=[
            keras.callbacks.TensorBoard(logdir, histogram_freq=1),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=2),
        ],
        verbose=0,
    )
    fit_seconds = time.perf_counter() - fit_start
    epochs_run = len(history.history["loss"])
    train_rows = len(df_train) - round(len(df_train) * 0.1)

    df_test = pd.DataFrame(
        wide_to_long(data["train"], unique_ratings),
        columns=["user_id", "item_id", "interaction"],
    )
    ds_test, _ = make_tf_dataset(df_test, ["interaction"], val_split=0, seed=None)
    df_test["ncf_predictions"] = ncf_model.predict(ds_test, verbose=0)
    if df_test.describe().loc["std", "ncf_predictions"] < 0.01:
        raise ValueError("Model predictions have standard deviation of less than 1e-2.")
    data["ncf_predictions"] = df_test.pivot(
        index="user_id", columns="item_id", values="ncf_predictions"
    ).values
    precision_ncf = keras.metrics.Precision(top_k=TOP_K)
    precision_ncf.update_state(data["test"], data["ncf_predictions"])

    lightfm_model = LightFM(loss="warp")
    lightfm_model.fit(sparse.coo_matrix(data["train"]), epochs=N_EPOCHS)
    df_test["lightfm_predictions"] = lightfm_model.predict(
        df_test["user_id"].values, df_test["item_id"].values
    )
    wide = df_test.pivot(
        index="user_id", columns="item_id", values="lightfm_predictions"
    ).values
    data["lightfm_predictions"] = (wide - np.min(wide)) / np.ptp(wide)
    precision_lightfm = keras.metrics.Precision(top_k=TOP_K)
    precision_lightfm.update_state(data["test"], data["lightfm_predictions"])
    wall = time.perf_counter() - start

    # Measured after the clock stops: the standard protocol on the same scores.
    from ncf_movielens.metrics import RankingEvaluator  # noqa: PLC0415

    standard = RankingEvaluator(
        sparse.csr_matrix(data["train"]), sparse.csr_matrix(data["test"])
    )
    standard.update(np.arange(n_users), data["ncf_predictions"].astype(np.float32))
    return {
        "wall_seconds": wall,
        "ncf_fit_seconds": fit_seconds,
        "ncf_epochs": epochs_run,
        "ncf_rows_per_second": train_rows * epochs_run / fit_seconds,
        "ncf_seed_precision@5": float(precision_ncf.result()),
        "lightfm_seed_precision@5": float(precision_lightfm.result()),
        "ncf_standard_precision@5": standard.standard_metrics()["precision@5"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--u-data", type=Path, default=Path("data/01_raw/ml-100k/u.data")
    )
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as logdir:
        print(json.dumps(seed_flow(args.u_data, logdir, args.seed)))


if __name__ == "__main__":
    main()
