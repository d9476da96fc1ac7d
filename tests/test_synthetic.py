"""The synthetic MovieLens generator keeps its contract (ids, no repeated pair,
every id present, long tails, learnable clusters) and writes GroupLens files."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from ncf_movielens import synthetic
from ncf_movielens.movielens.fetch import sha256
from ncf_movielens.movielens.movies import U_ITEM_COLUMNS
from ncf_movielens.movielens.variants import GENRES
from ncf_movielens.synthetic import (
    make_movies,
    make_ratings,
    make_raw_files,
    to_raw_files,
    write_raw_files,
    write_u_data,
)


@pytest.mark.parametrize(
    ("n_users", "n_items", "n_ratings"),
    [
        (60, 80, 1500),  # the shared fixture's size
        (30, 200, 1500),
        (150, 120, 4000),
        (3, 5, 6),
        (40, 25, 40),  # one rating per user: just enough to hold every id
        (12, 10, 120),  # every pair rated
        (943, 1682, 100_000),  # MovieLens 100K's shape
    ],
)
def test_ratings_keep_the_contract(n_users, n_items, n_ratings):
    ratings = make_ratings(n_users, n_items, n_ratings, seed=1)
    assert list(ratings.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert all(dtype == np.int64 for dtype in ratings.dtypes)
    assert len(ratings) == n_ratings
    assert not ratings.duplicated(["user_id", "item_id"]).any()
    assert set(ratings["user_id"]) == set(range(1, n_users + 1))
    assert set(ratings["item_id"]) == set(range(1, n_items + 1))
    assert ratings["rating"].between(1, 5).all()
    assert (ratings["timestamp"] > 0).all()


def test_same_seed_same_ratings():
    first = make_ratings(50, 70, 900, seed=4)
    pd.testing.assert_frame_equal(first, make_ratings(50, 70, 900, seed=4))
    assert not first.equals(make_ratings(50, 70, 900, seed=5))


def test_popularity_is_long_tailed():
    ratings = make_ratings(943, 1682, 100_000, seed=0)
    items = ratings["item_id"].value_counts().to_numpy()  # descending
    users = ratings["user_id"].value_counts().to_numpy()
    # Uniform popularity would give the top 10% a 10% share. (MovieLens 100K:
    # 43% of ratings go to the top 10% of items, 32% come from the top 10% of users.)
    assert items[: len(items) // 10].sum() / len(ratings) > 0.3
    assert users[: len(users) // 10].sum() / len(ratings) > 0.2
    assert items[0] > 20 * np.median(items)


def test_ratings_follow_taste_clusters():
    ratings = make_ratings(300, 400, 20_000, n_clusters=4, affinity=0.75, seed=2)
    # Ratings inside a user's cluster are high; with affinity most ratings are.
    liked = ratings["rating"] >= 4
    assert 0.3 < liked.mean() < 0.8
    no_affinity = make_ratings(300, 400, 20_000, n_clusters=4, affinity=0.0, seed=2)
    assert liked.mean() > (no_affinity["rating"] >= 4).mean() + 0.15


def test_refuses_impossible_sizes():
    with pytest.raises(ValueError, match="exceeds the 3 x 4 possible pairs"):
        make_ratings(3, 4, 13)
    with pytest.raises(ValueError, match="every user and item needs a rating"):
        make_ratings(10, 30, 20)


def test_write_u_data_in_chunks_matches_the_grouplens_format(tmp_path, monkeypatch):
    ratings = make_ratings(40, 50, 700, seed=3)
    monkeypatch.setattr(synthetic, "_CHUNK_ROWS", 64)  # 11 chunks
    path = tmp_path / "u.data"
    digest = write_u_data(ratings, path)

    expected = ratings.to_csv(sep="\t", header=False, index=False, lineterminator="\n")
    assert path.read_bytes() == expected.encode("ascii")
    assert digest == sha256(path.read_bytes())
    assert to_raw_files(ratings, make_movies(50))["u.data"] == path.read_bytes()
    back = pd.read_csv(io.BytesIO(path.read_bytes()), sep="\t", names=ratings.columns)
    pd.testing.assert_frame_equal(back, ratings)


def test_movies_have_the_u_item_columns_and_a_genre_each():
    movies = make_movies(40, seed=2)
    assert tuple(movies.columns) == U_ITEM_COLUMNS
    assert (movies[list(GENRES)].sum(axis=1) >= 1).all()


def test_raw_files_hold_both_tables(tmp_path):
    raw = make_raw_files(n_users=20, n_items=30, n_ratings=200, seed=0)
    assert raw["u.data"].count(b"\n") == 200
    assert raw["u.item"].count(b"\n") == 30
    assert raw["u.item"].startswith(b"1|Movie 1 (1995)|01-Jan-1995||")

    cache = tmp_path / "ml-100k"
    digest = write_raw_files(
        make_ratings(20, 30, 200, seed=0), make_movies(30, seed=0), cache
    )
    assert (cache / "u.data").read_bytes() == raw["u.data"]
    assert (cache / "u.item").read_bytes() == raw["u.item"]
    assert digest == sha256(raw["u.data"])
