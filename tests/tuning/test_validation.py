"""The validation split carved from train, and the score trials are judged by."""

from __future__ import annotations

import numpy as np
import pytest

from ncf_movielens.metrics.evaluator import evaluate_scores
from ncf_movielens.models.most_popular import fit_most_popular
from ncf_movielens.scoring import iter_user_batches
from ncf_movielens.tuning.validation import split_validation, validation_score


def test_fit_and_validation_partition_train(structured_train, split):
    fit, validation = split
    assert fit.shape == validation.shape == structured_train.shape
    assert fit.multiply(validation).nnz == 0  # no pair in both
    assert ((fit + validation) != structured_train).nnz == 0  # nothing lost


def test_each_user_holds_out_the_share_and_keeps_min_fit(
    structured_train, split, validation_options
):
    fit, validation = split
    train_counts = np.diff(structured_train.indptr)
    held = np.diff(validation.indptr)
    expected = np.minimum(
        np.rint(train_counts * validation_options.share),
        np.maximum(train_counts - validation_options.min_fit, 0),
    )
    np.testing.assert_array_equal(held, expected)
    assert (np.diff(fit.indptr) >= np.minimum(train_counts, 1)).all()


def test_a_user_with_one_positive_keeps_it_in_fit(validation_options):
    import scipy.sparse as sp  # noqa: PLC0415

    one = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 1]], dtype=np.int8))
    fit, validation = split_validation(
        one, validation_options.model_copy(update={"share": 0.9})
    )
    assert fit[0].nnz == 1 and validation[0].nnz == 0
    assert fit[1].nnz == 1 and validation[1].nnz == 2


def test_the_seed_decides_the_split(structured_train, validation_options):
    first = split_validation(structured_train, validation_options)[1]
    again = split_validation(structured_train, validation_options)[1]
    other = split_validation(
        structured_train, validation_options.model_copy(update={"seed": 99})
    )[1]
    assert (first != again).nnz == 0
    assert (first != other).nnz > 0


@pytest.mark.parametrize("metric", ["ndcg", "precision", "recall"])
def test_validation_score_is_the_standard_protocol_on_validation(split, metric):
    fit, validation = split
    model = fit_most_popular(fit)
    evaluator = evaluate_scores(
        iter_user_batches(model, fit.shape[0], fit.shape[1], 16),
        fit,
        validation,
        ks=[10],
        curve_k=10,
        notebook_k=10,
    )
    expected = evaluator.standard_metrics()[f"{metric}@10"]
    assert validation_score(model, fit, validation, metric, 10)[0] == pytest.approx(
        expected, abs=1e-12
    )
    assert expected > 0
