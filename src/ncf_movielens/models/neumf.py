"""Neural Collaborative Filtering (NeuMF, He et al., WWW 2017: a GMF tower and
an MLP tower) on the Keras 3 functional API: the builder, the negative sampler
and the training loop."""

from __future__ import annotations

import logging
import math
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import scipy.sparse as sp
from keras import layers
from keras.regularizers import l2

from ncf_movielens.models.checks import check_finite_history
from ncf_movielens.models.lazy_adam import LazyAdam
from ncf_movielens.parameters import NCF_METRICS, NCFModelOptions, NCFTrainingOptions

logger = logging.getLogger(__name__)

#: ``embedding_updates: auto`` goes sparse once the embedding tables hold more
#: rows (users + items) than this many batches. Per step on 2 cores, batch
#: 16,384 (benchmarks/bench_ncf_step.py): dense 6.9 ms, sparse 14.2 at
#: ml-100k's 2,625 rows; 9.2 and 27.4 at 18,311; 14.2 and 14.7 at 58,915
#: (a tie); 66.3 and 23.5 at MovieLens 25M's 221,587.
SPARSE_FROM_BATCHES = 4


def sparse_updates(mode: str, n_users: int, n_items: int, batch_size: int) -> bool:
    """Whether ``embedding_updates`` (dense, sparse or auto) trains these
    tables with per-batch L2 and LazyAdam."""
    if mode == "auto":
        return n_users + n_items > SPARSE_FROM_BATCHES * batch_size
    return mode == "sparse"


#: Most (user, item) pairs that one forward pass takes while scoring.
_MAX_PAIRS = 1 << 19


@keras.saving.register_keras_serializable(package="ncf_movielens")
class NeuMF(keras.Model):
    """A NeuMF functional model that scores users like every model of the
    study. Registered serializable, so a saved ``.keras`` file loads back as
    this class with ``safe_mode=True``."""

    def score_users(self, users: np.ndarray, n_items: int) -> np.ndarray:
        """Scores of ``users`` (0-based ids) for items ``0..n_items-1``, shape
        ``(len(users), n_items)``, float32; higher is better."""
        items = np.arange(n_items, dtype=np.int32)
        scores = np.empty((len(users), n_items), dtype=np.float32)
        step = max(1, _MAX_PAIRS // n_items)
        for start in range(0, len(users), step):
            chunk = np.asarray(users[start : start + step]).astype(np.int32)
            pairs = {
                "user_id": np.repeat(chunk, n_items),
                "item_id": np.tile(items, len(chunk)),
            }
            predicted = self.predict_on_batch(pairs)
            scores[start : start + len(chunk)] = np.asarray(predicted).reshape(
                len(chunk), n_items
            )
        return scores


@keras.saving.register_keras_serializable(package="ncf_movielens")
class LookedUpL2Embedding(layers.Embedding):
    """An embedding whose L2 penalty covers the distinct rows a batch looked up:
    ``row_l2 * sum(e ** 2)`` over them, each row once however often it was
    looked up. Its gradient on such a row is the one a table-wide
    ``l2(row_l2)`` gives every row; rows the batch did not look up get none,
    so the gradient stays sparse."""

    def __init__(self, *args: Any, row_l2: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.row_l2 = float(row_l2)

    def call(self, inputs):
        outputs = super().call(inputs)
        if self.row_l2:
            ids = keras.ops.cast(keras.ops.reshape(inputs, (-1,)), "int32")
            # How often each id occurs in this batch (a vector of the table's
            # length: one number per row, not a row of weights).
            counts = keras.ops.segment_sum(
                keras.ops.ones_like(ids, dtype=outputs.dtype),
                ids,
                num_segments=self.input_dim,
            )
            norms = keras.ops.sum(keras.ops.square(outputs), axis=-1)
            shares = keras.ops.reshape(
                keras.ops.take(counts, ids), keras.ops.shape(norms)
            )
            self.add_loss(self.row_l2 * keras.ops.sum(norms / shares))
        return outputs

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "row_l2": self.row_l2}


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
    embedding_l2: str = "table",
) -> NeuMF:
    """NeuMF (He et al., WWW 2017) with the notebook's defaults.

    ``embedding_l2`` says what ``reg_mf`` and ``reg_mlp`` penalise: ``table``,
    every row of each embedding table at every step (the notebook's Keras
    regulariser; it makes every embedding gradient dense); ``batch``, the
    distinct rows a batch looks up, each once (``LookedUpL2Embedding``): the
    same gradient on those rows, none on the others, so an embedding gradient
    touches only the looked-up rows.

    The notebook's Keras 2 code passed ``input_length=1`` to ``Embedding``; Keras 3
    has no such argument and scalar id inputs need no ``Flatten``.
    """
    if len(dense_layers) != len(reg_layers):
        raise ValueError(
            f"dense_layers {list(dense_layers)} and reg_layers {list(reg_layers)} "
            "must have the same length"
        )
    user = keras.Input(shape=(), dtype="int32", name="user_id")
    item = keras.Input(shape=(), dtype="int32", name="item_id")

    if embedding_l2 not in ("table", "batch"):
        raise ValueError(f"embedding_l2 is {embedding_l2!r}: use table or batch")

    def embedding(name: str, count: int, dim: int, reg: float) -> layers.Embedding:
        if embedding_l2 == "batch":
            return LookedUpL2Embedding(
                count, dim, row_l2=reg, embeddings_initializer="random_normal",
                name=name,
            )  # fmt: skip
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
    return NeuMF(
        inputs=[user, item], outputs=output, name="neural_collaborative_filtering"
    )


