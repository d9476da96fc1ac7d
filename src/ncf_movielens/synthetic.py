"""Synthetic MovieLens-format data: long-tailed users and items with a cluster
structure that recommenders can learn. Tests and scale benchmarks use it, since
the MovieLens terms forbid shipping the real files."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ncf_movielens.fetch import RawFiles


def _zipf_weights(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return rng.permutation(weights / weights.sum())


def make_ratings(
    n_users: int = 60,
    n_items: int = 80,
    n_ratings: int = 1500,
    *,
    n_clusters: int = 4,
    affinity: float = 0.75,
    seed: int = 0,
) -> pd.DataFrame:
    """Ratings (user_id, item_id, rating, timestamp), 1-based ids, no repeated
    (user, item) pair, every user and item id in range at least once.

    Users and items follow Zipf-like popularity. Each user and item belongs to
    one of ``n_clusters`` taste clusters; a share ``affinity`` of each user's
    ratings go to items of the user's cluster, and those ratings are higher.
    """
    if n_ratings > n_users * n_items:
        raise ValueError(
            f"n_ratings {n_ratings} exceeds the {n_users} x {n_items} possible pairs"
        )
    rng = np.random.default_rng(seed)
    user_cluster = rng.integers(n_clusters, size=n_users)
    item_cluster = rng.integers(n_clusters, size=n_items)
    user_p = _zipf_weights(n_users, 0.8, rng)
    item_p = _zipf_weights(n_items, 1.0, rng)
    cluster_items = [np.flatnonzero(item_cluster == c) for c in range(n_clusters)]

    # Every user and every item appears once; the rest is drawn in rounds until
    # enough distinct pairs exist.
    users = [np.arange(n_users), rng.choice(n_users, n_items, p=user_p)]
    items = [rng.choice(n_items, n_users, p=item_p), np.arange(n_items)]
    pairs = _unique_pairs(users, items, n_items)
    while len(pairs) < n_ratings:
        need = int((n_ratings - len(pairs)) * 1.3) + 16
        draw_users = rng.choice(n_users, need, p=user_p)
        draw_items = rng.choice(n_items, need, p=item_p)
        in_cluster = rng.random(need) < affinity
        for c in range(n_clusters):
            members = cluster_items[c]
            pick = in_cluster & (user_cluster[draw_users] == c)
            if len(members) and pick.any():
                member_p = item_p[members] / item_p[members].sum()
                draw_items[pick] = rng.choice(members, int(pick.sum()), p=member_p)
        users.append(draw_users)
        items.append(draw_items)
        pairs = _unique_pairs(users, items, n_items)
    pairs = pairs[:n_ratings]
    user_idx, item_idx = pairs // n_items, pairs % n_items
    liked = user_cluster[user_idx] == item_cluster[item_idx]
    mean = np.where(liked, 4.2, 2.4)
    rating = np.clip(np.rint(mean + rng.normal(0, 0.9, len(pairs))), 1, 5)
    timestamp = 874_724_710 + rng.integers(0, 20_000_000, len(pairs))
    order = rng.permutation(len(pairs))  # u.data is in no particular order
    return pd.DataFrame(
        {
            "user_id": user_idx[order] + 1,
            "item_id": item_idx[order] + 1,
            "rating": rating[order].astype(np.int64),
            "timestamp": timestamp[order].astype(np.int64),
        }
    )


def _unique_pairs(
    users: list[np.ndarray], items: list[np.ndarray], n_items: int
) -> np.ndarray:
    """Distinct user * n_items + item codes, in first-seen order."""
    codes = np.concatenate(users).astype(np.int64) * n_items + np.concatenate(items)
    _, first = np.unique(codes, return_index=True)
    return codes[np.sort(first)]


def make_movies(n_items: int, seed: int = 0) -> pd.DataFrame:
    """Movies (item_id, title, genre flags) in the ``u.item`` column order."""
    rng = np.random.default_rng(seed)
    genres = rng.random((n_items, 19)) < 0.15
    genres[np.arange(n_items), rng.integers(19, size=n_items)] = True
    frame = pd.DataFrame(genres.astype(int), columns=[f"g{i}" for i in range(19)])
    frame.insert(0, "url", "")
    frame.insert(0, "video_release_date", "")
    frame.insert(0, "release_date", "01-Jan-1995")
    frame.insert(0, "title", [f"Movie {i} (1995)" for i in range(1, n_items + 1)])
    frame.insert(0, "item_id", np.arange(1, n_items + 1))
    return frame


def to_raw_files(ratings: pd.DataFrame, movies: pd.DataFrame) -> RawFiles:
    """The two tables as GroupLens ``u.data`` / ``u.item`` bytes."""
    u_data = ratings[["user_id", "item_id", "rating", "timestamp"]].to_csv(
        sep="\t", header=False, index=False, lineterminator="\n"
    )
    u_item = movies.to_csv(sep="|", header=False, index=False, lineterminator="\n")
    return {"u.data": u_data.encode("ascii"), "u.item": u_item.encode("latin-1")}


def make_raw_files(
    n_users: int = 60, n_items: int = 80, n_ratings: int = 1500, seed: int = 0
) -> RawFiles:
    """A small synthetic MovieLens in GroupLens file format."""
    return to_raw_files(
        make_ratings(n_users, n_items, n_ratings, seed=seed), make_movies(n_items, seed)
    )
