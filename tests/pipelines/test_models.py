"""NCF and LightFM nodes: the model builds, trains, scores, and reloads from the
catalog's datasets with the same scores."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import scipy.sparse as sp
from kedro_datasets.pickle import PickleDataset
from kedro_datasets.tensorflow import TensorFlowModelDataset
from lightfm import LightFM

from ncf_movielens.pipelines.data_engineering.nodes import matrix_to_long
from ncf_movielens.pipelines.lightfm.nodes import train_lightfm
from ncf_movielens.pipelines.ncf.nodes import NegativeSampler, build_neumf, train_ncf
from ncf_movielens.scoring import iter_user_batches, score_users

MODEL_OPTIONS = {
    "latent_dim_mf": 4,
    "latent_dim_mlp": 8,
    "reg_mf": 0.0,
    "reg_mlp": 0.01,
    "dense_layers": [8, 4],
    "reg_layers": [0.01, 0.01],
    "activation_dense": "relu",
}
TRAINING_OPTIONS = {
    "seed": 42,
    "epochs": 3,
    "batch_size": 256,
    "learning_rate": 0.01,
    "validation_split": 0.1,
    "early_stopping_patience": 2,
    "shuffle_each_epoch": False,
    "metrics": ["accuracy", "auc"],
    "tensorboard_log_dir": None,
    "histogram_freq": 0,
}


@pytest.fixture(scope="module")
def train_matrix() -> sp.csr_matrix:
    rng = np.random.default_rng(1)
    matrix = sp.random(40, 50, density=0.15, format="csr", random_state=rng)
    matrix.data[:] = 1
    return matrix.astype(np.int8)


@pytest.fixture(scope="module")
def trained_ncf(train_matrix):
    table = matrix_to_long(train_matrix, {"mode": "all_pairs"})
    return train_ncf(table, train_matrix, MODEL_OPTIONS, TRAINING_OPTIONS)


def test_neumf_has_both_towers():
    model = build_neumf(10, 20, latent_dim_mf=3, latent_dim_mlp=5, dense_layers=[6, 2])
    names = {layer.name for layer in model.layers}
    assert {
        "mf_user_embedding",
        "mlp_item_embedding",
        "gmf",
        "layer0",
        "layer1",
    } <= names
    assert model.get_layer("mf_user_embedding").input_dim == 10
    assert model.get_layer("mlp_item_embedding").output_dim == 5
    assert model.get_layer("interaction").activation.__name__ == "sigmoid"
    out = model.predict_on_batch(
        {"user_id": np.array([0, 9]), "item_id": np.array([1, 19])}
    )
    assert out.shape == (2, 1)


def test_neumf_refuses_mismatched_layers():
    with pytest.raises(ValueError, match="same length"):
        build_neumf(5, 5, dense_layers=[8, 4], reg_layers=[0.01])


def test_train_ncf_returns_model_and_history(trained_ncf, train_matrix):
    model, history = trained_ncf
    assert isinstance(model, keras.Model)
    assert history["epochs_run"] == len(history["history"]["loss"]) <= 3
    assert history["train_rows"] + history["validation_rows"] == 40 * 50
    assert history["validation_rows"] == 200
    assert {"loss", "val_loss", "auc", "val_auc"} <= set(history["history"])
    assert history["history"]["loss"][-1] < history["history"]["loss"][0]
    scores = score_users(model, np.arange(40), 50)
    assert scores.shape == (40, 50) and scores.dtype == np.float32
    assert np.all((scores >= 0) & (scores <= 1))


def test_train_ncf_is_repeatable(train_matrix, trained_ncf):
    table = matrix_to_long(train_matrix, {"mode": "all_pairs"})
    model, _ = train_ncf(table, train_matrix, MODEL_OPTIONS, TRAINING_OPTIONS)
    np.testing.assert_allclose(
        score_users(model, np.arange(40), 50),
        score_users(trained_ncf[0], np.arange(40), 50),
        atol=1e-5,
    )


def test_ncf_scores_match_keras_predict(trained_ncf):
    model, _ = trained_ncf
    users = np.array([3, 7])
    scores = score_users(model, users, 50)
    direct = model.predict(
        {"user_id": np.repeat(users, 50), "item_id": np.tile(np.arange(50), 2)},
        verbose=0,
    ).reshape(2, 50)
    np.testing.assert_allclose(scores, direct, atol=1e-6)


def test_saved_ncf_model_reloads_with_same_scores(trained_ncf, tmp_path):
    model, _ = trained_ncf
    dataset = TensorFlowModelDataset(filepath=str(tmp_path / "ncf_model.keras"))
    dataset.save(model)
    reloaded = dataset.load()  # safe_mode=True: only built-in Keras objects
    np.testing.assert_array_equal(
        score_users(reloaded, np.arange(40), 50), score_users(model, np.arange(40), 50)
    )


def test_lightfm_trains_scores_and_reloads(train_matrix, tmp_path):
    options = {"loss": "warp", "no_components": 5, "learning_rate": 0.05}
    model = train_lightfm(
        train_matrix, options, {"seed": 3, "epochs": 5, "num_threads": 1}
    )
    assert isinstance(model, LightFM)
    scores = score_users(model, np.arange(40), 50)
    users = np.repeat(np.arange(40), 50).astype(np.int32)
    items = np.tile(np.arange(50), 40).astype(np.int32)
    np.testing.assert_allclose(
        scores, model.predict(users, items).reshape(40, 50), rtol=1e-5, atol=1e-5
    )
    dataset = PickleDataset(filepath=str(tmp_path / "lightfm.pkl"))
    dataset.save(model)
    np.testing.assert_array_equal(
        score_users(dataset.load(), np.arange(40), 50), scores
    )


def test_user_batches_cover_every_user_once(train_matrix):
    model = train_lightfm(
        train_matrix,
        {"loss": "warp", "no_components": 4, "learning_rate": 0.05},
        {"seed": 0, "epochs": 1, "num_threads": 1},
    )
    batches = list(iter_user_batches(model, 40, 50, batch_size=16))
    assert [len(users) for users, _ in batches] == [16, 16, 8]
    np.testing.assert_array_equal(
        np.vstack([scores for _, scores in batches]),
        score_users(model, np.arange(40), 50),
    )


def test_unknown_model_type_is_refused():
    with pytest.raises(TypeError, match="don't know how to score a dict"):
        score_users({}, np.arange(2), 3)


def test_negative_sampler_draws_unobserved_items_each_epoch(train_matrix):
    coo = train_matrix.tocoo()
    sampler = NegativeSampler(coo.row, coo.col, train_matrix, 3, 100, seed=0)
    assert len(sampler.y) == 4 * train_matrix.nnz
    assert sampler.y.sum() == train_matrix.nnz
    negatives = sampler.y == 0
    users, items = sampler.x["user_id"][negatives], sampler.x["item_id"][negatives]
    assert not np.asarray(train_matrix[users, items]).any()
    assert len(sampler) == -(-len(sampler.y) // 100)
    x, y = sampler[len(sampler) - 1]
    assert len(y) == len(sampler.y) % 100 or len(y) == 100
    first = sampler.x["item_id"].copy()
    sampler.on_epoch_end()
    assert not np.array_equal(first, sampler.x["item_id"])
    fixed = NegativeSampler(
        coo.row, coo.col, train_matrix, 3, 100, seed=0, resample=False
    )
    before = fixed.x["item_id"].copy()
    fixed.on_epoch_end()
    np.testing.assert_array_equal(before, fixed.x["item_id"])


def test_negative_sampler_redraws_clashes_in_a_dense_catalogue(monkeypatch):
    # Half of all pairs are positives, so half the first draws clash and are redrawn;
    # a small chunk makes the membership check run over several chunks.
    monkeypatch.setattr("ncf_movielens.pipelines.ncf.nodes._CHUNK", 64)
    rng = np.random.default_rng(3)
    dense = sp.csr_matrix((rng.random((30, 20)) < 0.5).astype(np.float32))
    coo = dense.tocoo()
    sampler = NegativeSampler(coo.row, coo.col, dense, 2, 50, seed=1)
    negatives = sampler.y == 0
    users, items = sampler.x["user_id"][negatives], sampler.x["item_id"][negatives]
    assert negatives.sum() == 2 * dense.nnz
    # A first draw clashes about half the time; after ten redraws of only the
    # clashing rows, a clash is left with chance (user's density)**11.
    clashing = np.asarray(dense[users, items]).ravel() > 0
    assert clashing.mean() < 0.02
    assert sampler._is_known(users, items).tolist() == clashing.tolist()


def test_train_ncf_with_negative_sampling(train_matrix):
    table = matrix_to_long(train_matrix, {"mode": "positives"})
    options = {
        **TRAINING_OPTIONS,
        "sampling": "negative",
        "negatives": 4,
        "jit_compile": True,
        "steps_per_execution": 4,
        "epochs": 8,
        "batch_size": 128,
        "learning_rate": 0.02,
    }
    model, history = train_ncf(table, train_matrix, MODEL_OPTIONS, options)
    n_val = round(train_matrix.nnz * 0.1)
    # jit_compile: only full batches of 128 rows, so one shape is compiled.
    assert history["train_rows"] == 5 * (train_matrix.nnz - n_val) // 128 * 128
    assert history["validation_rows"] == 5 * n_val // 128 * 128
    assert len(history["rows_per_second"]) == history["epochs_run"]
    scores = score_users(model, np.arange(40), 50)
    seen = train_matrix.toarray().astype(bool)
    assert scores[seen].mean() > scores[~seen].mean() + 0.05  # it learned


def test_unknown_sampling_mode_is_refused(train_matrix):
    table = matrix_to_long(train_matrix, {"mode": "positives"})
    with pytest.raises(ValueError, match="sampling 'some' is unknown"):
        train_ncf(
            table, train_matrix, MODEL_OPTIONS, {**TRAINING_OPTIONS, "sampling": "some"}
        )
