"""Recommendation nodes: each user's best unseen movies with titles, and one
user's stored lists side by side."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from ncf_movielens.models.most_popular import fit_most_popular
from ncf_movielens.parameters import RecommendOptions
from ncf_movielens.pipelines.recommend.nodes import (
    show_user_recommendations,
    top_k_unseen,
)
from tests.support import project_options


def recommend_options(**changes: Any) -> RecommendOptions:
    return project_options(RecommendOptions, "recommend", **changes)


def test_recommendations_skip_seen_movies_and_carry_titles(matrices, movies):
    train, _ = matrices
    model = fit_most_popular(train)
    recs = top_k_unseen(model, train, movies, "Pop", k=4, batch_size=7)
    assert recs.columns.tolist() == [
        "model",
        "user_id",
        "rank",
        "item_id",
        "title",
        "score",
    ]
    assert (recs["model"] == "Pop").all()
    assert (
        recs.groupby("user_id")["rank"].apply(list).tolist()
        == [[1, 2, 3, 4]] * train.shape[0]
    )
    seen = {(u + 1, i + 1) for u, i in zip(*train.nonzero(), strict=True)}
    assert not seen & set(zip(recs["user_id"], recs["item_id"], strict=True))
    assert (recs["title"] == "T" + recs["item_id"].astype(str)).all()
    # The most popular unseen items, best first (ties broken by either order).
    counts = train.toarray().sum(axis=0).astype(float)
    for user, mine in recs.groupby("user_id"):
        unseen = np.where(train[user - 1].toarray().ravel() > 0, -np.inf, counts)
        assert mine["score"].tolist() == sorted(unseen, reverse=True)[:4]


def test_show_one_users_lists_side_by_side(caplog):
    recs = pd.DataFrame(
        {
            "model": ["B", "B", "A", "A"],
            "user_id": [7, 7, 7, 7],
            "rank": [1, 2, 1, 2],
            "item_id": [1, 2, 3, 4],
            "title": ["Up", "Heat", "Fargo", "Alien"],
            "score": [2.0, 1.0, 2.0, 1.0],
        }
    )
    options = recommend_options(user_id=7, top_k=2)
    with caplog.at_level("INFO"):
        view = show_user_recommendations(options, recs[:2], recs[2:])
    # One column per model, in the order the lists are given (the study's).
    assert view.columns.tolist() == ["rank", "B", "A"]
    assert view.to_dict("list") == {
        "rank": [1, 2],
        "B": ["Up", "Heat"],
        "A": ["Fargo", "Alien"],
    }
    assert "Top 2 movies for user 7" in caplog.text and "Fargo" in caplog.text
    with pytest.raises(ValueError, match="user_id 8 has no recommendations"):
        show_user_recommendations(recommend_options(user_id=8, top_k=2), recs)
    # An older run stored fewer than top_k per user.
    with pytest.raises(ValueError, match="raise recommend.stored_top_k"):
        show_user_recommendations(recommend_options(user_id=7, top_k=3), recs)
