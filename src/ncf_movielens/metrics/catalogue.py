"""How much of the catalogue the top-k lists reach, and how much of them the
most popular items take."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ncf_movielens.metrics.ranking import RankedBatch


class CatalogueCoverage:
    r"""Distinct items recommended, and the share of recommendations that go to
    the ``popular_share`` most frequent train items :math:`P`, over the users
    :math:`U` with test items, the ones every standard metric averages over.

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
        self._users = 0

    def update(self, batch: RankedBatch) -> None:
        """Add one batch's top-k lists (at least ``max(ks)`` long) of its users
        with test items."""
        # Lists and their count come from the same rows: a share can't pass 1,
        # nor depend on which untested users a batch holds.
        top = batch.top[batch.tested]
        self._users += len(top)
        for k in self.ks:
            recommended = top[:, :k]
            self._recommended[k].update(np.unique(recommended).tolist())
            self._recommended_popular[k] += int(self._popular[recommended].sum())

    def metrics(self) -> dict[str, float]:
        """Coverage and popular share at each k."""
        users = max(self._users, 1)
        metrics = {}
        for k in self.ks:
            metrics[f"coverage@{k}"] = len(self._recommended[k]) / self._n_items
            metrics[f"popular_share@{k}"] = self._recommended_popular[k] / (k * users)
        return metrics
