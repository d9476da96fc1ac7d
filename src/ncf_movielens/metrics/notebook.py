"""The original notebook's protocol: Keras ``Precision``/``Recall(top_k)`` over the
full score matrix, train items kept, counts global over all users."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ncf_movielens.metrics.ranking import rows_contain, top_k_indices

NOTEBOOK_DESCRIPTION = (
    "notebook: Keras Precision/Recall(top_k) over the full score matrix, train items "
    "kept, global counts over all users"
)


@dataclass
class NotebookProtocol:
    r"""Hits in every user's top k (train items included), counted globally.

    .. math::
        P@K = \frac{\sum_u |\hat S_u(K) \cap R_u|}{K \, |U|}, \quad
        R@K = \frac{\sum_u |\hat S_u(K) \cap R_u|}{\sum_u |R_u|}

    over all users :math:`U`, :math:`\hat S_u(K)` the top :math:`K` of all items.
    """

    test: sp.csr_matrix
    k: int
    hits: int = 0
    users: int = 0
    relevant: int = 0

    def update(self, users: np.ndarray, scores: np.ndarray) -> None:
        top = top_k_indices(scores, self.k)
        self.hits += int(rows_contain(self.test, users, top).sum())
        self.users += len(users)
        self.relevant += int(self.test[users].nnz)

    def metrics(self) -> dict[str, float]:
        predicted = self.k * max(self.users, 1)
        return {
            f"precision@{self.k}": self.hits / predicted,
            f"recall@{self.k}": self.hits / max(self.relevant, 1),
        }
