"""Precision and recall at every cut-off 1..K, for the precision/recall plots."""

from __future__ import annotations

import numpy as np


class PrecisionRecallCurves:
    r"""Per-user precision and recall at each :math:`k \le K`, summed over batches.

    .. math::
        P(k) = \frac{1}{|U|} \sum_u \frac{|\hat R_u(k) \cap R_u|}{k}, \quad
        R(k) = \frac{1}{|U|} \sum_u \frac{|\hat R_u(k) \cap R_u|}{|R_u|}
    """

    def __init__(self, max_k: int) -> None:
        self.max_k = max_k
        self._precision = np.zeros(max_k)
        self._recall = np.zeros(max_k)

    def update(self, hits: np.ndarray, n_relevant: np.ndarray) -> None:
        """Add one batch's hit matrix (users x ranks) and relevant-item counts."""
        cumulative = np.cumsum(hits[:, : self.max_k], axis=1)
        width = cumulative.shape[1]
        self._precision[:width] += (cumulative / np.arange(1, width + 1)).sum(axis=0)
        self._recall[:width] += (cumulative / n_relevant[:, None]).sum(axis=0)

    def result(self, n_users: int) -> dict[str, list[float]]:
        """``k``, ``precision`` and ``recall`` lists, averaged over ``n_users``."""
        users = max(n_users, 1)
        return {
            "k": list(range(1, self.max_k + 1)),
            "precision": (self._precision / users).tolist(),
            "recall": (self._recall / users).tolist(),
        }
