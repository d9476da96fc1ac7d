"""Top-k rankings and the hit matrix that every standard-protocol metric reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's ``k`` highest scores, best first.

    ``argpartition`` keeps this O(items) per row; only the k winners are sorted.
    """
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def rows_contain(
    matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """Boolean ``matrix[rows[i], cols[i, j]] != 0`` without densifying ``matrix``."""
    block = matrix[rows]
    block.sort_indices()
    found = np.zeros(cols.shape, dtype=bool)
    for i in range(len(rows)):
        start, end = block.indptr[i], block.indptr[i + 1]
        if start == end:
            continue
        row_cols = block.indices[start:end]
        pos = np.searchsorted(row_cols, cols[i])
        pos = np.minimum(pos, len(row_cols) - 1)
        found[i] = row_cols[pos] == cols[i]
    return found


@dataclass(frozen=True)
class RankedBatch:
    """One batch of users ranked with their train items removed.

    ``top`` covers every user of the batch; ``hits`` and ``n_relevant`` only
    the users with test items (``tested``), the ones the metrics average over.
    """

    scores: np.ndarray
    train: sp.csr_matrix
    test: sp.csr_matrix
    top: np.ndarray
    tested: np.ndarray
    hits: np.ndarray
    n_relevant: np.ndarray

    @classmethod
    def rank(
        cls,
        users: np.ndarray,
        scores: np.ndarray,
        train: sp.csr_matrix,
        test: sp.csr_matrix,
        k: int,
    ) -> RankedBatch:
        """Rank ``users``' unseen items by ``scores`` and mark the top ``k``'s
        test items (at most ``k`` columns: fewer when there are fewer items)."""
        batch_train = train[users]
        masked = scores.copy()
        rows, cols = batch_train.nonzero()
        masked[rows, cols] = -np.inf
        top = top_k_indices(masked, k)
        batch_test = test[users]
        n_relevant = np.diff(batch_test.indptr)
        tested = n_relevant > 0
        if tested.any():
            hits = rows_contain(test, users[tested], top[tested])
            # A user with fewer than k unseen items gets masked (train) items
            # at the end of the top k; they are never hits.
            hits &= np.isfinite(np.take_along_axis(masked[tested], top[tested], axis=1))
        else:
            hits = np.zeros((0, top.shape[1]), dtype=bool)
        return cls(
            scores, batch_train, batch_test, top, tested, hits, n_relevant[tested]
        )
