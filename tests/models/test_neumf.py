"""NeuMF (``ncf_movielens.models.neumf``): the builder, the negative sampler, and
training: early stopping, learning, the configured metrics, repeatability, a
saved model that reloads as itself with the same scores, what training prints,
and a failed run that leaves no TensorBoard logs."""

from __future__ import annotations

import inspect
import logging
import sys
from typing import Any

import keras
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import tensorflow as tf
from kedro_datasets.tensorflow import TensorFlowModelDataset

from ncf_movielens.models import neumf
from ncf_movielens.models.checks import DegenerateModelError
from ncf_movielens.models.lazy_adam import LazyAdam
from ncf_movielens.models.neumf import (
    LookedUpL2Embedding,
    NegativeSampler,
    NeuMF,
    build_neumf,
    sparse_updates,
    train_neumf,
)
from ncf_movielens.parameters import Parameters
from ncf_movielens.pipelines.data_engineering.nodes import matrix_to_long
from tests.support import ncf_params, project_params


def model_input_table(matrix: sp.csr_matrix, params: Parameters) -> pd.DataFrame:
    return matrix_to_long(matrix, params.reshape_options)


def train(matrix: sp.csr_matrix, params: Parameters) -> tuple[NeuMF, dict[str, Any]]:
    return train_neumf(
        model_input_table(matrix, params),
        matrix,
        params.ncf.model_options,
        params.ncf.training_options,
    )


def pairwise_accuracy(model: NeuMF, matrix: sp.csr_matrix) -> float:
    """How often a user's train positive outscores one of their unobserved
    items, averaged over users (AUC on the data the model saw)."""
    scores = model.score_users(np.arange(matrix.shape[0]), matrix.shape[1])
    seen = matrix.toarray().astype(bool)
    return float(
        np.mean(
            [
                (row[mask][:, None] > row[~mask][None, :]).mean()
                for row, mask in zip(scores, seen, strict=True)
                if mask.any()
            ]
        )
    )


# --- The builder ---------------------------------------------------------------


def test_neumf_has_both_towers():
    model = build_neumf(10, 20, latent_dim_mf=3, latent_dim_mlp=5, dense_layers=[6, 2])
    assert isinstance(model, NeuMF)
    assert model.get_layer("mf_user_embedding").input_dim == 10
    assert model.get_layer("mf_item_embedding").input_dim == 20
    assert model.get_layer("mf_user_embedding").output_dim == 3
    assert model.get_layer("mlp_item_embedding").output_dim == 5
    assert [model.get_layer(f"layer{i}").units for i in (0, 1)] == [6, 2]
    assert model.get_layer("interaction").activation.__name__ == "sigmoid"
    out = model.predict_on_batch(
        {"user_id": np.array([0, 9]), "item_id": np.array([1, 19])}
    )
    assert out.shape == (2, 1)


def test_builder_defaults_are_the_seeds_architecture():
    """``build_neumf``'s defaults are the notebook's, the ones conf/notebook sets."""
    seed = project_params("notebook")["ncf"]["model_options"]
    defaults = {
        name: list(p.default) if isinstance(p.default, tuple) else p.default
        for name, p in inspect.signature(build_neumf).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    # The notebook's penalty on whole tables; training_options.embedding_updates
    # chooses it, not model_options.
    assert defaults.pop("embedding_l2") == "table"
    assert defaults == seed


def test_neumf_refuses_mismatched_layers():
    with pytest.raises(ValueError, match="same length"):
        build_neumf(5, 5, dense_layers=[8, 4], reg_layers=[0.01])


# --- The negative sampler --------------------------------------------------------


def negative_pairs(sampler: NegativeSampler) -> tuple[np.ndarray, np.ndarray]:
    negative = sampler.y == 0
    return sampler.x["user_id"][negative], sampler.x["item_id"][negative]


def test_every_draw_has_only_unobserved_negatives_in_proportion(train_matrix):
    coo = train_matrix.tocoo()
    n_users = train_matrix.shape[0]
    sampler = NegativeSampler(coo.row, coo.col, train_matrix, 3, 100, seed=0)
    train_pairs = sorted(zip(coo.row.tolist(), coo.col.tolist(), strict=True))
    draws = []
    for _ in range(4):  # the first draw and three redraws
        users, items = negative_pairs(sampler)
        assert not np.asarray(train_matrix[users, items]).any()
        np.testing.assert_array_equal(
            np.bincount(users, minlength=n_users),
            3 * np.bincount(coo.row, minlength=n_users),
        )
        positive = sampler.y == 1
        assert (
            sorted(
                zip(
                    sampler.x["user_id"][positive].tolist(),
                    sampler.x["item_id"][positive].tolist(),
                    strict=True,
                )
            )
            == train_pairs
        )
        draws.append(set(zip(users.tolist(), items.tolist(), strict=True)))
        sampler.on_epoch_end()
    # New negatives each epoch, not the same ones in another order.
    for before, after in zip(draws, draws[1:], strict=False):
        assert before != after


def test_a_fixed_sampler_keeps_its_draw(train_matrix):
    coo = train_matrix.tocoo()
    fixed = NegativeSampler(
        coo.row, coo.col, train_matrix, 3, 100, seed=0, resample=False
    )
    users, items = negative_pairs(fixed)
    before = set(zip(users.tolist(), items.tolist(), strict=True))
    order = fixed.x["item_id"].copy()
    fixed.on_epoch_end()
    users, items = negative_pairs(fixed)
    assert set(zip(users.tolist(), items.tolist(), strict=True)) == before
    np.testing.assert_array_equal(order, fixed.x["item_id"])


def test_batches_cover_the_epoch(train_matrix):
    coo = train_matrix.tocoo()
    sampler = NegativeSampler(coo.row, coo.col, train_matrix, 3, 128, seed=0)
    rows = 4 * train_matrix.nnz
    assert len(sampler) == -(-rows // 128)
    batches = [sampler[index] for index in range(len(sampler))]
    assert [len(y) for _, y in batches] == [128] * (len(sampler) - 1) + [
        rows - 128 * (len(sampler) - 1)
    ]
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), sampler.y)
    assert sampler.rows_per_epoch == rows


