"""Ranking metrics under the two protocols this project reports, computed from
batches of scores and sparse train/test matrices.

- ``seed``: what the seed notebook computes. Keras ``Precision(top_k=k)`` and
  ``Recall(top_k=k)`` over the whole score matrix: train items stay in the
  ranking, every user's top k count as predicted (with ``top_k`` set, Keras
  applies no 0.5 threshold), and counts are global over all users:
  P = hits / (k * users), R = hits / test interactions.
- ``standard``: what RecBole and Microsoft Recommenders report. Each user's
  train items are removed from the ranking; per-user metrics are averaged over
  the users that have test items.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

SEED_DESCRIPTION = (
    "seed: Keras Precision/Recall(top_k) over the full score matrix, train items "
    "kept, global counts over all users"
)
STANDARD_DESCRIPTION = (
    "standard: train items removed; per-user metrics averaged over users with test "
    "items"
)


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


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def per_user_metrics(
    hits: np.ndarray, n_relevant: np.ndarray, k: int
) -> dict[str, np.ndarray]:
    """Per-user P, R, NDCG, MAP, HR and MRR at ``k`` from a ranked hit matrix
    (users x at least k, True where the ranked item is relevant)."""
    top = hits[:, :k].astype(np.float64)
    n_hits = top.sum(axis=1)
    discounts = _discounts(k)
    ideal = np.cumsum(discounts)[np.minimum(n_relevant, k) - 1]
    precision_at_i = np.cumsum(top, axis=1) / np.arange(1, k + 1)
    first_hit = np.where(top.any(axis=1), top.argmax(axis=1) + 1, np.inf)
    return {
        "precision": n_hits / k,
        "recall": n_hits / n_relevant,
        "ndcg": (top * discounts).sum(axis=1) / ideal,
        "map": (precision_at_i * top).sum(axis=1) / np.minimum(n_relevant, k),
        "hit_rate": (n_hits > 0).astype(np.float64),
        "mrr": 1.0 / first_hit,
    }


def per_user_auc(
    scores: np.ndarray, relevant: sp.csr_matrix, excluded: sp.csr_matrix
) -> np.ndarray:
    """AUC per user over the items not in ``excluded``: the share of (relevant,
    other) pairs that the scores order correctly; ties go to the relevant item,
    as in ``lightfm.evaluation.auc_score``. Rows without relevant items get NaN."""
    n_rows, n_items = scores.shape
    masked = scores.astype(np.float64, copy=True)
    ex = sp.coo_matrix(excluded)
    masked[ex.row, ex.col] = -np.inf
    rel = sp.coo_matrix(relevant)
    keep = ~np.isneginf(masked[rel.row, rel.col])  # a relevant item can't be excluded
    rel_rows, rel_cols = rel.row[keep], rel.col[keep]
    rel_scores = masked[rel_rows, rel_cols]
    # For each relevant item: candidates scored strictly higher.
    sorted_rows = np.sort(masked, axis=1)
    above = np.empty(len(rel_rows), dtype=np.int64)
    for row in np.unique(rel_rows):
        sel = rel_rows == row
        above[sel] = n_items - np.searchsorted(
            sorted_rows[row], rel_scores[sel], side="right"
        )
    # ... minus the relevant items among them gives the negatives ranked above.
    order = np.lexsort((-rel_scores, rel_rows))
    rank_in_row = np.arange(len(order)) - np.searchsorted(
        rel_rows[order], rel_rows[order]
    )
    relevant_above = np.empty_like(above)
    relevant_above[order] = rank_in_row
    n_pos = np.bincount(rel_rows, minlength=n_rows)
    n_candidates = n_items - np.bincount(ex.row, minlength=n_rows)
    n_neg = n_candidates - n_pos
    neg_above = above - relevant_above
    per_item = 1.0 - neg_above / np.maximum(n_neg[rel_rows], 1)
    sums = np.bincount(rel_rows, weights=per_item, minlength=n_rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_pos > 0, sums / n_pos, np.nan)


@dataclass
class RankingEvaluator:
    """Accumulates both protocols over batches of users; call ``result`` at the end.

    ``ks`` are the cut-offs of the standard protocol, ``curve_k`` the longest
    ranking kept for precision/recall curves, ``seed_k`` the seed's TOP_K.
    """

    train: sp.csr_matrix
    test: sp.csr_matrix
    ks: Sequence[int] = (5, 10)
    curve_k: int = 20
    seed_k: int = 5
    popular_share: float = 0.1
    _sums: dict[str, float] = field(default_factory=dict)
    _curve: dict[str, np.ndarray] = field(default_factory=dict)
    _seed_hits: int = 0
    _seed_users: int = 0
    _seed_relevant: int = 0
    _recommended: dict[int, set[int]] = field(default_factory=dict)
    _recommended_popular: dict[int, int] = field(default_factory=dict)
    _users: int = 0
    _first_top: np.ndarray | None = None
    _top_lists_differ: bool = False
    _stats: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.train = sp.csr_matrix(self.train)
        self.test = sp.csr_matrix(self.test)
        self._max_k = max([*self.ks, self.curve_k])
        counts = np.asarray(self.train.sum(axis=0)).ravel()
        n_popular = max(1, int(round(self.popular_share * len(counts))))
        self._popular = np.zeros(len(counts), dtype=bool)
        self._popular[np.argsort(-counts, kind="stable")[:n_popular]] = True
        self._stats = {
            "count": 0.0,
            "sum": 0.0,
            "sumsq": 0.0,
            "min": np.inf,
            "max": -np.inf,
        }
        self._curve = {
            "precision": np.zeros(self.curve_k),
            "recall": np.zeros(self.curve_k),
        }
        for k in self.ks:
            self._recommended[k] = set()
            self._recommended_popular[k] = 0

    def update(self, users: np.ndarray, scores: np.ndarray) -> None:
        """Add one batch: ``scores[i]`` are user ``users[i]``'s scores for all items."""
        self._update_stats(scores)
        self._update_seed(users, scores)
        self._update_standard(users, scores)

    def _update_stats(self, scores: np.ndarray) -> None:
        values = scores.astype(np.float64, copy=False)
        self._stats["count"] += values.size
        self._stats["sum"] += float(values.sum())
        self._stats["sumsq"] += float(np.square(values).sum())
        self._stats["min"] = min(self._stats["min"], float(values.min()))
        self._stats["max"] = max(self._stats["max"], float(values.max()))

    def _update_seed(self, users: np.ndarray, scores: np.ndarray) -> None:
        top = top_k_indices(scores, self.seed_k)
        self._seed_hits += int(rows_contain(self.test, users, top).sum())
        self._seed_users += len(users)
        self._seed_relevant += int(self.test[users].nnz)

    def _update_standard(self, users: np.ndarray, scores: np.ndarray) -> None:
        train = self.train[users]
        masked = scores.copy()
        rows, cols = train.nonzero()
        masked[rows, cols] = -np.inf
        top = top_k_indices(masked, self._max_k)
        self._compare_top_lists(top[:, : self.seed_k])
        test = self.test[users]
        n_relevant = np.diff(test.indptr)
        has_test = n_relevant > 0
        if not has_test.any():
            return
        hits = rows_contain(self.test, users[has_test], top[has_test])
        hits &= np.isfinite(np.take_along_axis(masked[has_test], top[has_test], axis=1))
        relevant = n_relevant[has_test]
        self._users += int(has_test.sum())
        for k in self.ks:
            for name, values in per_user_metrics(hits, relevant, k).items():
                self._add(f"{name}@{k}", values.sum())
            recommended = top[:, :k]
            self._recommended[k].update(np.unique(recommended).tolist())
            self._recommended_popular[k] += int(self._popular[recommended].sum())
        cumulative = np.cumsum(hits[:, : self.curve_k], axis=1)
        width = cumulative.shape[1]
        self._curve["precision"][:width] += (cumulative / np.arange(1, width + 1)).sum(
            axis=0
        )
        self._curve["recall"][:width] += (cumulative / relevant[:, None]).sum(axis=0)
        auc = per_user_auc(scores[has_test], test[has_test], train[has_test])
        self._add("auc", np.nansum(auc))

    def _compare_top_lists(self, top: np.ndarray) -> None:
        if self._top_lists_differ:
            return
        lists = np.sort(top, axis=1)
        if self._first_top is None:
            self._first_top = lists[0]
        self._top_lists_differ = bool((lists != self._first_top).any())

    def shared_top_k(self) -> list[int] | None:
        """The top-``seed_k`` items (train items removed) when every user got the
        same ones, as 0-based ids; ``None`` when the lists differ."""
        if self._top_lists_differ or self._first_top is None or self._seed_users < 2:
            return None
        return self._first_top.tolist()

    def _add(self, key: str, value: float) -> None:
        self._sums[key] = self._sums.get(key, 0.0) + float(value)

    def score_summary(self) -> dict[str, float]:
        count = max(self._stats["count"], 1.0)
        mean = self._stats["sum"] / count
        variance = max(self._stats["sumsq"] / count - mean**2, 0.0)
        return {
            "mean": mean,
            "std": float(np.sqrt(variance)),
            "min": self._stats["min"],
            "max": self._stats["max"],
        }

    def seed_metrics(self) -> dict[str, float]:
        k = self.seed_k
        predicted = k * max(self._seed_users, 1)
        return {
            f"precision@{k}": self._seed_hits / predicted,
            f"recall@{k}": self._seed_hits / max(self._seed_relevant, 1),
        }

    def standard_metrics(self) -> dict[str, float]:
        users = max(self._users, 1)
        n_items = self.train.shape[1]
        metrics = {key: value / users for key, value in self._sums.items()}
        for k in self.ks:
            metrics[f"coverage@{k}"] = len(self._recommended[k]) / n_items
            n_recommended = k * users
            metrics[f"popular_share@{k}"] = self._recommended_popular[k] / n_recommended
        return dict(sorted(metrics.items(), key=lambda kv: _metric_order(kv[0])))

    def curves(self) -> dict[str, list[float]]:
        users = max(self._users, 1)
        return {
            "k": list(range(1, self.curve_k + 1)),
            "precision": (self._curve["precision"] / users).tolist(),
            "recall": (self._curve["recall"] / users).tolist(),
        }

    @property
    def users_evaluated(self) -> int:
        return self._users


_ORDER = [
    "precision",
    "recall",
    "ndcg",
    "map",
    "hit_rate",
    "mrr",
    "auc",
    "coverage",
    "popular_share",
]


def _metric_order(key: str) -> tuple[int, int]:
    name, _, k = key.partition("@")
    return (_ORDER.index(name) if name in _ORDER else len(_ORDER), int(k or 0))


def evaluate_scores(
    batches: Iterable[tuple[np.ndarray, np.ndarray]],
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    **options: object,
) -> RankingEvaluator:
    """Run a ``RankingEvaluator`` over ``(users, scores)`` batches."""
    evaluator = RankingEvaluator(train, test, **options)  # type: ignore[arg-type]
    for users, scores in batches:
        evaluator.update(users, scores)
    return evaluator
