"""``RankingEvaluator``: both protocols over batches of users, composed of the
accumulators of the sibling modules."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ncf_movielens.metrics.catalogue import CatalogueCoverage
from ncf_movielens.metrics.curves import PrecisionRecallCurves
from ncf_movielens.metrics.notebook import NotebookProtocol
from ncf_movielens.metrics.per_user import PER_USER_METRICS
from ncf_movielens.metrics.ranking import RankedBatch
from ncf_movielens.metrics.score_stats import ScoreStats, SharedTopK
from ncf_movielens.metrics.standard import StandardProtocol

#: The order of ``standard_metrics()``: by metric, then by k.
_ORDER = [*PER_USER_METRICS, "auc", "coverage", "popular_share"]


def _metric_order(key: str) -> tuple[int, int]:
    name, _, k = key.partition("@")
    return (_ORDER.index(name) if name in _ORDER else len(_ORDER), int(k or 0))


@dataclass
class RankingEvaluator:
    """Accumulates both protocols over batches of users (``update``), then
    reports them (``notebook_metrics``, ``standard_metrics``, ``curves``).

    ``ks`` are the cut-offs of the standard protocol, ``curve_k`` the longest
    ranking kept for precision/recall curves, ``notebook_k`` the notebook's TOP_K and
    ``popular_share`` the share of items counted as popular.
    """

    train: sp.csr_matrix
    test: sp.csr_matrix
    ks: Sequence[int] = (5, 10)
    curve_k: int = 20
    notebook_k: int = 5
    popular_share: float = 0.1
    _scores: ScoreStats = field(init=False, repr=False)
    _shared_top: SharedTopK = field(init=False, repr=False)
    _notebook: NotebookProtocol = field(init=False, repr=False)
    _standard: StandardProtocol = field(init=False, repr=False)
    _catalogue: CatalogueCoverage = field(init=False, repr=False)
    _curves: PrecisionRecallCurves = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.train = sp.csr_matrix(self.train)
        self.test = sp.csr_matrix(self.test)
        self._max_k = max([*self.ks, self.curve_k])
        self._scores = ScoreStats()
        self._shared_top = SharedTopK()
        self._notebook = NotebookProtocol(self.test, self.notebook_k)
        self._standard = StandardProtocol(self.ks)
        self._catalogue = CatalogueCoverage(self.train, self.ks, self.popular_share)
        self._curves = PrecisionRecallCurves(self.curve_k)

    def update(self, users: np.ndarray, scores: np.ndarray) -> None:
        """Add one batch: ``scores[i]`` are user ``users[i]``'s scores for all items."""
        self._scores.update(scores)
        self._notebook.update(users, scores)
        batch = RankedBatch.rank(users, scores, self.train, self.test, self._max_k)
        self._shared_top.update(batch.top[:, : self.notebook_k])
        if not batch.tested.any():
            # Nothing to average; such a batch adds nothing to coverage either.
            return
        self._standard.update(batch)
        self._catalogue.update(batch)
        self._curves.update(batch.hits, batch.n_relevant)

    def score_summary(self) -> dict[str, float]:
        """Mean, std, min and max of every score seen."""
        return self._scores.summary()

    def shared_top_k(self) -> list[int] | None:
        """The top-``notebook_k`` items (train items removed) when every user got the
        same ones, as 0-based ids; ``None`` when the lists differ."""
        return self._shared_top.result()

    def notebook_metrics(self) -> dict[str, float]:
        return self._notebook.metrics()

    def standard_metrics(self) -> dict[str, float]:
        metrics = {
            **self._standard.metrics(),
            **self._catalogue.metrics(),
        }
        return dict(sorted(metrics.items(), key=lambda kv: _metric_order(kv[0])))

    def curves(self) -> dict[str, list[float]]:
        return self._curves.result(self._standard.users)

    @property
    def users_evaluated(self) -> int:
        """Users with test items, the ones the standard protocol averages over."""
        return self._standard.users


def evaluate_scores(
    batches: Iterable[tuple[np.ndarray, np.ndarray]],
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    *,
    ks: Sequence[int],
    curve_k: int,
    notebook_k: int,
) -> RankingEvaluator:
    """Run a ``RankingEvaluator`` over ``(users, scores)`` batches."""
    evaluator = RankingEvaluator(
        train, test, ks=ks, curve_k=curve_k, notebook_k=notebook_k
    )
    for users, scores in batches:
        evaluator.update(users, scores)
    return evaluator