def _shuffled_split(
    n_rows: int, validation_split: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, validation): shuffle once with ``seed`` and hold the
    first share out, as the notebook's ``make_tf_dataset`` does."""
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
    table: pd.DataFrame, train_matrix: sp.csr_matrix, options: NCFTrainingOptions
) -> tuple[dict[str, Any], int, int]:
    """(fit keyword arguments, train rows per epoch, validation rows) for
    the sampling mode in ``options``."""
    seed, batch_size = options.seed, options.batch_size
    if options.sampling == "all_pairs":
        train, val = _shuffled_split(len(table), options.validation_split, seed)
        users = table["user_id"].to_numpy(np.int32)
        items = table["item_id"].to_numpy(np.int32)
        labels = table["interaction"].to_numpy(np.float32)
        fit_args = {
            "x": _pairs(users[train], items[train]),
            "y": labels[train],
            "validation_data": (_pairs(users[val], items[val]), labels[val]),
            "batch_size": batch_size,
            "shuffle": options.shuffle_each_epoch,
        }
        return fit_args, len(train), len(val)
    # negative sampling
    positives = table[table["interaction"] > 0]
    users = positives["user_id"].to_numpy(np.int32)
    items = positives["item_id"].to_numpy(np.int32)
    train, val = _shuffled_split(len(positives), options.validation_split, seed)
    negatives = options.negatives
    full_batches = options.jit_compile
    sampler = NegativeSampler(
        users[train], items[train], train_matrix, negatives, batch_size, seed,
        full_batches_only=full_batches,
    )  # fmt: skip
    if len(val) == 0:
        return {"x": sampler}, sampler.rows_per_epoch, 0
    held_out = NegativeSampler(
        users[val], items[val], train_matrix, negatives, batch_size, seed + 1,
        resample=False, full_batches_only=full_batches,
    )  # fmt: skip
    fit_args = {"x": sampler, "validation_data": held_out}
    return fit_args, sampler.rows_per_epoch, held_out.rows_per_epoch


class _Throughput(keras.callbacks.Callback):
    """Logs each epoch's loss and training rows per second (validation excluded),
    at DEBUG: the default log has one summary line per training instead."""

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
        logger.debug(
            "NCF epoch %d: loss %.4f, val_loss %.4f, %.0f rows/s",
            epoch + 1,
            logs.get("loss", float("nan")),
            logs.get("val_loss", float("nan")),
            self.rates[-1],
        )


#: Called after each epoch with (epochs done, the model); True stops training.
EpochEnd = Callable[[int, "NeuMF"], bool]


class _EpochEnd(keras.callbacks.Callback):
    """Runs an ``EpochEnd`` function (the tuning's validation ranking, say)
    after each epoch and stops the training when it returns True."""

    def __init__(self, epoch_end: EpochEnd) -> None:
        super().__init__()
        self._epoch_end = epoch_end

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._epoch_end(epoch + 1, self.model):
            self.model.stop_training = True


