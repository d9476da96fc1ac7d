"""EASE (``ncf_movielens.models.ease``): the closed form against a direct
solution, ranking quality against the most-popular baseline, the size guard and
pickling."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from ncf_movielens.metrics import RankingEvaluator
from ncf_movielens.models.ease import EASE, fit_ease
from ncf_movielens.models.most_popular import fit_most_popular
from ncf_movielens.parameter_errors import validate_parameters
from ncf_movielens.parameters import EASEModelOptions
from ncf_movielens.synthetic import make_ratings
from tests.support import project_params


def ease_options(**changes: Any) -> EASEModelOptions:
    """The YAML's EASE options with ``changes``."""
    params = project_params(ease={"model_options": changes})
    return validate_parameters(params).ease.model_options


def test_ease_matches_the_direct_closed_form():
    train = sp.random(12, 6, density=0.4, format="csr", random_state=1)
    train.data[:] = 1
    options = ease_options(l2=10.0)
    model = fit_ease(train, options)
    X = train.toarray().astype(np.float64)
    n_items = X.shape[1]
    G = X.T @ X + options.l2 * np.eye(n_items)
    # Column j of B solves the constrained least squares in closed form:
    # B = I - P diag(1 / diag(P)) with P = G^-1.
    P = np.linalg.solve(G, np.eye(n_items))
    expected = np.eye(n_items) - P / np.diag(P)
    assert model.weights.dtype == np.float32
    np.testing.assert_array_equal(np.diag(model.weights), 0.0)
    np.testing.assert_allclose(model.weights, expected, atol=1e-5)
    users = np.arange(X.shape[0])
    np.testing.assert_allclose(
        model.score_users(users, n_items), X @ expected, atol=1e-5
    )


def _synthetic_split(n_test: int = 3) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Each user's latest ``n_test`` liked items held out, on synthetic ratings
    with structure for a model to find."""
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
    evaluator.update(users, model.score_users(users, train.shape[1]))
    return evaluator.standard_metrics()["precision@5"]


def test_ease_beats_most_popular_on_synthetic_data():
    train, test = _synthetic_split()
    ease = _precision_at_5(fit_ease(train, ease_options(l2=30.0)), train, test)
    popular = _precision_at_5(fit_most_popular(train), train, test)
    assert ease > popular


def test_ease_refuses_too_many_items(train_matrix):
    with pytest.raises(ValueError, match=r"ease\.model_options\.max_items") as info:
        fit_ease(train_matrix, ease_options(max_items=10))
    assert f"has {train_matrix.shape[1]} items" in str(info.value)


def test_ease_round_trips_through_pickle(train_matrix):
    model = fit_ease(train_matrix, ease_options())
    restored = pickle.loads(pickle.dumps(model))
    assert type(restored) is EASE
    users = np.arange(train_matrix.shape[0])
    np.testing.assert_array_equal(
        restored.score_users(users, train_matrix.shape[1]),
        model.score_users(users, train_matrix.shape[1]),
    )
