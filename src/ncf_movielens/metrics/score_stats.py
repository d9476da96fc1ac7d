"""Sanity checks on a model's scores, accumulated over batches: their spread,
and whether every user gets the same top k."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ScoreStats:
    r"""Count, sum, sum of squares, min and max of every score seen.

    .. math::
        \mu = \frac{1}{n} \sum_j s_j, \quad
        \sigma = \sqrt{\max\left(\frac{1}{n} \sum_j s_j^2 - \mu^2, 0\right)}
    """

    count: float = 0.0
    total: float = 0.0
    total_squares: float = 0.0
    minimum: float = np.inf
    maximum: float = -np.inf

    def update(self, scores: np.ndarray) -> None:
        values = scores.astype(np.float64, copy=False)
        self.count += values.size
        self.total += float(values.sum())
        self.total_squares += float(np.square(values).sum())
        self.minimum = min(self.minimum, float(values.min()))
        self.maximum = max(self.maximum, float(values.max()))

    def summary(self) -> dict[str, float]:
        count = max(self.count, 1.0)
        mean = self.total / count
        variance = max(self.total_squares / count - mean**2, 0.0)
        return {
            "mean": mean,
            "std": float(np.sqrt(variance)),
            "min": self.minimum,
            "max": self.maximum,
        }


@dataclass
class SharedTopK:
    """Whether every user's top-k list (as a set) is the same one."""

    users: int = 0
    _first: np.ndarray | None = None
    _differ: bool = False

    def update(self, top: np.ndarray) -> None:
        """Add one batch of top-k lists, one row per user."""
        self.users += len(top)
        if self._differ:
            return
        lists = np.sort(top, axis=1)
        if self._first is None:
            self._first = lists[0]
        self._differ = bool((lists != self._first).any())

    def result(self) -> list[int] | None:
        """The items every user got (sorted, 0-based ids) when there are at
        least two users and their lists agree; ``None`` otherwise."""
        if self._differ or self._first is None or self.users < 2:
            return None
        return self._first.tolist()
