"""Evaluation's nodes: a fixed user sample shared by every model, and the checks
that refuse a degenerate model (non-finite or flat scores, the same top-k for
everyone) with the model's label."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from ncf_movielens.models.checks import DegenerateModelError
from ncf_movielens.models.most_popular import fit_most_popular
from ncf_movielens.parameters import EvaluationOptions
from ncf_movielens.pipelines.evaluation.nodes import (
    evaluate_model_as,
    evaluate_other_seeds_as,
    evaluated_users,
    measure,
)
from tests.support import project_options


def evaluation_options(**changes: Any) -> EvaluationOptions:
    return project_options(EvaluationOptions, "evaluation_options", **changes)


class Fixed:
    """A model whose scores are a given users x items table; it records the
    users it was asked to score."""

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores
        self.scored: list[int] = []

    def score_users(self, users: np.ndarray, n_items: int) -> np.ndarray:
        self.scored += np.asarray(users).tolist()
        return self.scores[users, :n_items]


def personal_scores(n_users: int, n_items: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n_users, n_items)).astype(np.float32)


def test_evaluated_users_are_all_or_a_fixed_sample():
    np.testing.assert_array_equal(evaluated_users(30, None), np.arange(30))
    np.testing.assert_array_equal(evaluated_users(30, 30), np.arange(30))
    sample = evaluated_users(30, 10)
    assert len(np.unique(sample)) == 10 and 0 <= sample.min() and sample.max() < 30
    np.testing.assert_array_equal(sample, np.sort(sample))
    np.testing.assert_array_equal(sample, evaluated_users(30, 10))


def test_max_users_evaluates_the_same_sample_for_every_model(matrices):
    train, test = matrices  # every user has test items
    options = evaluation_options(max_users=10, batch_size=4)
    sample = evaluated_users(train.shape[0], 10).tolist()
    models = [Fixed(personal_scores(*train.shape, seed)) for seed in (0, 1)]
    for model in models:
        metrics = measure(model, train, test, options, "Sampled")
        standard = metrics["protocols"]["standard"]
        assert standard["users_sampled"] is True
        assert standard["users"] == 10
        assert model.scored == sample
    everyone = Fixed(personal_scores(*train.shape))
    metrics = measure(everyone, train, test, evaluation_options(batch_size=4), "All")
    assert metrics["protocols"]["standard"]["users_sampled"] is False
    assert metrics["protocols"]["standard"]["users"] == train.shape[0]


def test_flat_scores_fail_the_seed_sanity_check(matrices):
    train, test = matrices
    flat = fit_most_popular(sp.csr_matrix(train.shape, dtype=np.int8))
    with pytest.raises(DegenerateModelError, match="Flat: .*standard deviation"):
        measure(flat, train, test, evaluation_options(), "Flat")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=str)
def test_non_finite_scores_are_refused(matrices, bad):
    train, test = matrices
    scores = personal_scores(*train.shape)
    scores[3, 7] = bad
    with pytest.raises(DegenerateModelError) as error:
        measure(Fixed(scores), train, test, evaluation_options(), "Broken")
    message = str(error.value)
    assert message.startswith("Broken: ") and "finite" in message


def test_identical_top_k_for_every_user_is_refused():
    n_users, n_items = 5, 8
    options = evaluation_options(top_k=3, ks=[3], curve_k=3, batch_size=2)
    test = sp.csr_matrix(np.eye(n_users, n_items))
    popularity = np.tile(np.arange(n_items, dtype=np.float32), (n_users, 1))
    empty = sp.csr_matrix((n_users, n_items))
    with pytest.raises(
        DegenerateModelError, match=r"^NCF: every user gets the same top-3 items"
    ):
        measure(Fixed(popularity), empty, test, options, "NCF")

    # The same scores pass once users have seen different popular items ...
    seen = sp.csr_matrix(([1], ([3], [7])), shape=(n_users, n_items))
    measure(Fixed(popularity), seen, test, options, "Most popular")
    # ... and so do personal scores.
    measure(Fixed(personal_scores(n_users, n_items)), empty, test, options, "LightFM")


def test_the_nodes_measure_under_their_label(matrices):
    train, test = matrices
    options = evaluation_options()
    model = Fixed(personal_scores(*train.shape))
    metrics = evaluate_model_as("Label")(model, train, test, options)
    assert metrics["model"] == "Label"
    assert metrics == measure(model, train, test, options, "Label")
    assert evaluate_other_seeds_as("Label")({}, train, test, options) == []
    runs = evaluate_other_seeds_as("Label")({7: model}, train, test, options)
    assert runs == [{**metrics, "seed": 7}]


def test_named_settings_label_the_metrics(matrices):
    """With ``settings`` (``ncf.settings: notebook``), every metrics dict the
    nodes write says so in its label; None leaves the label as it is."""
    train, test = matrices
    options = evaluation_options()
    model = Fixed(personal_scores(*train.shape))
    named = "Label, notebook settings"
    metrics = evaluate_model_as("Label")(model, train, test, options, "notebook")
    assert metrics == measure(model, train, test, options, named)
    (run,) = evaluate_other_seeds_as("Label")(
        {7: model}, train, test, options, "notebook"
    )
    assert run["model"] == named
    assert evaluate_model_as("Label")(model, train, test, options, None)["model"] == (
        "Label"
    )