def test_full_batches_only_drops_the_last_partial_batch(train_matrix):
    coo = train_matrix.tocoo()
    sampler = NegativeSampler(
        coo.row, coo.col, train_matrix, 3, 128, seed=0, full_batches_only=True
    )
    rows = 4 * train_matrix.nnz
    assert rows % 128  # else there is no partial batch to drop
    assert len(sampler) == rows // 128
    assert {len(sampler[index][1]) for index in range(len(sampler))} == {128}
    assert sampler.rows_per_epoch == rows // 128 * 128


def test_xla_training_uses_full_batches_only(train_matrix):
    """With jit_compile the epoch has one batch shape (XLA compiles it once)."""
    params = ncf_params(jit_compile=True, batch_size=128, negatives=4)
    _, train_rows, val_rows = neumf._training_data(
        model_input_table(train_matrix, params),
        train_matrix,
        params.ncf.training_options,
    )
    n_val = round(train_matrix.nnz * params.ncf.training_options.validation_split)
    assert train_rows == 5 * (train_matrix.nnz - n_val) // 128 * 128
    assert val_rows == 5 * n_val // 128 * 128


def test_negative_sampler_redraws_clashes_in_a_dense_catalogue(monkeypatch):
    # Half of all pairs are positives, so half the first draws clash and are redrawn;
    # a small chunk makes the membership check run over several chunks.
    monkeypatch.setattr(neumf, "_CHUNK", 64)
    rng = np.random.default_rng(3)
    dense = sp.csr_matrix((rng.random((30, 20)) < 0.5).astype(np.float32))
    coo = dense.tocoo()
    sampler = NegativeSampler(coo.row, coo.col, dense, 2, 50, seed=1)
    users, items = negative_pairs(sampler)
    assert len(users) == 2 * dense.nnz
    # A first draw clashes about half the time; after ten redraws of only the
    # clashing rows, a clash is left with chance (user's density)**11.
    clashing = np.asarray(dense[users, items]).ravel() > 0
    assert clashing.mean() < 0.02
    assert sampler._is_known(users, items).tolist() == clashing.tolist()


# --- Training --------------------------------------------------------------------


#: The training of ``learned``: negative sampling and two extra metrics.
LEARNED = {
    "epochs": 6,
    "batch_size": 128,
    "steps_per_execution": 4,
    "learning_rate": 0.03,
    "metrics": ["accuracy", "auc"],
}


@pytest.fixture(scope="module")
def learned(train_matrix) -> tuple[NeuMF, dict[str, Any], Parameters]:
    """NeuMF trained with negative sampling and two extra metrics."""
    params = ncf_params(**LEARNED)
    return (*train(train_matrix, params), params)


@pytest.fixture(scope="module")
def overfit(train_matrix) -> tuple[NeuMF, dict[str, Any], Parameters]:
    """NeuMF fitted on every pair of a random matrix with patience 0: the labels
    are noise, so the validation loss soon rises and training stops."""
    params = ncf_params(
        sampling="all_pairs",
        epochs=10,
        early_stopping_patience=0,
        learning_rate=0.05,
        batch_size=64,
        metrics=[],
    )
    return (*train(train_matrix, params), params)


