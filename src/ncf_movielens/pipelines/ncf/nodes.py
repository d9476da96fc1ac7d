"""Neural Collaborative Filtering (NeuMF: a GMF tower and an MLP tower) on the
Keras 3 functional API, trained on the long user x item table."""

from __future__ import annotations

import logging
import math
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


SAMPLING_MODES = ("all_pairs", "negative")


def _shuffled_split(
    n_rows: int, validation_split: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, validation): shuffle once with ``seed`` and hold the
    first share out, as the seed's ``make_tf_dataset`` does."""
    order = np.random.default_rng(seed).permutation(n_rows)
    n_val = round(n_rows * validation_split)
    return order[n_val:], order[:n_val]


def _pairs(users: np.ndarray, items: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "user_id": users.astype(np.int32, copy=False),
        "item_id": items.astype(np.int32, copy=False),
    }


_CHUNK = 1 << 22  # rows per membership check in NegativeSampler


class NegativeSampler(keras.utils.PyDataset):
    """Batches of every positive (user, item) pair plus ``negatives`` items per
    positive drawn uniformly from the items the user has no train interaction
    with (He et al., 2017). A new draw every epoch unless ``resample`` is off.

    With ``full_batches_only`` the rows past the last full batch are left out
    of that epoch (a different draw each epoch): one batch shape means XLA
    compiles the training step once, not twice.
    """

    def __init__(
        self,
        users: np.ndarray,
        items: np.ndarray,
        interactions: sp.csr_matrix,
        negatives: int,
        batch_size: int,
        seed: int,
        resample: bool = True,
        full_batches_only: bool = False,
    ) -> None:
        super().__init__()
        self.full_batches_only = full_batches_only
        self.users, self.items = users.astype(np.int32), items.astype(np.int32)
        self.n_items = interactions.shape[1]
        coo = interactions.tocoo()
        self._known = np.sort(coo.row.astype(np.int64) * self.n_items + coo.col)
        self.negatives, self.batch_size, self.resample = negatives, batch_size, resample
        self._rng = np.random.default_rng(seed)
        self._draw()

    def _is_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Whether each (user, item) is a train interaction; in chunks, so the
        int64 codes never take more than a few tens of MB at once."""
        known = np.empty(len(users), dtype=bool)
        for start in range(0, len(users), _CHUNK):
            part = slice(start, start + _CHUNK)
            codes = users[part].astype(np.int64) * self.n_items + items[part]
            found = np.searchsorted(self._known, codes)
            np.minimum(found, len(self._known) - 1, out=found)
            known[part] = self._known[found] == codes
        return known

    def _draw(self) -> None:
        self.x = self.y = None  # the last epoch's arrays go before the new ones come
        neg_users = np.repeat(self.users, self.negatives)
        neg_items = self._rng.integers(0, self.n_items, len(neg_users), dtype=np.int32)
        # Redraw only the few that hit a known positive; checking just those
        # keeps each epoch's draw linear in the number of rows.
        clash = np.flatnonzero(self._is_known(neg_users, neg_items))
        for _ in range(10):
            if not len(clash):
                break
            neg_items[clash] = self._rng.integers(0, self.n_items, len(clash))
            clash = clash[self._is_known(neg_users[clash], neg_items[clash])]
        order = self._rng.permutation(len(self.users) + len(neg_users))
        users = np.concatenate([self.users, neg_users])[order]
        del neg_users
        items = np.concatenate([self.items, neg_items])[order]
        del neg_items
        labels = np.zeros(len(order), np.float32)
        labels[: len(self.users)] = 1.0
        self.y = labels[order]
        del order, labels
        self.x = _pairs(users, items)

    def __len__(self) -> int:
        if self.full_batches_only and len(self.y) >= self.batch_size:
            return len(self.y) // self.batch_size
        return math.ceil(len(self.y) / self.batch_size)

    @property
    def rows_per_epoch(self) -> int:
        return min(len(self.y), len(self) * self.batch_size)

    def __getitem__(self, index: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return {key: value[part] for key, value in self.x.items()}, self.y[part]

    def on_epoch_end(self) -> None:
        if self.resample:
            self._draw()


def _training_data(
    table: pd.DataFrame, train_matrix: sp.csr_matrix, options: dict[str, Any]
) -> tuple[dict[str, Any], int, int]:
    """(fit keyword arguments, train rows per epoch, validation rows) for
    the sampling mode in ``options``."""
    seed, batch_size = int(options["seed"]), int(options["batch_size"])
    mode = options.get("sampling", "all_pairs")
    if mode == "all_pairs":
        train, val = _shuffled_split(len(table), options["validation_split"], seed)
        users = table["user_id"].to_numpy(np.int32)
        items = table["item_id"].to_numpy(np.int32)
        labels = table["interaction"].to_numpy(np.float32)
        fit_args = {
            "x": _pairs(users[train], items[train]),
            "y": labels[train],
            "validation_data": (_pairs(users[val], items[val]), labels[val]),
            "batch_size": batch_size,
            "shuffle": options["shuffle_each_epoch"],
        }
        return fit_args, len(train), len(val)
    if mode == "negative":
        positives = table[table["interaction"] > 0]
        users = positives["user_id"].to_numpy(np.int32)
        items = positives["item_id"].to_numpy(np.int32)
        train, val = _shuffled_split(len(positives), options["validation_split"], seed)
        negatives = int(options["negatives"])
        full_batches = bool(options.get("jit_compile", False))
        sampler = NegativeSampler(
            users[train], items[train], train_matrix, negatives, batch_size, seed,
            full_batches_only=full_batches,
        )  # fmt: skip
        held_out = NegativeSampler(
            users[val], items[val], train_matrix, negatives, batch_size, seed + 1,
            resample=False, full_batches_only=full_batches,
        )  # fmt: skip
        fit_args = {
            "x": sampler,
            "validation_data": held_out,
        }
        if len(val) == 0:
            del fit_args["validation_data"]
        return fit_args, sampler.rows_per_epoch, held_out.rows_per_epoch
    raise ValueError(
        f"ncf.training_options.sampling {mode!r} is unknown; "
        f"expected one of {SAMPLING_MODES}"
    )


class _Throughput(keras.callbacks.Callback):
    """Logs each epoch's loss and training rows per second (validation excluded)."""

    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = rows
        self.rates: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()
        self._train_seconds: float | None = None

    def on_test_begin(self, logs: dict | None = None) -> None:
        if self._train_seconds is None:
            self._train_seconds = time.perf_counter() - self._start

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        seconds = self._train_seconds or time.perf_counter() - self._start
        self.rates.append(self.rows / seconds)
        logs = logs or {}
        logger.info(
            "NCF epoch %d: loss %.4f, val_loss %.4f, %.0f rows/s",
            epoch + 1,
            logs.get("loss", float("nan")),
            logs.get("val_loss", float("nan")),
            self.rates[-1],
        )


