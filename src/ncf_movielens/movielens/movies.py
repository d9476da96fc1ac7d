"""MovieLens movies files (``u.item``, ``movies.dat``, ``movies.csv``) as one
table: item id, title and genres, checked against ``MOVIE_RULES``; a broken rule
raises ``MoviesError`` naming the file, the lines and the rule."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from ncf_movielens.movielens.ratings import first_few
from ncf_movielens.movielens.variants import GENRES, Variant, raw_file


class MoviesError(ValueError):
    """A movies file that breaks one of ``MOVIE_RULES``."""


#: ``u.item``'s pipe-separated fields.
U_ITEM_COLUMNS = (
    "item_id",
    "title",
    "release_date",
    "video_release_date",
    "url",
    *GENRES,
)

#: The largest movies file read, checked before parsing, so a wrong file fails
#: at once instead of filling memory. Far above the GroupLens files (u.item
#: 236 KB, ml-10m's movies.dat 0.5 MB, ml-25m's movies.csv 3 MB) and the scale
#: benchmark's synthetic u.item (59,047 movies, 4.5 MB).
MAX_BYTES = {"u.item": 16 << 20, "movies.dat": 16 << 20, "movies.csv": 32 << 20}

_POSITIVE = r"0*[1-9]\d{0,17}"  # fits int64

#: The rules every movies file meets; each message names its rule. ``encoding``,
#: ``fields`` and ``genre_flags`` are checked line by line on ``u.item``; the
#: ``::`` and CSV files are read typed and fail as a whole.
MOVIE_RULES = {
    "size": "at most {limit:,} bytes",
    "encoding": "Latin-1 as GroupLens ships it, not re-encoded as UTF-8",
    "fields": f"{len(U_ITEM_COLUMNS)} pipe-separated fields (item_id, title, "
    f"release_date, video_release_date, url, {len(GENRES)} genre flags)",
    "positive_ids": "item_id is a positive integer",
    "genre_flags": "every genre flag is 0 or 1",
    "unique_ids": "one row per item_id",
    "non_empty": "at least one movie",
    "covers_ratings": "a row for every item_id of the ratings file",
}


def read_movies(raw: Mapping[str, bytes], variant: Variant) -> pd.DataFrame:
    """The variant's movies file as (item_id, title, genres) rows, the genres
    joined by ``|`` (empty when none is listed), or ``MoviesError``."""
    source = variant.movies_file
    data = raw_file(raw, variant, source)
    limit = MAX_BYTES[source]
    if len(data) > limit:
        raise MoviesError(
            f"{source}: {len(data):,} bytes, breaks {_rule('size', limit=limit)}; "
            "far larger than any MovieLens movies file"
        )
    if variant.file_format == "u.data":
        movies = _read_u_item(data, source)
    else:
        movies = _read_delimited(data, variant.file_format == "csv", source)
    _check_unique(movies, source)
    return movies.reset_index(drop=True)


def check_covers_ratings(
    movies: pd.DataFrame, ratings: pd.DataFrame, variant: Variant
) -> None:
    """``MoviesError`` naming a few rated item ids that have no movie row: their
    recommendations would have no title."""
    missing = np.setdiff1d(ratings["item_id"].unique(), movies["item_id"])
    if len(missing):
        shown = first_few([str(item) for item in missing])
        raise MoviesError(
            f"{variant.movies_file}: {len(missing)} item id(s) rated in "
            f"{variant.ratings_file} have no row, breaks {_rule('covers_ratings')}: "
            f"item_id {shown}"
        )


def _read_u_item(data: bytes, source: str) -> pd.DataFrame:
    """MovieLens 100K's ``u.item``: pipe-separated, one 0/1 column per genre;
    blank lines are skipped."""
    _check_latin1(data, source)
    # Split on \n only: str.splitlines would also break a title at a Latin-1
    # control byte such as \x85.
    lines = pd.Series(data.decode("latin-1").split("\n"), dtype=object)
    lines = lines.str.removesuffix("\r")
    lines.index += 1  # 1-based line numbers from here on
    lines = lines[lines.str.strip() != ""]
    if lines.empty:
        raise MoviesError(f"{source}: no rows, breaks {_rule('non_empty')}")

    n_fields = lines.str.count(r"\|") + 1
    _check(
        source,
        "fields",
        n_fields != len(U_ITEM_COLUMNS),
        lambda i: f"{n_fields[i]} fields",
    )
    table = lines.str.split("|", expand=True, regex=False)
    table.columns = list(U_ITEM_COLUMNS)
    ids = table["item_id"]
    _check(source, "positive_ids", ~ids.str.fullmatch(_POSITIVE), _quote(ids))
    flags = table[list(GENRES)]
    bad_flags = ~flags.isin(["0", "1"])

    def first_bad_flag(line: int) -> str:
        genre = bad_flags.columns[bad_flags.loc[line].to_numpy().argmax()]
        return f"{genre} {flags.at[line, genre]!r}"

    _check(source, "genre_flags", bad_flags.any(axis=1), first_bad_flag)
    names = np.asarray(GENRES)
    genres = ["|".join(names[row]) for row in (flags == "1").to_numpy()]
    return _movies(table, genres)


def _check_latin1(data: bytes, source: str) -> None:
    """Any bytes decode as Latin-1, so the only detectable damage is a file
    re-encoded as UTF-8: it decodes as UTF-8, and its accented titles would read
    as two characters each (``Ã©`` for ``é``)."""
    if data.isascii():
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return  # Latin-1 accents are not valid UTF-8: the file as shipped
    lines = [n for n, line in enumerate(data.split(b"\n"), 1) if not line.isascii()]
    shown = first_few([str(line) for line in lines])
    raise MoviesError(
        f"{source}: valid UTF-8 with non-ASCII characters (lines {shown}), "
        f"breaks {_rule('encoding')}: the file was re-encoded; use the GroupLens "
        f"file, or convert it back with `iconv -f utf-8 -t latin1`"
    )


def _read_delimited(data: bytes, header: bool, source: str) -> pd.DataFrame:
    """``movies.dat`` (``::``-separated, Latin-1) or ``movies.csv`` (a header,
    UTF-8, quoted titles), indexed by 1-based line number; both already join the
    genres by ``|``."""
    if not data.strip():
        raise MoviesError(f"{source}: no rows, breaks {_rule('non_empty')}")
    try:
        movies = pd.read_csv(
            io.BytesIO(data if header else data.replace(b"::", b"\t")),
            sep="," if header else "\t",
            header=0 if header else None,
            names=["item_id", "title", "genres"],
            dtype={"item_id": "int64"},
            encoding="utf-8" if header else "latin-1",
            quoting=csv.QUOTE_MINIMAL if header else csv.QUOTE_NONE,
            keep_default_na=False,
        )
    except (ValueError, pd.errors.ParserError) as err:
        raise MoviesError(f"{source}: cannot be parsed: {err}") from err
    if movies.empty:
        raise MoviesError(f"{source}: no rows, breaks {_rule('non_empty')}")
    movies.index += 2 if header else 1
    ids = movies["item_id"]
    _check(source, "positive_ids", ids <= 0, _quote(ids))
    genres = movies["genres"].astype(str).replace("(no genres listed)", "")
    return _movies(movies, genres)


def _movies(movies: pd.DataFrame, genres: list[str] | pd.Series) -> pd.DataFrame:
    """The (item_id, title, genres) table, keeping ``movies``' line numbers."""
    return pd.DataFrame(
        {
            "item_id": movies["item_id"].astype("int64"),
            "title": movies["title"].astype(str),
            "genres": list(genres),
        },
        index=movies.index,
    )