def test_history_has_exactly_the_configured_metrics(learned, overfit):
    _, history, _ = learned
    assert set(history["history"]) == {
        "loss",
        "val_loss",
        "accuracy",
        "val_accuracy",
        "auc",
        "val_auc",
    }
    assert set(overfit[1]["history"]) == {"loss", "val_loss"}


def test_negative_sampling_rows_per_epoch(learned, train_matrix):
    _, history, params = learned
    n_val = round(train_matrix.nnz * params.ncf.training_options.validation_split)
    # Every positive and 4 negatives per positive, split before sampling.
    assert history["train_rows"] == 5 * (train_matrix.nnz - n_val)
    assert history["validation_rows"] == 5 * n_val
    assert len(history["rows_per_second"]) == history["epochs_run"]


def test_training_ranks_train_positives_above_unobserved_items(learned, train_matrix):
    model, _, params = learned
    keras.utils.set_random_seed(params.ncf.training_options.seed)
    untrained = build_neumf(
        *train_matrix.shape, **params.ncf.model_options.model_dump()
    )
    assert abs(pairwise_accuracy(untrained, train_matrix) - 0.5) < 0.1
    assert pairwise_accuracy(model, train_matrix) > (
        pairwise_accuracy(untrained, train_matrix) + 0.15
    )


def test_early_stopping_stops_at_the_first_epoch_without_improvement(overfit):
    _, history, params = overfit
    val_loss = history["history"]["val_loss"]
    # patience 0: stop after the first epoch whose val_loss is no new minimum.
    first_worse = next(
        epoch
        for epoch in range(1, len(val_loss))
        if val_loss[epoch] >= min(val_loss[:epoch])
    )
    assert history["epochs_run"] == first_worse + 1
    assert history["epochs_run"] < params.ncf.training_options.epochs
    assert history["stopped_early"] is True


def test_all_pairs_holds_out_a_share_of_every_pair(overfit, train_matrix):
    _, history, _ = overfit
    n_pairs = train_matrix.shape[0] * train_matrix.shape[1]
    assert history["validation_rows"] == round(0.1 * n_pairs)
    assert history["train_rows"] == n_pairs - history["validation_rows"]


def test_training_is_repeatable(overfit, train_matrix):
    model, history, params = overfit
    again, again_history = train(train_matrix, params)
    for key, values in history["history"].items():
        assert again_history["history"][key] == pytest.approx(values, abs=1e-6)
    users = np.arange(train_matrix.shape[0])
    np.testing.assert_allclose(
        again.score_users(users, train_matrix.shape[1]),
        model.score_users(users, train_matrix.shape[1]),
        atol=1e-5,
    )


def test_scores_in_chunks_match_keras_predict(overfit, monkeypatch):
    model, _, _ = overfit
    monkeypatch.setattr(neumf, "_MAX_PAIRS", 120)  # two users per forward pass
    users = np.array([3, 7, 11, 0, 39])
    scores = model.score_users(users, 50)
    direct = model.predict(
        {"user_id": np.repeat(users, 50), "item_id": np.tile(np.arange(50), 5)},
        verbose=0,
    ).reshape(5, 50)
    assert scores.dtype == np.float32
    np.testing.assert_allclose(scores, direct, atol=1e-6)


def test_saved_model_reloads_as_neumf_with_the_same_scores(overfit, tmp_path):
    model, _, _ = overfit
    dataset = TensorFlowModelDataset(filepath=str(tmp_path / "ncf_model.keras"))
    dataset.save(model)
    reloaded = dataset.load()  # safe_mode=True: NeuMF is registered serializable
    assert type(reloaded) is NeuMF
    users = np.arange(40)
    np.testing.assert_array_equal(
        reloaded.score_users(users, 50), model.score_users(users, 50)
    )


# --- Embedding updates: dense (the notebook's), sparse, or chosen by size -------


def test_auto_goes_sparse_once_the_tables_exceed_four_batches():
    assert not sparse_updates("auto", 943, 1682, 16384)  # ml-100k
    assert not sparse_updates("auto", 6502, 11809, 16384)  # 1M synthetic
    assert not sparse_updates("auto", 32508, 26407, 16384)  # 5M synthetic: a tie
    assert sparse_updates("auto", 162540, 59047, 16384)  # MovieLens 25M's shape
    assert sparse_updates("sparse", 10, 10, 16384)
    assert not sparse_updates("dense", 10**6, 10**6, 16)


