"""The most-popular and EASE baselines: closed form, ranking quality on
synthetic data, the size guard, pickling and their Kedro pipelines."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from ncf_movielens.metrics import RankingEvaluator
from ncf_movielens.pipelines.ease import create_pipeline as create_ease_pipeline
from ncf_movielens.pipelines.ease.nodes import EASE, fit_ease
from ncf_movielens.pipelines.most_popular import (
    create_pipeline as create_most_popular_pipeline,
)
from ncf_movielens.pipelines.most_popular.nodes import MostPopular, fit_most_popular
from ncf_movielens.scoring import score_users
from ncf_movielens.synthetic import make_ratings

OPTIONS = {"l2": 10.0, "max_items": 1000}


def random_binary(n_users: int, n_items: int, density: float, seed: int = 0):
    matrix = sp.random(
        n_users, n_items, density=density, format="csr", random_state=seed
    )
    matrix.data[:] = 1
    return matrix.astype(np.int8)


@pytest.fixture
def train() -> sp.csr_matrix:
    return random_binary(40, 25, 0.2)


def test_most_popular_scores_are_column_sums(train):
    model = fit_most_popular(train)
    users = np.arange(train.shape[0])
    scores = score_users(model, users, train.shape[1])
    column_sums = np.asarray(train.sum(axis=0, dtype=np.float64)).ravel()
    assert model.counts.dtype == np.float32
    assert scores.shape == train.shape
    np.testing.assert_array_equal(scores, np.tile(column_sums, (len(users), 1)))


def test_ease_matches_direct_closed_form():
    train = random_binary(12, 6, 0.4, seed=1)
    model = fit_ease(train, OPTIONS)
    X = train.toarray().astype(np.float64)
    n_items = X.shape[1]
    G = X.T @ X + OPTIONS["l2"] * np.eye(n_items)
    # Column j of B solves the constrained least squares in closed form:
    # B = I - P diag(1 / diag(P)) with P = G^-1.
    P = np.linalg.solve(G, np.eye(n_items))
    expected = np.eye(n_items) - P / np.diag(P)
    assert model.weights.dtype == np.float32
    np.testing.assert_array_equal(np.diag(model.weights), 0.0)
    np.testing.assert_allclose(model.weights, expected, atol=1e-5)
    users = np.arange(X.shape[0])
    np.testing.assert_allclose(
        score_users(model, users, n_items), X @ expected, atol=1e-5
    )


def test_ease_zero_diagonal_on_random_matrix(train):
    model = fit_ease(train, OPTIONS)
    assert model.weights.shape == (train.shape[1], train.shape[1])
    np.testing.assert_array_equal(np.diag(model.weights), 0.0)


def _synthetic_split(n_test: int = 3) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    n_users, n_items = 150, 120
    ratings = make_ratings(n_users, n_items, 4000, seed=0)
    liked = ratings[ratings["rating"] >= 3].sort_values(["user_id", "timestamp"])
    newest_first = liked.groupby("user_id").cumcount(ascending=False).to_numpy()
    is_test = newest_first < n_test

    def matrix(part):
        return sp.csr_matrix(
            (
                np.ones(len(part), dtype=np.int8),
                (part["user_id"] - 1, part["item_id"] - 1),
            ),
            shape=(n_users, n_items),
        )

    return matrix(liked[~is_test]), matrix(liked[is_test])


def _precision_at_5(model, train, test) -> float:
    evaluator = RankingEvaluator(train, test)
    users = np.arange(train.shape[0])
    evaluator.update(users, score_users(model, users, train.shape[1]))
    return evaluator.standard_metrics()["precision@5"]


def test_ease_beats_most_popular_on_synthetic_data():
    train, test = _synthetic_split()
    ease = _precision_at_5(
        fit_ease(train, {"l2": 30.0, "max_items": 1000}), train, test
    )
    popular = _precision_at_5(fit_most_popular(train), train, test)
    assert ease > popular


def test_ease_refuses_too_many_items(train):
    with pytest.raises(ValueError, match=r"ease\.model_options\.max_items") as info:
        fit_ease(train, {"l2": 1.0, "max_items": 10})
    assert str(train.shape[1]) in str(info.value)


@pytest.mark.parametrize(
    "fit",
    [fit_most_popular, lambda matrix: fit_ease(matrix, OPTIONS)],
    ids=["most_popular", "ease"],
)
def test_models_round_trip_through_pickle(train, fit):
    model = fit(train)
    restored = pickle.loads(pickle.dumps(model))
    users = np.arange(train.shape[0])
    np.testing.assert_array_equal(
        score_users(restored, users, train.shape[1]),
        score_users(model, users, train.shape[1]),
    )


def _run(pipeline, catalog) -> dict:
    outputs = SequentialRunner().run(pipeline, catalog)
    return {
        name: value.load() if hasattr(value, "load") else value
        for name, value in outputs.items()
    }


def test_most_popular_pipeline_runs(train):
    pipeline = create_most_popular_pipeline()
    assert [n.name for n in pipeline.nodes] == ["most_popular.train_model"]
    catalog = DataCatalog({"train_matrix": MemoryDataset(train)})
    outputs = _run(pipeline, catalog)
    assert isinstance(outputs["most_popular.model"], MostPopular)


def test_ease_pipeline_runs(train):
    pipeline = create_ease_pipeline()
    assert [n.name for n in pipeline.nodes] == ["ease.train_model"]
    assert pipeline.inputs() == {"train_matrix", "params:ease.model_options"}
    catalog = DataCatalog(
        {
            "train_matrix": MemoryDataset(train),
            "params:ease.model_options": MemoryDataset(OPTIONS),
        }
    )
    outputs = _run(pipeline, catalog)
    model = outputs["ease.model"]
    assert isinstance(model, EASE)
    np.testing.assert_array_equal(np.diag(model.weights), 0.0)
