"""Data engineering: raw MovieLens files to a train/test split, implicit-feedback
sparse matrices, and the long table that NCF trains on."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ncf_movielens.interactions import positive_rows
from ncf_movielens.movielens.fetch import RawFiles
from ncf_movielens.movielens.movies import check_covers_ratings, read_movies
from ncf_movielens.movielens.ratings import read_ratings
from ncf_movielens.movielens.variants import get_variant
from ncf_movielens.parameter_errors import ParameterError
from ncf_movielens.parameters import (
    BinarizeOptions,
    ParseOptions,
    ReshapeOptions,
    SplitOptions,
)

logger = logging.getLogger(__name__)


def parse_ratings(
    raw: RawFiles, parse_options: ParseOptions, variant: str
) -> pd.DataFrame:
    """The variant's ratings file as (user_id, item_id, rating, timestamp) rows
    in file order.

    Every row is checked against ``ncf_movielens.movielens.ratings.RATING_RULES``
    (fields, integers, positive ids, the rating scale, repeated pairs handled as
    ``parse_options.duplicates`` says); a broken rule raises ``RatingsError``
    naming the file, the lines and the rule.
    """
    return read_ratings(raw, get_variant(variant), parse_options)


def parse_movies(raw: RawFiles, ratings: pd.DataFrame, variant: str) -> pd.DataFrame:
    """The variant's movies file as (item_id, title, genres), genres joined by ``|``.

    The file is checked against ``ncf_movielens.movielens.movies.MOVIE_RULES``
    (size, encoding, fields, positive and unique ids) and must hold a row for
    every item of ``ratings``; a broken rule raises ``MoviesError`` naming the
    file.
    """
    spec = get_variant(variant)
    movies = read_movies(raw, spec)
    check_covers_ratings(movies, ratings, spec)
    return movies


def split_ratings(
    ratings: pd.DataFrame, split_options: SplitOptions
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out ``test_size`` ratings of each user.

    - ``ua``: each user's first ratings in file order (GroupLens ``allbut.pl``;
      this is the split ``lightfm.datasets.fetch_movielens`` reads);
    - ``ub``: the next ``test_size`` ratings in file order (GroupLens ``ub``);
    - ``temporal``: each user's latest ratings by timestamp;
    - ``random``: a seeded random choice per user.
    """
    strategy, size = split_options.strategy, split_options.test_size
    if strategy in ("ua", "ub"):
        start = 0 if strategy == "ua" else size
        rank = ratings.groupby("user_id", sort=False).cumcount()
        is_test = (rank >= start) & (rank < start + size)
    else:
        if strategy == "temporal":
            order = ratings.sort_values("timestamp", ascending=False, kind="stable")
        else:  # random
            rng = np.random.default_rng(split_options.seed)
            order = ratings.iloc[rng.permutation(len(ratings))]
        rank = order.groupby("user_id", sort=False).cumcount()
        is_test = (rank < size).reindex(ratings.index)
    train, test = ratings[~is_test], ratings[is_test]
    _check_split(ratings, train, test, split_options)
    logger.info(
        "Split %d ratings with %r: %d train, %d test",
        len(ratings),
        strategy,
        len(train),
        len(test),
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _check_split(
    ratings: pd.DataFrame,
    train: pd.DataFrame,
    test: pd.DataFrame,
    options: SplitOptions,
) -> None:
    """``ParameterError`` when a user has no train rating (no model can learn them,
    yet they are scored) or the train or test set is empty; raised before any
    split is saved."""
    setting = (
        f"split_options.test_size = {options.test_size} with "
        f"split_options.strategy {options.strategy!r}"
    )
    n_users = ratings["user_id"].nunique()
    trainless = n_users - train["user_id"].nunique()
    if trainless:
        fewest = ratings.groupby("user_id", sort=False).size().min()
        raise ParameterError(
            f"{setting} leaves {trainless:,} of {n_users:,} users with no train "
            f"rating{' (the train set is empty)' if train.empty else ''}: a user "
            f"needs more than test_size ratings, and the fewest any user has is "
            f"{fewest}. Lower split_options.test_size."
        )
    if train.empty or test.empty:
        raise ParameterError(
            f"{setting} leaves the {'train' if train.empty else 'test'} set empty "
            f"({len(ratings):,} ratings). Lower split_options.test_size."
        )


def _interactions(
    ratings: pd.DataFrame, shape: tuple[int, int], min_rating: float
) -> sp.csr_matrix:
    kept = ratings["rating"].to_numpy() >= min_rating  # no copy of the other columns
    users = ratings["user_id"].to_numpy()[kept] - 1
    items = ratings["item_id"].to_numpy()[kept] - 1
    matrix = sp.csr_matrix(
        (np.ones(len(users), dtype=np.int8), (users, items)), shape=shape
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1  # a repeated (user, item) pair is still one interaction
    return matrix


def binarize_ratings(
    train_ratings: pd.DataFrame,
    test_ratings: pd.DataFrame,
    binarize_options: BinarizeOptions,
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Implicit-feedback users x items matrices: 1 where rating >= ``min_rating``.

    Row ``u - 1`` is user ``u`` and column ``i - 1`` is item ``i``, so both
    matrices share the shape (max user id, max item id), as in
    ``lightfm.datasets.fetch_movielens``.
    """
    # The largest ids of either table, without copying both into one frame.
    tables = [table for table in (train_ratings, test_ratings) if len(table)]
    shape = tuple(
        int(max(table[column].max() for table in tables))
        for column in ("user_id", "item_id")
    )
    min_rating = binarize_options.min_rating
    train = _interactions(train_ratings, shape, min_rating)
    test = _interactions(test_ratings, shape, min_rating)
    logger.info(
        "Interactions (rating >= %s) on %d x %d: train nnz %d, test nnz %d",
        min_rating,
        *shape,
        train.nnz,
        test.nnz,
    )
    return train, test


def matrix_to_long(
    matrix: sp.spmatrix, reshape_options: ReshapeOptions
) -> pd.DataFrame:
    """Wide users x items matrix to long (user_id, item_id, interaction) rows.

    ``all_pairs`` is the notebook's table: every user x item pair, labelled 1 for an
    interaction and 0 otherwise (0-based ids, user-major order). ``positives``
    keeps only the interactions. Neither builds a dense 2-D array, but
    ``all_pairs`` has users x items rows: it is refused above
    ``reshape_options.max_pairs`` of them.
    """
    if reshape_options.mode == "positives":
        return positive_rows(matrix)
    coo = sp.coo_matrix(matrix)
    n_users, n_items = coo.shape
    # all_pairs
    limit = reshape_options.max_pairs
    if n_users * n_items > limit:
        raise ParameterError(
            "reshape_options.mode 'all_pairs' needs one row per user x item: "
            f"{n_users:,} x {n_items:,} = {n_users * n_items:,} pairs, above "
            f"reshape_options.max_pairs = {limit:,}. Use mode 'positives' "
            "(NCF samples its negatives) or raise max_pairs."
        )
    users = np.repeat(np.arange(n_users, dtype=np.int32), n_items)
    items = np.tile(np.arange(n_items, dtype=np.int32), n_users)
    labels = np.zeros(n_users * n_items, dtype=np.int8)
    labels[coo.row.astype(np.int64) * n_items + coo.col] = 1
    return pd.DataFrame(
        {
            "user_id": users.astype(np.int32),
            "item_id": items.astype(np.int32),
            "interaction": labels,
        }
    )