def test_the_looked_up_rows_penalty_counts_each_row_once():
    layer = LookedUpL2Embedding(5, 2, row_l2=0.1)
    ids = np.array([3, 1, 3, 3], np.int32)
    with tf.GradientTape() as tape:
        layer(ids)
        penalty = sum(layer.losses)
    table = layer.embeddings.numpy()
    expected = 0.1 * (np.square(table[1]).sum() + np.square(table[3]).sum())
    assert float(penalty) == pytest.approx(expected, rel=1e-5)
    # On a looked-up row, the gradient a table-wide l2(0.1) gives; none elsewhere.
    gradient = tf.convert_to_tensor(tape.gradient(penalty, layer.embeddings.value))
    np.testing.assert_allclose(gradient.numpy()[[1, 3]], 0.2 * table[[1, 3]], rtol=1e-5)
    assert not gradient.numpy()[[0, 2, 4]].any()
    copy = LookedUpL2Embedding.from_config(layer.get_config())
    assert copy.row_l2 == pytest.approx(0.1)


def test_sparse_updates_learn_like_dense_ones(learned, train_matrix):
    dense_model, dense_history, _ = learned
    params = ncf_params(**LEARNED, embedding_updates="sparse")
    model, history = train(train_matrix, params)
    assert (history["embedding_updates"], dense_history["embedding_updates"]) == (
        "sparse",
        "dense",
    )
    assert isinstance(model.optimizer, LazyAdam)
    embedding = model.get_layer("mlp_user_embedding")
    assert isinstance(embedding, LookedUpL2Embedding)
    assert embedding.embeddings_regularizer is None
    assert embedding.row_l2 == params.ncf.model_options.reg_mlp
    assert pairwise_accuracy(model, train_matrix) > (
        pairwise_accuracy(dense_model, train_matrix) - 0.05
    )


# --- What training prints: one summary line; a progress bar in a terminal only ---


def test_training_logs_one_summary_line_and_each_epoch_at_debug(
    train_matrix, caplog, capsys
):
    caplog.set_level(logging.DEBUG, logger="ncf_movielens.models.neumf")
    _, history = train(train_matrix, ncf_params(epochs=2))

    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(info) == 2 and info[0].startswith(
        "Training NCF (negative, dense embedding updates) on "
    )
    assert info[1].startswith("NCF trained 2 of 2 epochs in ")
    assert f"val_loss {history['history']['val_loss'][-1]:.4f}" in info[1]
    assert [m.split(":")[0] for m in debug] == ["NCF epoch 1", "NCF epoch 2"]
    assert capsys.readouterr().out == ""  # not a terminal: no progress bar


def test_a_terminal_gets_one_progress_bar_line(
    overfit, train_matrix, capsys, monkeypatch
):
    _, _, params = overfit  # stops early: the bar ends short of its target
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    _, history = train(train_matrix, params)

    out = capsys.readouterr().out
    epochs = params.ncf.training_options.epochs
    assert history["epochs_run"] < epochs
    assert out.count("\n") == 1 and out.endswith("\n")
    last = out.rsplit("\r", 1)[-1]
    assert f"{history['epochs_run']}/{epochs}" in last
    assert f"val_loss: {history['history']['val_loss'][-1]:.4f}" in last


# --- TensorBoard logs: kept for a run that succeeds, removed for one that fails ---


def test_a_successful_run_keeps_its_logs(train_matrix, tmp_path):
    """The logs go to the folder given, as is (a Kedro run names it by its
    save version, hooks.ProjectPaths)."""
    run = tmp_path / "run"
    train(train_matrix, ncf_params(epochs=1, tensorboard_log_dir=str(run)))
    assert list(tmp_path.iterdir()) == [run]
    assert list(run.rglob("events.out.tfevents.*"))


def test_a_nan_loss_is_refused_and_leaves_no_logs(train_matrix, tmp_path):
    params = ncf_params(
        epochs=3, learning_rate=1e30, tensorboard_log_dir=str(tmp_path / "run")
    )  # the weights blow up
    with pytest.raises(DegenerateModelError, match=r"^ncf: loss is nan at epoch 1 "):
        train(train_matrix, params)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_run_leaves_no_logs(train_matrix, tmp_path, monkeypatch):
    def interrupt(self, epoch, logs=None):
        assert list(tmp_path.rglob("events.out.tfevents.*"))  # logs were written
        raise KeyboardInterrupt

    monkeypatch.setattr(neumf._Throughput, "on_epoch_end", interrupt)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(train_matrix, ncf_params(epochs=2, tensorboard_log_dir=str(run)))
    assert list(tmp_path.iterdir()) == []


def test_a_failed_run_keeps_an_older_run_of_the_same_name(train_matrix, tmp_path):
    older = tmp_path / "run" / "older.txt"
    older.parent.mkdir()
    older.write_text("another run's logs")
    with pytest.raises(DegenerateModelError):
        train(
            train_matrix,
            ncf_params(
                epochs=1, learning_rate=1e30, tensorboard_log_dir=str(older.parent)
            ),
        )
    assert older.read_text() == "another run's logs"
