"""Data engineering: raw MovieLens files to a train/test split, implicit-feedback
sparse matrices, and the long table that NCF trains on."""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ncf_movielens.fetch import RawFiles
from ncf_movielens.validation import (
    ParseOptions,
    RatingsError,
    check_ratings,
    read_ratings,
)
from ncf_movielens.variants import Variant, get_variant

logger = logging.getLogger(__name__)

GENRES = (
    "unknown Action Adventure Animation Children's Comedy Crime Documentary Drama "
    "Fantasy Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western"
).split()
SPLIT_STRATEGIES = ("ua", "ub", "temporal", "random")
RESHAPE_MODES = ("all_pairs", "positives")


def _raw_file(raw: RawFiles, name: str, variant: Variant) -> bytes:
    if name not in raw:
        raise ValueError(
            f"variant {variant.name!r} reads {name}, but the raw files are "
            f"{sorted(raw)}: select the variant with --params=variant=<name>, which "
            "sets both the catalog's source and the parsers"
        )
    return raw[name]


def _ratings_table(data: bytes, variant: Variant) -> pd.DataFrame:
    """A ``::``-separated or CSV ratings file as typed rows indexed by 1-based
    line number."""
    dtypes = {
        "user_id": "int64",
        "item_id": "int64",
        "rating": "float64",
        "timestamp": "int64",
    }
    header = variant.file_format == "csv"
    text = data if header else data.replace(b"::", b"\t")
    try:
        table = pd.read_csv(
            io.BytesIO(text),
            sep="," if header else "\t",
            header=0 if header else None,
            names=list(dtypes),
            dtype=dtypes,
        )
    except (ValueError, pd.errors.ParserError) as err:
        raise RatingsError(f"{variant.ratings_file}: cannot be parsed: {err}") from err
    table.index += 2 if header else 1
    return table


def parse_ratings(
    raw: RawFiles, parse_options: dict[str, Any] | None = None, variant: str = "ml-100k"
) -> pd.DataFrame:
    """The variant's ratings file as (user_id, item_id, rating, timestamp) rows
    in file order.

    Every row is checked against ``ncf_movielens.validation.RATING_RULES``
    (fields, integers, positive ids, the rating scale, repeated pairs handled as
    ``parse_options.duplicates`` says); a broken rule raises ``RatingsError``
    naming the file, the lines and the rule.
    """
    spec = get_variant(variant)
    options = ParseOptions.model_validate(parse_options or {})
    if options.rating_scale is None:
        options = options.model_copy(update={"rating_scale": spec.rating_scale})
    data = _raw_file(raw, spec.ratings_file, spec)
    if spec.file_format == "u.data":
        return read_ratings(data, options, source=spec.ratings_file)
    table = _ratings_table(data, spec)
    if table.empty:
        raise RatingsError(f"{spec.ratings_file}: no rows")
    return check_ratings(table, options, spec.ratings_file)


def parse_movies(raw: RawFiles, variant: str = "ml-100k") -> pd.DataFrame:
    """The variant's movies file as (item_id, title, genres), genres joined by ``|``."""
    spec = get_variant(variant)
    data = _raw_file(raw, spec.movies_file, spec)
    if spec.file_format == "u.data":
        return _parse_u_item(data)
    header = spec.file_format == "csv"
    movies = pd.read_csv(
        io.BytesIO(data if header else data.replace(b"::", b"\t")),
        sep="," if header else "\t",
        header=0 if header else None,
        names=["item_id", "title", "genres"],
        encoding="utf-8" if header else "latin-1",
        quoting=csv.QUOTE_MINIMAL if header else csv.QUOTE_NONE,
        keep_default_na=False,
    )
    genres = movies["genres"].astype(str).replace("(no genres listed)", "")
    return pd.DataFrame(
        {
            "item_id": movies["item_id"].astype("int64"),
            "title": movies["title"].astype(str),
            "genres": genres,
        }
    )


def _parse_u_item(data: bytes) -> pd.DataFrame:
    """MovieLens 100K's ``u.item``: pipe-separated, one 0/1 column per genre."""
    columns = ["item_id", "title", "release_date", "video_release_date", "url", *GENRES]
    movies = pd.read_csv(
        io.BytesIO(data),
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
    binarize_options: dict[str, Any],
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
    keeps only the interactions. Neither builds a dense 2-D array, but
    ``all_pairs`` has users x items rows: it is refused above
    ``reshape_options.max_dense_cells`` (default 50M) of them.
    """
    mode = reshape_options["mode"]
    coo = sp.coo_matrix(matrix)
    n_users, n_items = coo.shape
    if mode == "positives":
        order = np.lexsort((coo.col, coo.row))
        users, items = coo.row[order], coo.col[order]
        labels = np.ones(len(users), dtype=np.int8)
    elif mode == "all_pairs":
        limit = int(reshape_options.get("max_dense_cells", 50_000_000))
        if n_users * n_items > limit:
            raise ValueError(
                "reshape_options.mode 'all_pairs' needs one row per user x item: "
                f"{n_users:,} x {n_items:,} = {n_users * n_items:,} cells, above "
                f"reshape_options.max_dense_cells = {limit:,}. Use mode 'positives' "
                "(NCF samples its negatives) or raise max_dense_cells."
            )
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
