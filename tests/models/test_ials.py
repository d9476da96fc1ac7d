"""iALS (``ncf_movielens.models.ials``): the wrapper fits what implicit fits,
scores as implicit's ``recommend`` does, follows its seed (and not its thread
count), reloads from a pickle and finds a planted structure."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import threadpoolctl
from implicit.cpu.als import AlternatingLeastSquares

from ncf_movielens.datasets import PickleModelDataset
from ncf_movielens.models.ials import IALSRecommender, fit_ials
from ncf_movielens.parameters import IALSParameters
from tests.support import project_params

#: On matrices this small, the YAML's alpha 1 (interactions weigh as much as
#: missing pairs) with regularization 10 shrinks every factor to ~0; alpha 10
#: gives a model whose scores are of order 1. None of these is implicit's default.
MODEL = {"factors": 8, "alpha": 10.0, "iterations": 5}


def ials_params(**training: Any) -> IALSParameters:
    """The YAML's iALS options, ``MODEL`` and ``training`` changes (only the
    ``ials`` group validated, as Kedro validates a node's parameters)."""
    changes = {"model_options": MODEL, "training_options": training}
    return IALSParameters.model_validate(project_params(ials=changes)["ials"])


def fit(train_matrix, **training: Any) -> IALSRecommender:
    params = ials_params(**training)
    return fit_ials(train_matrix, params.model_options, params.training_options)


def all_scores(model: IALSRecommender, matrix: sp.csr_matrix) -> np.ndarray:
    return model.score_users(np.arange(matrix.shape[0]), matrix.shape[1])


def test_the_factors_are_implicits_with_the_same_options(train_matrix):
    params = ials_params()
    options, training = params.model_options, params.training_options
    model = fit(train_matrix)
    with threadpoolctl.threadpool_limits(1, "blas"):  # as implicit advises
        direct = AlternatingLeastSquares(
            factors=options.factors,
            regularization=options.regularization,
            alpha=options.alpha,
            iterations=options.iterations,
            num_threads=training.num_threads,
            random_state=training.seed,
        )
        direct.fit(sp.csr_matrix(train_matrix, dtype=np.float32), show_progress=False)
    assert model.user_factors.dtype == model.item_factors.dtype == np.float32
    assert model.user_factors.shape == (train_matrix.shape[0], options.factors)
    assert model.item_factors.shape == (train_matrix.shape[1], options.factors)
    np.testing.assert_array_equal(model.user_factors, direct.user_factors)
    np.testing.assert_array_equal(model.item_factors, direct.item_factors)


def test_scores_are_implicit_recommend(train_matrix):
    model = fit(train_matrix)
    n_users, n_items = train_matrix.shape
    scores = all_scores(model, train_matrix)
    assert scores.dtype == np.float32
    assert scores.shape == (n_users, n_items)
    reference = AlternatingLeastSquares(factors=model.user_factors.shape[1])
    reference.user_factors = model.user_factors
    reference.item_factors = model.item_factors
    ids, ranked = reference.recommend(
        np.arange(n_users), None, N=n_items, filter_already_liked_items=False
    )
    expected = np.empty_like(scores)
    np.put_along_axis(expected, ids, ranked, axis=1)
    assert np.abs(scores).max() > 0.1
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        model.score_users(np.array([3, 0]), 7), scores[[3, 0], :7], rtol=1e-6
    )


def test_the_seed_decides_the_model(train_matrix):
    first = all_scores(fit(train_matrix, seed=3), train_matrix)
    np.testing.assert_array_equal(
        all_scores(fit(train_matrix, seed=3), train_matrix), first
    )
    assert not np.allclose(all_scores(fit(train_matrix, seed=4), train_matrix), first)


def test_more_threads_fit_the_same_model(train_matrix):
    # Each user's (item's) solve reads only the other side's factors.
    np.testing.assert_array_equal(
        all_scores(fit(train_matrix, num_threads=2), train_matrix),
        all_scores(fit(train_matrix, num_threads=1), train_matrix),
    )


def test_pickled_model_reloads_with_the_same_scores(train_matrix, tmp_path):
    model = fit(train_matrix)
    dataset = PickleModelDataset(filepath=str(tmp_path / "ials.pkl"))
    dataset.save(model)
    reloaded = dataset.load()
    assert type(reloaded) is IALSRecommender
    np.testing.assert_array_equal(
        all_scores(reloaded, train_matrix), all_scores(model, train_matrix)
    )


def test_a_planted_structure_ranks_its_held_out_items_first():
    # Two groups of 30 users, each liking its own 20 of the 40 items; half of
    # each user's group items are in train, the other half held out.
    rng = np.random.default_rng(0)
    group = np.repeat([0, 1], 30)
    in_group = group[:, None] == np.repeat([0, 1], 20)[None, :]
    seen = in_group & (rng.random(in_group.shape) < 0.5)
    train = sp.csr_matrix(seen.astype(np.int8))
    scores = all_scores(fit(train), train)
    held_out, other = in_group & ~seen, ~in_group
    # Per user: how often a held-out group item beats an item of the other group.
    auc = np.mean(
        [
            np.mean(scores[u, held_out[u]][:, None] > scores[u, other[u]][None, :])
            for u in range(len(scores))
        ]
    )
    assert auc > 0.95
