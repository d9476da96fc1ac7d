"""The validation protocol: each user's train positives split into a fit part
and a validation part (seeded), and the ranking score a model gets on the
validation part with its fit items removed (the standard protocol)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ncf_movielens.metrics.per_user import per_user_metrics
from ncf_movielens.metrics.ranking import RankedBatch
from ncf_movielens.metrics.score_stats import ScoreStats
from ncf_movielens.models import Recommender
from ncf_movielens.parameters import ValidationOptions
from ncf_movielens.scoring import iter_user_batches


def split_validation(
    train_matrix: sp.csr_matrix, options: ValidationOptions
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(fit, validation): for each user, ``round(share * positives)`` of their
    train positives, chosen at random with ``seed``, go to validation, but
    never so many that fewer than ``min_fit`` stay in fit. Both have the
    train matrix's shape; they add up to it and share no pair."""
    train = sp.csr_matrix(train_matrix)
    train.sort_indices()
    rng = np.random.default_rng(options.seed)
    counts = np.diff(train.indptr)
    held = np.minimum(
        np.rint(counts * options.share).astype(np.int64),
        np.maximum(counts - options.min_fit, 0),
    )
    to_validation = np.zeros(train.nnz, dtype=bool)
    for user in np.flatnonzero(held):
        start = train.indptr[user]
        picked = rng.choice(counts[user], size=held[user], replace=False)
        to_validation[start + picked] = True
    rows = np.repeat(np.arange(train.shape[0]), counts)

    def part(mask: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix(
            (train.data[mask], (rows[mask], train.indices[mask])),
            shape=train.shape,
            dtype=train.dtype,
        )

    return part(~to_validation), part(to_validation)


class DegenerateScores(ValueError):
    """Scores that are not finite."""


def validation_score(
    model: Recommender,
    fit_matrix: sp.csr_matrix,
    validation_matrix: sp.csr_matrix,
    metric: str,
    k: int,
    batch_size: int = 512,
) -> tuple[float, float]:
    """``metric@k`` of ``model`` on the validation matrix, fit items removed,
    averaged over the users with validation items, and the standard
    deviation of the scores (the evaluation refuses a model whose scores are
    flatter than ``evaluation_options.min_score_std``). Raises
    ``DegenerateScores`` when the scores are not finite."""
    users = np.flatnonzero(np.diff(validation_matrix.indptr))
    total = 0.0
    stats = ScoreStats()
    n_items = fit_matrix.shape[1]
    for batch, scores in iter_user_batches(model, users, n_items, batch_size):
        if not np.isfinite(scores).all():
            raise DegenerateScores("the scores contain NaN or infinity")
        stats.update(scores)
        ranked = RankedBatch.rank(batch, scores, fit_matrix, validation_matrix, k)
        values = per_user_metrics(ranked.hits, ranked.n_relevant, k)[metric]
        total += float(values.sum())
    return total / max(len(users), 1), stats.summary()["std"]
