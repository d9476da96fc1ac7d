r"""Per-user ranking metrics, RecBole style: each one a small function of the
shared top-k hit matrix, its formula in its docstring.

The formulas give the reported value, the mean over the users :math:`U` with
test items; each function returns the per-user terms of that mean.
:math:`\hat R_u(K)` is user :math:`u`'s top :math:`K` (train items removed),
:math:`R_u` their test items and :math:`\mathrm{rel}_u(i) \in \{0, 1\}` whether
the item ranked :math:`i` is one of them. Adding a metric is one function and
one entry of ``PER_USER_METRICS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class TopKHits:
    """What every per-user metric reads: ``hits`` (users x k, 1.0 where the
    ranked item is relevant), each user's number of relevant items, and k."""

    hits: np.ndarray
    n_relevant: np.ndarray
    k: int

    @cached_property
    def n_hits(self) -> np.ndarray:
        return self.hits.sum(axis=1)


def precision(top: TopKHits) -> np.ndarray:
    r"""Share of the top k that is relevant.

    .. math::
        \mathrm{Precision@K} = \frac{1}{|U|} \sum_{u \in U}
        \frac{|\hat R_u(K) \cap R_u|}{K}
    """
    return top.n_hits / top.k


def recall(top: TopKHits) -> np.ndarray:
    r"""Share of the relevant items found in the top k.

    .. math::
        \mathrm{Recall@K} = \frac{1}{|U|} \sum_{u \in U}
        \frac{|\hat R_u(K) \cap R_u|}{|R_u|}
    """
    return top.n_hits / top.n_relevant


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg(top: TopKHits) -> np.ndarray:
    r"""Discounted gain of the hits, relative to the best possible ranking.

    .. math::
        \mathrm{NDCG@K} = \frac{1}{|U|} \sum_{u \in U}
        \frac{DCG_u@K}{IDCG_u@K}, \quad
        DCG_u@K = \sum_{i=1}^{K} \frac{\mathrm{rel}_u(i)}{\log_2(i + 1)}, \quad
        IDCG_u@K = \sum_{i=1}^{\min(|R_u|, K)} \frac{1}{\log_2(i + 1)}
    """
    discounts = _discounts(top.k)
    ideal = np.cumsum(discounts)[np.minimum(top.n_relevant, top.k) - 1]
    return (top.hits * discounts).sum(axis=1) / ideal


def average_precision(top: TopKHits) -> np.ndarray:
    r"""Precision at each hit's rank, averaged (MAP is their mean over users).

    .. math::
        \mathrm{MAP@K} = \frac{1}{|U|} \sum_{u \in U}
        \frac{1}{\min(|R_u|, K)} \sum_{i=1}^{K}
        \mathrm{rel}_u(i) \, \mathrm{Precision}_u@i
    """
    precision_at_i = np.cumsum(top.hits, axis=1) / np.arange(1, top.k + 1)
    return (precision_at_i * top.hits).sum(axis=1) / np.minimum(top.n_relevant, top.k)


def hit_rate(top: TopKHits) -> np.ndarray:
    r"""Whether the top k holds any relevant item.

    .. math::
        \mathrm{HR@K} = \frac{1}{|U|} \sum_{u \in U}
        \mathbb{1}\left[\hat R_u(K) \cap R_u \neq \emptyset\right]
    """
    return (top.n_hits > 0).astype(np.float64)


def reciprocal_rank(top: TopKHits) -> np.ndarray:
    r"""One over the rank of the first hit, 0 without one (MRR is the mean).

    .. math::
        \mathrm{MRR@K} = \frac{1}{|U|} \sum_{u \in U} \frac{1}{\mathrm{rank}_u},
        \quad \mathrm{rank}_u = \min\{i \le K : \mathrm{rel}_u(i) = 1\}
    """
    first_hit = np.where(top.hits.any(axis=1), top.hits.argmax(axis=1) + 1, np.inf)
    return 1.0 / first_hit


#: The per-user metrics at k, in the order they are reported.
PER_USER_METRICS: dict[str, Callable[[TopKHits], np.ndarray]] = {
    "precision": precision,
    "recall": recall,
    "ndcg": ndcg,
    "map": average_precision,
    "hit_rate": hit_rate,
    "mrr": reciprocal_rank,
}


def per_user_metrics(
    hits: np.ndarray, n_relevant: np.ndarray, k: int
) -> dict[str, np.ndarray]:
    """Per-user P, R, NDCG, MAP, HR and MRR at ``k`` from a ranked hit matrix
    (users x at least k, True where the ranked item is relevant)."""
    top = TopKHits(hits[:, :k].astype(np.float64), n_relevant, k)
    return {name: metric(top) for name, metric in PER_USER_METRICS.items()}


def per_user_auc(
    scores: np.ndarray, relevant: sp.csr_matrix, excluded: sp.csr_matrix
) -> np.ndarray:
    r"""AUC per user over the items not in ``excluded``: the share of (relevant,
    other) pairs that the scores rank strictly in the right order. A tie counts
    as wrong, as ``lightfm.evaluation.auc_score`` counts it (``prediction >=``
    in its ranks); unlike LightFM, ties between two relevant items cost nothing.
    Rows without relevant items get NaN.

    .. math::
        \mathrm{AUC} = \frac{1}{|U|} \sum_{u \in U}
        \frac{1}{|R_u| \, |N_u|} \sum_{i \in R_u} \sum_{j \in N_u}
        \mathbb{1}\left[s_{ui} > s_{uj}\right]

    with :math:`N_u` the candidates (items not excluded) that are not relevant.
    """
    n_rows, n_items = scores.shape
    masked = scores.astype(np.float64, copy=True)
    ex = sp.coo_matrix(excluded)
    masked[ex.row, ex.col] = -np.inf
    rel = sp.coo_matrix(relevant)
    keep = ~np.isneginf(masked[rel.row, rel.col])  # a relevant item can't be excluded
    rel_rows, rel_cols = rel.row[keep], rel.col[keep]
    rel_scores = masked[rel_rows, rel_cols]
    # For each relevant item: the negatives scored at least as high, that is
    # the candidates at least as high minus the relevant items at least as high
    # (both counts include the item itself).
    sorted_rows = np.sort(masked, axis=1)
    negatives_not_below = np.empty(len(rel_rows), dtype=np.int64)
    for row in np.unique(rel_rows):
        sel = rel_rows == row
        mine = rel_scores[sel]
        candidates = n_items - np.searchsorted(sorted_rows[row], mine, side="left")
        relevant_too = len(mine) - np.searchsorted(np.sort(mine), mine, side="left")
        negatives_not_below[sel] = candidates - relevant_too
    n_pos = np.bincount(rel_rows, minlength=n_rows)
    n_candidates = n_items - np.bincount(ex.row, minlength=n_rows)
    n_neg = n_candidates - n_pos
    per_item = 1.0 - negatives_not_below / np.maximum(n_neg[rel_rows], 1)
    sums = np.bincount(rel_rows, weights=per_item, minlength=n_rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_pos > 0, sums / n_pos, np.nan)
