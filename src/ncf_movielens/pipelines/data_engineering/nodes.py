"""Data engineering: raw MovieLens files to a train/test split, implicit-feedback
sparse matrices, and the long table that NCF trains on."""

from __future__ import annotations

import io
import logging
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ncf_movielens.fetch import RawFiles
from ncf_movielens.validation import ParseOptions, read_ratings

logger = logging.getLogger(__name__)

GENRES = (
    "unknown Action Adventure Animation Children's Comedy Crime Documentary Drama "
    "Fantasy Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western"
).split()
SPLIT_STRATEGIES = ("ua", "ub", "temporal", "random")
RESHAPE_MODES = ("all_pairs", "positives")


def parse_ratings(
    raw: RawFiles, parse_options: dict[str, Any] | None = None
) -> pd.DataFrame:
    """``u.data`` as a table of (user_id, item_id, rating, timestamp), file order.

    Every row is checked against ``ncf_movielens.validation.RATING_RULES``
    (fields, integers, positive ids, the rating scale, repeated pairs handled as
    ``parse_options.duplicates`` says); a broken rule raises ``RatingsError``
    naming the file, the lines and the rule.
    """
    options = ParseOptions.model_validate(parse_options or {})
    return read_ratings(raw["u.data"], options, source="u.data")


def parse_movies(raw: RawFiles) -> pd.DataFrame:
    """``u.item`` as a table of (item_id, title, genres), genres joined by ``|``."""
    columns = ["item_id", "title", "release_date", "video_release_date", "url", *GENRES]
    movies = pd.read_csv(
        io.BytesIO(raw["u.item"]),
        sep="|",
        names=columns,
        encoding="latin-1",
        keep_default_na=False,
    )
    flags = movies[GENRES].astype(bool).to_numpy()
    genres = ["|".join(np.asarray(GENRES)[row]) for row in flags]
    return pd.DataFrame(
        {
            "item_id": movies["item_id"].astype("int64"),
            "title": movies["title"].astype(str),
            "genres": genres,
        }
    )


def split_ratings(
    ratings: pd.DataFrame, split_options: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out ``test_size`` ratings of each user.

    - ``ua``: each user's first ratings in file order (GroupLens ``allbut.pl``;
      this is the split ``lightfm.datasets.fetch_movielens`` reads);
    - ``ub``: the next ``test_size`` ratings in file order (GroupLens ``ub``);
    - ``temporal``: each user's latest ratings by timestamp;
    - ``random``: a seeded random choice per user.
    """
    strategy = split_options["strategy"]
    size = int(split_options.get("test_size", 10))
    if strategy in ("ua", "ub"):
        start = 0 if strategy == "ua" else size
        rank = ratings.groupby("user_id", sort=False).cumcount()
        is_test = (rank >= start) & (rank < start + size)
    elif strategy == "temporal":
        newest_first = ratings.sort_values("timestamp", ascending=False, kind="stable")
        rank = newest_first.groupby("user_id", sort=False).cumcount()
        is_test = (rank < size).reindex(ratings.index)
    elif strategy == "random":
        rng = np.random.default_rng(split_options.get("seed", 42))
        shuffled = ratings.iloc[rng.permutation(len(ratings))]
        rank = shuffled.groupby("user_id", sort=False).cumcount()
        is_test = (rank < size).reindex(ratings.index)
    else:
        raise ValueError(
            f"split_options.strategy {strategy!r} is unknown; "
            f"expected one of {SPLIT_STRATEGIES}"
        )
    train, test = ratings[~is_test], ratings[is_test]
    logger.info(
        "Split %d ratings with %r: %d train, %d test",
        len(ratings),
        strategy,
        len(train),
        len(test),
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _interactions(
    ratings: pd.DataFrame, shape: tuple[int, int], min_rating: float
) -> sp.csr_matrix:
    kept = ratings[ratings["rating"] >= min_rating]
    matrix = sp.csr_matrix(
        (
            np.ones(len(kept), dtype=np.int8),
            (kept["user_id"].to_numpy() - 1, kept["item_id"].to_numpy() - 1),
        ),
        shape=shape,
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1  # a repeated (user, item) pair is still one interaction
    return matrix


def binarize_ratings(
    train_ratings: pd.DataFrame,
    test_ratings: pd.DataFrame,
    binarize_options: dict[str, Any],
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Implicit-feedback users x items matrices: 1 where rating >= ``min_rating``.

    Row ``u - 1`` is user ``u`` and column ``i - 1`` is item ``i``, so both
    matrices share the shape (max user id, max item id), as in
    ``lightfm.datasets.fetch_movielens``.
    """
    both = pd.concat([train_ratings, test_ratings])
    shape = (int(both["user_id"].max()), int(both["item_id"].max()))
    min_rating = float(binarize_options["min_rating"])
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
    matrix: sp.spmatrix, reshape_options: dict[str, Any]
) -> pd.DataFrame:
    """Wide users x items matrix to long (user_id, item_id, interaction) rows.

    ``all_pairs`` is the seed's table: every user x item pair, labelled 1 for an
    interaction and 0 otherwise (0-based ids, user-major order). ``positives``
    keeps only the interactions. Neither builds a dense 2-D array.
    """
    mode = reshape_options["mode"]
    coo = sp.coo_matrix(matrix)
    n_users, n_items = coo.shape
    if mode == "positives":
        order = np.lexsort((coo.col, coo.row))
        users, items = coo.row[order], coo.col[order]
        labels = np.ones(len(users), dtype=np.int8)
    elif mode == "all_pairs":
        users = np.repeat(np.arange(n_users, dtype=np.int32), n_items)
        items = np.tile(np.arange(n_items, dtype=np.int32), n_users)
        labels = np.zeros(n_users * n_items, dtype=np.int8)
        labels[coo.row.astype(np.int64) * n_items + coo.col] = 1
    else:
        raise ValueError(
            f"reshape_options.mode {mode!r} is unknown; expected one of {RESHAPE_MODES}"
        )
    return pd.DataFrame(
        {
            "user_id": users.astype(np.int32),
            "item_id": items.astype(np.int32),
            "interaction": labels,
        }
    )


def long_to_matrix(long: pd.DataFrame, shape: tuple[int, int]) -> sp.csr_matrix:
    """Long rows back to the wide sparse matrix (rows with interaction 0 drop)."""
    kept = long[long["interaction"] != 0]
    return sp.csr_matrix(
        (
            kept["interaction"].to_numpy(dtype=np.int8),
            (kept["user_id"].to_numpy(), kept["item_id"].to_numpy()),
        ),
        shape=shape,
    )
