"""The standard protocol (RecBole, Microsoft Recommenders): per-user metrics
with train items removed, averaged over the users that have test items."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ncf_movielens.metrics.per_user import per_user_auc, per_user_metrics
from ncf_movielens.metrics.ranking import RankedBatch

STANDARD_DESCRIPTION = (
    "standard: train items removed; per-user metrics averaged over users with test "
    "items"
)


class StandardProtocol:
    """Sums of the per-user metrics at each k and of the AUC, over batches."""

    def __init__(self, ks: Sequence[int]) -> None:
        self.ks = ks
        self.users = 0
        self._sums: dict[str, float] = {}

    def update(self, batch: RankedBatch) -> None:
        """Add one batch that has at least one user with test items."""
        self.users += int(batch.tested.sum())
        for k in self.ks:
            for name, values in per_user_metrics(
                batch.hits, batch.n_relevant, k
            ).items():
                self._add(f"{name}@{k}", values.sum())
        tested = batch.tested
        auc = per_user_auc(
            batch.scores[tested], batch.test[tested], batch.train[tested]
        )
        self._add("auc", np.nansum(auc))

    def _add(self, key: str, value: float) -> None:
        self._sums[key] = self._sums.get(key, 0.0) + float(value)

    def metrics(self) -> dict[str, float]:
        """Each metric's mean over the users with test items."""
        users = max(self.users, 1)
        return {key: value / users for key, value in self._sums.items()}
