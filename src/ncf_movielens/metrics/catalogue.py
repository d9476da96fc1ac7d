"""How much of the catalogue the top-k lists reach, and how much of them the
most popular items take."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp


class CatalogueCoverage:
    r"""Distinct items recommended, and the share of recommendations that go to
    the ``popular_share`` most frequent train items :math:`P`.

    .. math::
        \mathrm{Coverage@K} = \frac{|\bigcup_u \hat R_u(K)|}{|I|}, \quad
        \mathrm{PopularShare@K} = \frac{\sum_u |\hat R_u(K) \cap P|}{K \, |U|}
    """

    def __init__(
        self, train: sp.csr_matrix, ks: Sequence[int], popular_share: float
    ) -> None:
        counts = np.asarray(train.sum(axis=0)).ravel()
        n_popular = max(1, int(round(popular_share * len(counts))))
        self._popular = np.zeros(len(counts), dtype=bool)
        self._popular[np.argsort(-counts, kind="stable")[:n_popular]] = True
        self._n_items = train.shape[1]
        self.ks = ks
        self._recommended: dict[int, set[int]] = {k: set() for k in ks}
        self._recommended_popular: dict[int, int] = dict.fromkeys(ks, 0)

    def update(self, top: np.ndarray) -> None:
        """Add one batch of top-k lists (at least ``max(ks)`` long), one row per user."""
        for k in self.ks:
            recommended = top[:, :k]
            self._recommended[k].update(np.unique(recommended).tolist())
            self._recommended_popular[k] += int(self._popular[recommended].sum())

    def metrics(self, n_users: int) -> dict[str, float]:
        """Coverage and popular share at each k, the share over ``n_users`` lists."""
        users = max(n_users, 1)
        metrics = {}
        for k in self.ks:
            metrics[f"coverage@{k}"] = len(self._recommended[k]) / self._n_items
            metrics[f"popular_share@{k}"] = self._recommended_popular[k] / (k * users)
        return metrics
