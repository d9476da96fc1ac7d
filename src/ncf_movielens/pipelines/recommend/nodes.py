"""Recommendations: each user's top unseen movies per model, with titles (scored
once and stored), and a readable view of one user's stored lists."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ncf_movielens.metrics import top_k_indices
from ncf_movielens.models import Recommender
from ncf_movielens.parameters import RecommendOptions
from ncf_movielens.scoring import iter_user_batches
from ncf_movielens.study import labelled

logger = logging.getLogger(__name__)


def top_k_unseen(
    model: Recommender,
    train_matrix: sp.csr_matrix,
    movies: pd.DataFrame,
    label: str,
    k: int,
    batch_size: int,
) -> pd.DataFrame:
    """Every user's ``k`` best movies that are not in their train data, scored
    ``batch_size`` users at a time: (model, user_id, rank, item_id, title,
    score), 1-based ids."""
    n_users, n_items = train_matrix.shape
    parts = []
    for users, scores in iter_user_batches(model, n_users, n_items, batch_size):
        rows, cols = train_matrix[users].nonzero()
        scores[rows, cols] = -np.inf
        top = top_k_indices(scores, k)
        width = top.shape[1]
        parts.append(
            pd.DataFrame(
                {
                    "user_id": np.repeat(users + 1, width),
                    "rank": np.tile(np.arange(1, width + 1), len(users)),
                    "item_id": top.ravel() + 1,
                    "score": np.take_along_axis(scores, top, axis=1).ravel(),
                }
            )
        )
    table = pd.concat(parts, ignore_index=True)
    table = table[np.isfinite(table["score"])]  # users who have seen nearly all
    titles = movies.set_index("item_id")["title"]
    table.insert(0, "model", label)
    table.insert(4, "title", table["item_id"].map(titles).fillna("(unknown title)"))
    return table.reset_index(drop=True)


def recommend_top_k_as(label: str) -> Callable[..., pd.DataFrame]:
    """The node that stores the recommendations of the model labelled ``label``,
    with its named ``settings`` if any."""

    # Only the parameters it uses: a stored list is checked against the
    # parameters that made it, and the user shown must not count among them.
    def recommend_top_k(
        model: Recommender,
        train_matrix: sp.csr_matrix,
        movies: pd.DataFrame,
        stored_top_k: int,
        batch_size: int,
        settings: str | None = None,
    ) -> pd.DataFrame:
        """Every user's ``stored_top_k`` top unseen movies, with titles, under
        the model's label (``"<label>, <settings> settings"`` with named
        settings)."""
        return top_k_unseen(
            model,
            train_matrix,
            movies,
            labelled(label, settings),
            stored_top_k,
            batch_size,
        )

    return recommend_top_k


def show_user_recommendations(
    recommend: RecommendOptions, *recommendations: pd.DataFrame
) -> pd.DataFrame:
    """One user's top ``top_k`` from each model's stored lists, as a table with
    one column per model in the order given; logged so that
    ``kedro run --pipelines=recommend`` prints it."""
    user_id, k = recommend.user_id, recommend.top_k
    every = pd.concat(recommendations, ignore_index=True)
    if k > every["rank"].max():
        raise ValueError(
            f"recommend.top_k is {k} but only {every['rank'].max()} recommendations "
            "per user are stored; raise recommend.stored_top_k"
        )
    mine = every[(every["user_id"] == user_id) & (every["rank"] <= k)]
    if mine.empty:
        known = every["user_id"]
        raise ValueError(
            f"recommend.user_id {user_id} has no recommendations; user ids run "
            f"from {known.min()} to {known.max()}"
        )
    view = mine.pivot(index="rank", columns="model", values="title")
    view = view[[label for label in every["model"].unique() if label in view]]
    logger.info("Top %d movies for user %d\n%s", k, user_id, view.to_string())
    return view.reset_index()