class _EpochBar(keras.callbacks.Callback):
    """Keras' progress bar over the epochs, with the latest loss and val_loss:
    one line in a terminal, where fit's own bar would print two per epoch."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        # No stateless metrics: show each epoch's values, not their running mean.
        self._bar = keras.utils.Progbar(epochs, unit_name="epoch", stateless_metrics=())
        self._done = 0
        self._values: list[tuple[str, float]] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._bar.update(0)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._done = epoch + 1
        self._values = [(key, float(value)) for key, value in (logs or {}).items()]
        self._bar.update(self._done, self._values)

    def on_train_end(self, logs: dict | None = None) -> None:
        # Early stopping ends short of the target: close the bar's line anyway.
        self._bar.update(self._done, self._values, finalize=True)


def _log_training(
    history: dict[str, list[float]], rates: list[float], seconds: float, epochs: int
) -> None:
    """One INFO line for a finished training: epochs run, last losses, the best
    validation loss and the median throughput of epochs 2 onwards (the first
    compiles)."""
    epochs_run = len(history["loss"])
    val_loss = history.get("val_loss")
    validation = (
        f", val_loss {val_loss[-1]:.4f} (best {min(val_loss):.4f} at epoch "
        f"{val_loss.index(min(val_loss)) + 1})"
        if val_loss
        else ""
    )
    logger.info(
        "NCF trained %d of %d epochs%s in %.1f s: loss %.4f%s, median %.0f rows/s",
        epochs_run,
        epochs,
        " (early stopping)" if epochs_run < epochs else "",
        seconds,
        history["loss"][-1],
        validation,
        statistics.median(rates[1:] or rates),
    )


def train_neumf(
    model_input_table: pd.DataFrame,
    train_matrix: sp.csr_matrix,
    model_options: NCFModelOptions,
    training_options: NCFTrainingOptions,
    epoch_end: EpochEnd | None = None,
) -> tuple[NeuMF, dict[str, Any]]:
    """Build NeuMF for the matrix's users and items and fit it.

    ``training_options.sampling`` chooses the rows: ``all_pairs`` fits the long
    table as it is (the notebook's: every user x item pair labelled 0/1);
    ``negative`` takes the table's positives and draws ``negatives`` unobserved
    items per positive, anew each epoch. Returns the trained model and its
    history (per-epoch metrics, whether EarlyStopping stopped it, throughput).
    ``epoch_end``, if given, runs after every epoch and may stop the training.

    A NaN or infinite loss raises ``DegenerateModelError``; on any failure,
    interruptions included, this run's TensorBoard folder is removed.
    """
    options = training_options
    keras.utils.set_random_seed(options.seed)
    sparse = sparse_updates(
        options.embedding_updates, *train_matrix.shape, options.batch_size
    )
    model = build_neumf(
        *train_matrix.shape,
        **model_options.model_dump(),
        embedding_l2="batch" if sparse else "table",
    )
    optimizer = LazyAdam if sparse else keras.optimizers.Adam
    model.compile(
        optimizer=optimizer(learning_rate=options.learning_rate),
        loss="binary_crossentropy",
        metrics=[
            getattr(keras.metrics, NCF_METRICS[name])(name=name)
            for name in options.metrics
        ],
        jit_compile=options.jit_compile,
        steps_per_execution=options.steps_per_execution,
    )
    fit_args, train_rows, val_rows = _training_data(
        model_input_table, train_matrix, options
    )
    throughput = _Throughput(train_rows)
    callbacks: list[keras.callbacks.Callback] = [throughput]
    if epoch_end is not None:
        callbacks.append(_EpochEnd(epoch_end))
    if sys.stdout.isatty():
        callbacks.append(_EpochBar(options.epochs))
    if val_rows:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=options.early_stopping_patience
            )
        )
    new_log_dir = None  # this run's TensorBoard folder, removed if the run fails
    if options.tensorboard_log_dir:
        # This run's own folder, as given: a Kedro run's is named by its save
        # version (hooks.ProjectPaths). A folder already there is another
        # run's; keep it.
        log_dir = Path(options.tensorboard_log_dir)
        if not log_dir.exists():
            new_log_dir = log_dir
        callbacks.append(
            keras.callbacks.TensorBoard(
                str(log_dir), histogram_freq=options.histogram_freq
            )
        )
        logger.info("TensorBoard logs: %s", log_dir)
    logger.info(
        "Training NCF (%s, %s embedding updates) on %d rows per epoch (%d held out "
        "for validation), batch %d, %d epochs max",
        options.sampling,
        "sparse" if sparse else "dense",
        train_rows,
        val_rows,
        options.batch_size,
        options.epochs,
    )
    start = time.perf_counter()
    try:
        history = model.fit(
            **fit_args, epochs=options.epochs, callbacks=callbacks, verbose=0
        )
        check_finite_history("ncf", {"history": history.history})
    except BaseException:
        # Left behind, a failed or interrupted run's logs show in TensorBoard
        # next to the finished runs, looking like one of them.
        if new_log_dir is not None:
            shutil.rmtree(new_log_dir, ignore_errors=True)
        raise
    _log_training(
        history.history, throughput.rates, time.perf_counter() - start, options.epochs
    )
    epochs_run = len(history.history["loss"])
    return model, {
        "epochs_run": epochs_run,
        "stopped_early": epochs_run < options.epochs,
        "embedding_updates": "sparse" if sparse else "dense",
        "train_rows": train_rows,
        "validation_rows": val_rows,
        "rows_per_second": [round(rate, 1) for rate in throughput.rates],
        "history": {
            key: [float(value) for value in values]
            for key, values in history.history.items()
        },
    }