def _check_unique(movies: pd.DataFrame, source: str) -> None:
    """One title per item: a repeated id makes the title lookup ambiguous."""
    repeated = movies[movies["item_id"].duplicated(keep=False)]
    if repeated.empty:
        return
    groups = repeated.groupby("item_id", sort=False).groups
    shown = first_few(
        [
            f"item_id {item} on lines {', '.join(map(str, lines))}"
            for item, lines in groups.items()
        ],
        sep="; ",
    )
    raise MoviesError(
        f"{source}: {len(groups)} item_id(s) listed more than once break "
        f"{_rule('unique_ids')}: {shown}"
    )


def _rule(name: str, **values: int) -> str:
    return f"rule {name!r} ({MOVIE_RULES[name].format(**values)})"


def _quote(ids: pd.Series) -> Callable[[int], str]:
    """Describes a line by its item_id, quoted when it is the text read."""

    def describe(line: int) -> str:
        value = ids[line]
        return f"item_id {value!r}" if isinstance(value, str) else f"item_id {value}"

    return describe


def _check(
    source: str, rule: str, broken: pd.Series, describe: Callable[[int], str]
) -> None:
    """``MoviesError`` quoting the first lines that break ``rule``, if any do."""
    bad = broken.index[broken.to_numpy(dtype=bool)]
    if len(bad):
        shown = first_few([f"line {line} ({describe(line)})" for line in bad])
        raise MoviesError(f"{source}: {len(bad)} row(s) break {_rule(rule)}: {shown}")
