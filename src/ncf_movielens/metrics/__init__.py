"""Ranking metrics under the two protocols this project reports, computed from
batches of scores and sparse train/test matrices.

- ``notebook``: what the original notebook computes. Keras ``Precision(top_k=k)`` and
  ``Recall(top_k=k)`` over the whole score matrix: train items stay in the
  ranking, every user's top k count as predicted (with ``top_k`` set, Keras
  applies no 0.5 threshold), and counts are global over all users:
  P = hits / (k * users), R = hits / test interactions.
- ``standard``: what RecBole and Microsoft Recommenders report. Each user's
  train items are removed from the ranking; per-user metrics are averaged over
  the users that have test items.

``RankingEvaluator`` composes the small accumulators of the other modules:
``score_stats`` (score spread, same top k for everyone), ``notebook``,
``standard`` (the per-user metrics of ``per_user``), ``catalogue`` (coverage,
popular share) and ``curves``.
"""

from ncf_movielens.metrics.evaluator import RankingEvaluator, evaluate_scores
from ncf_movielens.metrics.notebook import NOTEBOOK_DESCRIPTION
from ncf_movielens.metrics.per_user import per_user_auc, per_user_metrics
from ncf_movielens.metrics.ranking import rows_contain, top_k_indices
from ncf_movielens.metrics.standard import STANDARD_DESCRIPTION

__all__ = [
    "NOTEBOOK_DESCRIPTION",
    "STANDARD_DESCRIPTION",
    "RankingEvaluator",
    "evaluate_scores",
    "per_user_auc",
    "per_user_metrics",
    "rows_contain",
    "top_k_indices",
]
