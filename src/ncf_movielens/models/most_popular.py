"""Most popular: every user gets the items ranked by their train interaction
count, the non-personalised baseline any recommender should beat."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

logger = logging.getLogger(__name__)


@dataclass
class MostPopular:
    """Item interaction counts in the train matrix, float32, one per item."""

    counts: np.ndarray

    def score_users(self, users: np.ndarray, n_items: int) -> np.ndarray:
        """The same counts for every user, shape ``(len(users), n_items)``."""
        return np.tile(self.counts[:n_items], (len(users), 1))


def fit_most_popular(train_matrix: sp.csr_matrix) -> MostPopular:
    """Count each item's interactions (column sums of the binary matrix)."""
    counts = np.asarray(train_matrix.sum(axis=0, dtype=np.float64)).ravel()
    logger.info(
        "Most popular: counted %d interactions over %d items",
        train_matrix.nnz,
        len(counts),
    )
    return MostPopular(counts=counts.astype(np.float32))