def train_ncf(
    model_input_table: pd.DataFrame,
    train_matrix: sp.csr_matrix,
    model_options: dict[str, Any],
    training_options: dict[str, Any],
) -> tuple[keras.Model, dict[str, Any]]:
    """Build NeuMF for the matrix's users and items and fit it.

    ``training_options.sampling`` chooses the rows: ``all_pairs`` fits the long
    table as it is (the seed: every user x item pair labelled 0/1);
    ``negative`` takes the table's positives and draws ``negatives`` unobserved
    items per positive, anew each epoch. Returns the trained model and its
    history (per-epoch metrics, whether EarlyStopping stopped it, throughput).
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
        jit_compile=training_options.get("jit_compile", False),
        steps_per_execution=training_options.get("steps_per_execution", 1),
    )
    fit_args, train_rows, val_rows = _training_data(
        model_input_table, train_matrix, training_options
    )
    throughput = _Throughput(train_rows)
    callbacks: list[keras.callbacks.Callback] = [throughput]
    if val_rows:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss",
                patience=training_options["early_stopping_patience"],
            )
        )
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
        "Training NCF (%s) on %d rows per epoch (%d held out for validation), "
        "batch %d, %d epochs max",
        training_options.get("sampling", "all_pairs"),
        train_rows,
        val_rows,
        training_options["batch_size"],
        training_options["epochs"],
    )
    history = model.fit(
        **fit_args,
        epochs=training_options["epochs"],
        callbacks=callbacks,
        verbose=0,
    )
    epochs_run = len(history.history["loss"])
    return model, {
        "epochs_run": epochs_run,
        "stopped_early": epochs_run < training_options["epochs"],
        "train_rows": train_rows,
        "validation_rows": val_rows,
        "rows_per_second": [round(rate, 1) for rate in throughput.rates],
        "history": {
            key: [float(value) for value in values]
            for key, values in history.history.items()
        },
    }
