"""MovieLens movies files (``u.item``, ``movies.dat``, ``movies.csv``) as one
table: item id, title and genres."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ncf_movielens.movielens.variants import GENRES, Variant, raw_file

#: ``u.item``'s pipe-separated fields.
U_ITEM_COLUMNS = (
    "item_id",
    "title",
    "release_date",
    "video_release_date",
    "url",
    *GENRES,
)


def read_movies(raw: Mapping[str, bytes], variant: Variant) -> pd.DataFrame:
    """The variant's movies file as (item_id, title, genres) rows, the genres
    joined by ``|`` (empty when none is listed)."""
    data = raw_file(raw, variant, variant.movies_file)
    if variant.file_format == "u.data":
        return _read_u_item(data)
    return _read_delimited(data, header=variant.file_format == "csv")


def _read_u_item(data: bytes) -> pd.DataFrame:
    """MovieLens 100K's ``u.item``: pipe-separated, one 0/1 column per genre."""
    movies = pd.read_csv(
        io.BytesIO(data),
        sep="|",
        names=list(U_ITEM_COLUMNS),
        encoding="latin-1",
        keep_default_na=False,
    )
    flags = movies[list(GENRES)].astype(bool).to_numpy()
    genres = ["|".join(np.asarray(GENRES)[row]) for row in flags]
    return _movies(movies, genres)


def _read_delimited(data: bytes, header: bool) -> pd.DataFrame:
    """``movies.dat`` (``::``-separated, Latin-1) or ``movies.csv`` (a header,
    UTF-8, quoted titles); both already join the genres by ``|``."""
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
    return _movies(movies, genres)


def _movies(movies: pd.DataFrame, genres: list[str] | pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": movies["item_id"].astype("int64"),
            "title": movies["title"].astype(str),
            "genres": genres,
        }
    )
