"""Neural Collaborative Filtering (NeuMF: a GMF tower and an MLP tower) on the
Keras 3 functional API, trained on the long user x item table."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import scipy.sparse as sp
from keras import layers
from keras.regularizers import l2

logger = logging.getLogger(__name__)

_KERAS_METRICS = {
    "tp": lambda: keras.metrics.TruePositives(name="tp"),
    "fp": lambda: keras.metrics.FalsePositives(name="fp"),
    "tn": lambda: keras.metrics.TrueNegatives(name="tn"),
    "fn": lambda: keras.metrics.FalseNegatives(name="fn"),
    "accuracy": lambda: keras.metrics.BinaryAccuracy(name="accuracy"),
    "precision": lambda: keras.metrics.Precision(name="precision"),
    "recall": lambda: keras.metrics.Recall(name="recall"),
    "auc": lambda: keras.metrics.AUC(name="auc"),
}


def build_neumf(
    n_users: int,
    n_items: int,
    latent_dim_mf: int = 4,
    latent_dim_mlp: int = 32,
    reg_mf: float = 0.0,
    reg_mlp: float = 0.01,
    dense_layers: tuple[int, ...] = (8, 4),
    reg_layers: tuple[float, ...] = (0.01, 0.01),
    activation_dense: str = "relu",
) -> keras.Model:
    """NeuMF (He et al., WWW 2017) with the seed's defaults.

    The seed's Keras 2 code passed ``input_length=1`` to ``Embedding``; Keras 3
    has no such argument and scalar id inputs need no ``Flatten``.
    """
    if len(dense_layers) != len(reg_layers):
        raise ValueError(
            f"dense_layers {list(dense_layers)} and reg_layers {list(reg_layers)} "
            "must have the same length"
        )
    user = keras.Input(shape=(), dtype="int32", name="user_id")
    item = keras.Input(shape=(), dtype="int32", name="item_id")

    def embedding(name: str, count: int, dim: int, reg: float) -> layers.Embedding:
        return layers.Embedding(
            count,
            dim,
            embeddings_initializer="random_normal",
            embeddings_regularizer=l2(reg),
            name=name,
        )

    mf_vector = layers.Multiply(name="gmf")(
        [
            embedding("mf_user_embedding", n_users, latent_dim_mf, reg_mf)(user),
            embedding("mf_item_embedding", n_items, latent_dim_mf, reg_mf)(item),
        ]
    )
    mlp_vector = layers.Concatenate(name="mlp_input")(
        [
            embedding("mlp_user_embedding", n_users, latent_dim_mlp, reg_mlp)(user),
            embedding("mlp_item_embedding", n_items, latent_dim_mlp, reg_mlp)(item),
        ]
    )
    for index, (units, reg) in enumerate(zip(dense_layers, reg_layers, strict=True)):
        mlp_vector = layers.Dense(
            units,
            activation=activation_dense,
            activity_regularizer=l2(reg),
            name=f"layer{index}",
        )(mlp_vector)
    joined = layers.Concatenate(name="neumf")([mf_vector, mlp_vector])
    output = layers.Dense(
        1, activation="sigmoid", kernel_initializer="lecun_uniform", name="interaction"
    )(joined)
    return keras.Model(
        inputs=[user, item], outputs=output, name="neural_collaborative_filtering"
    )


def _train_validation_split(
    table: pd.DataFrame, validation_split: float, seed: int
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Shuffle the rows once with ``seed`` and hold the first share out, as the
    seed's ``make_tf_dataset`` does."""
    order = np.random.default_rng(seed).permutation(len(table))
    n_val = round(len(table) * validation_split)
    users = table["user_id"].to_numpy(np.int32)[order]
    items = table["item_id"].to_numpy(np.int32)[order]
    labels = table["interaction"].to_numpy(np.float32)[order]

    def inputs(part: slice) -> dict[str, np.ndarray]:
        return {"user_id": users[part], "item_id": items[part]}

    val, train = slice(0, n_val), slice(n_val, None)
    return inputs(train), labels[train], inputs(val), labels[val]


class _Throughput(keras.callbacks.Callback):
    """Logs training rows per second after each epoch."""

    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = rows
        self.rates: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        rate = self.rows / (time.perf_counter() - self._start)
        self.rates.append(rate)
        loss = (logs or {}).get("loss", float("nan"))
        val_loss = (logs or {}).get("val_loss", float("nan"))
        logger.info(
            "NCF epoch %d: loss %.4f, val_loss %.4f, %.0f rows/s",
            epoch + 1,
            loss,
            val_loss,
            rate,
        )


def train_ncf(
    model_input_table: pd.DataFrame,
    train_matrix: sp.csr_matrix,
    model_options: dict[str, Any],
    training_options: dict[str, Any],
) -> tuple[keras.Model, dict[str, Any]]:
    """Build NeuMF for the matrix's users and items and fit it on the long table.

    Returns the trained model and its history (per-epoch metrics, the epoch
    EarlyStopping stopped at, throughput).
    """
    seed = int(training_options["seed"])
    keras.utils.set_random_seed(seed)
    model = build_neumf(*train_matrix.shape, **model_options)
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=training_options["learning_rate"]
        ),
        loss="binary_crossentropy",
        metrics=[_KERAS_METRICS[name]() for name in training_options["metrics"]],
    )
    x_train, y_train, x_val, y_val = _train_validation_split(
        model_input_table, training_options["validation_split"], seed
    )
    throughput = _Throughput(len(y_train))
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=training_options["early_stopping_patience"]
        ),
        throughput,
    ]
    if training_options.get("tensorboard_log_dir"):
        log_dir = Path(training_options["tensorboard_log_dir"]) / time.strftime(
            "%Y%m%d-%H%M%S"
        )
        callbacks.append(
            keras.callbacks.TensorBoard(
                str(log_dir), histogram_freq=training_options["histogram_freq"]
            )
        )
        logger.info("TensorBoard logs: %s", log_dir)
    logger.info(
        "Training NCF on %d rows (%d held out for validation), batch %d, %d epochs max",
        len(y_train),
        len(y_val),
        training_options["batch_size"],
        training_options["epochs"],
    )
    history = model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        batch_size=training_options["batch_size"],
        epochs=training_options["epochs"],
        shuffle=training_options["shuffle_each_epoch"],
        callbacks=callbacks,
        verbose=0,
    )
    epochs_run = len(history.history["loss"])
    return model, {
        "epochs_run": epochs_run,
        "stopped_early": epochs_run < training_options["epochs"],
        "train_rows": len(y_train),
        "validation_rows": len(y_val),
        "rows_per_second": [round(rate, 1) for rate in throughput.rates],
        "history": {
            key: [float(value) for value in values]
            for key, values in history.history.items()
        },
    }
