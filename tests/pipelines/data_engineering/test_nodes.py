"""Nodes of the data engineering pipeline, on synthetic data, with the
project's own parameters (conf/base) as Kedro passes them."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from ncf_movielens.movielens.movies import MoviesError
from ncf_movielens.movielens.variants import GENRES
from ncf_movielens.parameters import (
    BinarizeOptions,
    ParseOptions,
    ReshapeOptions,
    SplitOptions,
)
from ncf_movielens.pipelines.data_engineering.nodes import (
    binarize_ratings,
    matrix_to_long,
    parse_movies,
    parse_ratings,
    split_ratings,
)
from ncf_movielens.synthetic import make_movies, make_ratings, to_raw_files
from tests.support import project_options

parse_options = partial(project_options, ParseOptions, "parse_options")
split_options = partial(project_options, SplitOptions, "split_options")
binarize_options = partial(project_options, BinarizeOptions, "binarize_options")
reshape_options = partial(project_options, ReshapeOptions, "reshape_options")


def _allbut(lines: list[str], first: int, last: int) -> tuple[list[str], list[str]]:
    """GroupLens allbut.pl, line by line: a user's ratings number ``first`` to
    ``last`` in file order go to test, the rest to base."""
    seen: dict[str, int] = {}
    base, test = [], []
    for line in lines:
        user = line.split("\t")[0]
        seen[user] = seen.get(user, 0) + 1
        (test if first <= seen[user] <= last else base).append(line)
    return base, test


@pytest.fixture
def ratings() -> pd.DataFrame:
    # 30 users with at least 25 ratings each, interleaved in file order.
    return make_ratings(n_users=30, n_items=200, n_ratings=1500, seed=3)


def test_parse_ratings_keeps_file_order(raw_files):
    ratings = parse_ratings(raw_files, parse_options(), "ml-100k")
    lines = raw_files["u.data"].decode().splitlines()
    assert list(ratings.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert ratings.to_numpy().tolist() == [
        [int(field) for field in line.split("\t")] for line in lines
    ]
    assert ratings.index.equals(pd.RangeIndex(len(lines)))
    assert all(dtype == np.int64 for dtype in ratings.dtypes)


def test_parse_movies_joins_genre_names():
    movies = make_movies(5, seed=1)
    movies.loc[0, list(GENRES)] = 0
    movies.loc[0, ["Action", "Western"]] = 1
    ratings = make_ratings(3, 5, 6)
    parsed = parse_movies(to_raw_files(ratings, movies), ratings, "ml-100k")
    assert list(parsed.columns) == ["item_id", "title", "genres"]
    assert parsed.loc[0, "genres"] == "Action|Western"
    assert parsed.loc[0, "title"] == "Movie 1 (1995)"
    assert parsed["item_id"].tolist() == [1, 2, 3, 4, 5]


def test_parse_movies_refuses_rated_items_without_a_movie_row():
    ratings = make_ratings(3, 8, 12)
    raw = to_raw_files(ratings, make_movies(5))  # items 6, 7 and 8 are rated too
    with pytest.raises(MoviesError) as error:
        parse_movies(raw, ratings, "ml-100k")
    assert str(error.value).startswith(
        "u.item: 3 item id(s) rated in u.data have no row"
    )
    assert str(error.value).endswith("item_id 6, 7, 8")


@pytest.mark.parametrize(("strategy", "first", "last"), [("ua", 1, 10), ("ub", 11, 20)])
def test_ua_ub_split_matches_allbut(ratings, strategy, first, last):
    raw = to_raw_files(ratings, make_movies(200))
    lines = raw["u.data"].decode().splitlines()
    base, test = _allbut(lines, first, last)

    train_df, test_df = split_ratings(
        parse_ratings(raw, parse_options(), "ml-100k"),
        split_options(strategy=strategy, test_size=10),
    )

    def as_lines(df: pd.DataFrame) -> list[str]:
        return sorted(df.astype(str).agg("\t".join, axis=1))

    assert as_lines(test_df) == sorted(test)
    assert as_lines(train_df) == sorted(base)


def test_temporal_split_holds_out_latest(ratings):
    train, test = split_ratings(
        ratings, split_options(strategy="temporal", test_size=3)
    )
    per_user = test.groupby("user_id").size()
    assert per_user.index.tolist() == sorted(ratings["user_id"].unique())
    assert (per_user == 3).all()  # every user has more than 3 ratings
    latest_train = train.groupby("user_id")["timestamp"].max()
    earliest_test = test.groupby("user_id")["timestamp"].min()
    assert (earliest_test >= latest_train.reindex(earliest_test.index)).all()


def test_random_split_is_seeded(ratings):
    options = split_options(strategy="random", test_size=4, seed=7)
    first = split_ratings(ratings, options)[1]
    again = split_ratings(ratings, options)[1]
    other = split_ratings(
        ratings, split_options(strategy="random", test_size=4, seed=8)
    )[1]
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)
    assert (first.groupby("user_id").size() == 4).all()


@pytest.mark.parametrize("strategy", ["ua", "temporal", "random"])
def test_a_split_that_empties_train_is_refused(ratings, strategy):
    fewest = ratings.groupby("user_id").size().min()
    with pytest.raises(ValueError) as error:
        split_ratings(ratings, split_options(strategy=strategy, test_size=1000))
    assert str(error.value) == (
        f"split_options.test_size = 1000 with split_options.strategy {strategy!r} "
        "leaves 30 of 30 users with no train rating (the train set is empty): a "
        "user needs more than test_size ratings, and the fewest any user has is "
        f"{fewest}. Lower split_options.test_size."
    )


@pytest.mark.parametrize("strategy", ["ua", "temporal", "random"])
def test_a_user_left_with_no_train_rating_is_refused(ratings, strategy):
    # Users 31 and 32 rate 3 items each: a test_size of 3 holds out all of them.
    few = pd.DataFrame(
        {
            "user_id": [31, 32] * 3,
            "item_id": [1, 1, 2, 2, 3, 3],
            "rating": 4,
            "timestamp": 880_000_000,
        }
    )
    with_few = pd.concat([ratings, few], ignore_index=True)
    with pytest.raises(ValueError, match=r"3 .*'.*' leaves 2 of 32 users with no"):
        split_ratings(with_few, split_options(strategy=strategy, test_size=3))
    train, _ = split_ratings(with_few, split_options(strategy=strategy, test_size=2))
    assert train.groupby("user_id").size().loc[[31, 32]].tolist() == [1, 1]


def test_a_split_that_empties_test_is_refused(ratings):
    most = int(ratings.groupby("user_id").size().max())
    with pytest.raises(
        ValueError,
        match=rf"^split_options.test_size = {most} with split_options.strategy "
        r"'ub' leaves the test set empty \(1,500 ratings\)",
    ):
        split_ratings(ratings, split_options(strategy="ub", test_size=most))
    _, test = split_ratings(ratings, split_options(strategy="ub", test_size=most - 1))
    assert len(test) == 1  # the one user with the most ratings keeps a test rating


def test_binarize_keeps_ratings_at_or_above_threshold():
    train = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 3],
            "item_id": [1, 2, 2, 4],
            "rating": [3, 2, 5, 1],
            "timestamp": 0,
        }
    )
    test = pd.DataFrame({"user_id": [2], "item_id": [3], "rating": [4], "timestamp": 0})
    train_m, test_m = binarize_ratings(train, test, binarize_options(min_rating=3.0))
    assert train_m.shape == test_m.shape == (3, 4)
    assert sp.isspmatrix_csr(train_m)
    assert train_m.toarray().tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    assert test_m.toarray().tolist() == [[0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    assert train_m.dtype == np.int8


def test_binarize_shape_holds_the_test_tables_largest_ids():
    train = pd.DataFrame(
        {"user_id": [1, 2], "item_id": [3, 1], "rating": [4, 5], "timestamp": 0}
    )
    test = pd.DataFrame(
        {"user_id": [2, 7], "item_id": [9, 2], "rating": [4, 3], "timestamp": 0}
    )
    train_m, test_m = binarize_ratings(train, test, binarize_options(min_rating=3.0))
    assert train_m.shape == test_m.shape == (7, 9)
    assert sorted(zip(*test_m.nonzero(), strict=True)) == [(1, 8), (6, 1)]
    assert sorted(zip(*train_m.nonzero(), strict=True)) == [(0, 2), (1, 0)]


def test_binarize_min_rating_zero_keeps_everything(ratings):
    train, test = split_ratings(ratings, split_options(strategy="ua", test_size=10))
    train_m, test_m = binarize_ratings(train, test, binarize_options(min_rating=0.0))
    assert train_m.nnz == len(train) and test_m.nnz == len(test)


def test_all_pairs_long_table_is_the_seeds():
    matrix = sp.csr_matrix(np.array([[1, 0, 1], [0, 0, 0]], dtype=np.int8))
    long = matrix_to_long(matrix, reshape_options(mode="all_pairs"))
    assert len(long) == 6
    assert long["interaction"].tolist() == [1, 0, 1, 0, 0, 0]
    assert long["user_id"].tolist() == [0, 0, 0, 1, 1, 1]
    assert long["item_id"].tolist() == [0, 1, 2, 0, 1, 2]


@pytest.mark.parametrize("mode", ["positives", "all_pairs"])
def test_long_table_round_trips_to_the_matrix(mode):
    rng = np.random.default_rng(0)
    matrix = sp.random(20, 30, density=0.1, format="csr", random_state=rng)
    matrix.data[:] = 1
    matrix = matrix.astype(np.int8)
    long = matrix_to_long(matrix, reshape_options(mode=mode))
    back = sp.csr_matrix(
        (long["interaction"], (long["user_id"], long["item_id"])), shape=matrix.shape
    )
    assert (back != matrix).nnz == 0
    assert len(long) == (matrix.nnz if mode == "positives" else 20 * 30)


def test_all_pairs_above_max_pairs_is_refused():
    matrix = sp.csr_matrix(np.eye(3, 4, dtype=np.int8))
    with pytest.raises(
        ValueError, match=r"3 x 4 = 12 pairs, above reshape_options\.max_pairs = 11"
    ):
        matrix_to_long(matrix, reshape_options(mode="all_pairs", max_pairs=11))
    assert (
        len(matrix_to_long(matrix, reshape_options(mode="all_pairs", max_pairs=12)))
        == 12
    )


def _variant_files(ratings: pd.DataFrame, fmt: str) -> dict[str, bytes]:
    """The synthetic ratings in another release's format: ml-1m/ml-10m ``::``
    files or ml-20m/ml-25m/latest CSVs with a header."""
    movies = pd.DataFrame(
        {"item_id": [1, 2, 3], "title": ['Heat, "The" (1995)', "Up (2009)", "X (1999)"]}
    )
    movies["genres"] = ["Action|Crime", "(no genres listed)", "Drama"]
    if fmt == "dat":
        rows = ratings.astype(str).agg("::".join, axis=1)
        films = movies.astype(str).agg("::".join, axis=1)
        return {
            "ratings.dat": ("\n".join(rows) + "\n").encode(),
            "movies.dat": ("\n".join(films) + "\n").encode("latin-1"),
        }
    header = "userId,movieId,rating,timestamp\n"
    return {
        "ratings.csv": (header + ratings.to_csv(header=False, index=False)).encode(),
        "movies.csv": movies.rename(columns={"item_id": "movieId"})
        .to_csv(index=False)
        .encode(),
    }


@pytest.mark.parametrize(
    ("variant", "fmt"),
    [
        ("ml-1m", "dat"),
        ("ml-10m", "dat"),
        ("ml-25m", "csv"),
        ("ml-latest-small", "csv"),
    ],
)
def test_other_variants_parse_to_the_same_tables(ratings, variant, fmt):
    half_stars = ratings.assign(rating=ratings["rating"] - 0.5 * (variant != "ml-1m"))
    raw = _variant_files(half_stars, fmt)
    parsed = parse_ratings(raw, parse_options(), variant)
    assert parsed[["user_id", "item_id", "timestamp"]].equals(
        half_stars[["user_id", "item_id", "timestamp"]].reset_index(drop=True)
    )
    np.testing.assert_allclose(parsed["rating"], half_stars["rating"])
    movies = parse_movies(raw, parsed[parsed["item_id"] <= 3], variant)
    assert movies["title"].tolist() == ['Heat, "The" (1995)', "Up (2009)", "X (1999)"]
    assert movies["genres"].tolist() == ["Action|Crime", "", "Drama"]


def test_variant_rating_scale_and_line_numbers():
    raw = {
        "ratings.csv": b"userId,movieId,rating,timestamp\n1,2,4.5,10\n1,3,0.0,11\n",
        "movies.csv": b"movieId,title,genres\n2,A,Drama\n3,B,Drama\n",
    }
    with pytest.raises(
        ValueError, match=r"ratings.csv.*0.5\.\.5\): line 3 \(rating 0.0\)"
    ):
        parse_ratings(raw, parse_options(), "ml-25m")


def test_raw_files_of_another_variant_are_refused(raw_files):
    with pytest.raises(
        ValueError, match=r"variant 'ml-1m' reads ratings.dat.*--params=variant"
    ):
        parse_ratings(raw_files, parse_options(), "ml-1m")
    with pytest.raises(ValueError, match="variant 'ml-3m' is unknown"):
        parse_movies(raw_files, pd.DataFrame({"item_id": [1]}), "ml-3m")
