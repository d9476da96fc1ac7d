"""The movies-file rules (``ncf_movielens.movielens.movies``): a bad file is
refused with a message that names the file, the lines and the rule it breaks."""

from __future__ import annotations

import pandas as pd
import pytest

from ncf_movielens.movielens.movies import (
    MAX_BYTES,
    MoviesError,
    check_covers_ratings,
    read_movies,
)
from ncf_movielens.movielens.variants import GENRES, VARIANTS

NO_GENRE = ["0"] * len(GENRES)


def u_item_line(item_id: object, title: str = "Movie (1995)", flags=None) -> str:
    """One ``u.item`` line; by default in the Drama genre only."""
    flags = flags or [str(int(g == "Drama")) for g in GENRES]
    return "|".join([str(item_id), title, "01-Jan-1995", "", "http://x", *flags])


GOOD_LINES = [u_item_line(1), u_item_line(2, "Café (1995)"), u_item_line(3)]


def u_item(*extra: str, encoding: str = "latin-1") -> bytes:
    """Three good lines, as GroupLens ships them (Latin-1), then ``extra``
    lines: the bad one is on line 4."""
    return ("\n".join([*GOOD_LINES, *extra]) + "\n").encode(encoding)


def read_u_item(content: bytes) -> pd.DataFrame:
    return read_movies({"u.item": content}, VARIANTS["ml-100k"])


def test_u_item_is_read_as_latin_1():
    flags = NO_GENRE.copy()
    flags[GENRES.index("Action")] = flags[GENRES.index("Western")] = "1"
    # \x85 is a C1 control in Latin-1 that str.splitlines() treats as a line break.
    movies = read_u_item(u_item(u_item_line(9, "Oops\x85 (1990)", flags)))
    assert movies["item_id"].tolist() == [1, 2, 3, 9]
    titles = ["Movie (1995)", "Café (1995)", "Movie (1995)", "Oops\x85 (1990)"]
    assert movies["title"].tolist() == titles
    assert movies["genres"].tolist() == ["Drama"] * 3 + ["Action|Western"]
    assert movies.index.equals(pd.RangeIndex(4))


def test_windows_line_ends_and_blank_lines_are_accepted():
    movies = read_u_item(u_item().replace(b"\n", b"\r\n") + b"\r\n\n")
    assert movies["title"].tolist() == ["Movie (1995)", "Café (1995)", "Movie (1995)"]
    assert movies["genres"].tolist() == ["Drama"] * 3


# (u.item bytes, fragments the message must contain). Line numbers are 1-based.
BAD_U_ITEMS = {
    "empty file": (b"", ["u.item: no rows", "'non_empty'"]),
    "blank lines only": (b"\n\r\n\n", ["u.item: no rows", "'non_empty'"]),
    "repeated id": (
        u_item(u_item_line(2, "Other (1996)")),
        ["u.item: 1 item_id(s)", "item_id 2 on lines 2, 4", "'unique_ids'"],
    ),
    "re-encoded as UTF-8": (
        u_item(encoding="utf-8"),
        ["u.item: valid UTF-8", "(lines 2)", "'encoding'", "re-encoded", "iconv"],
    ),
    "too few fields": (
        u_item("4|Short (1995)|01-Jan-1995"),
        ["u.item: 1 row(s)", "line 4 (3 fields)", "'fields'", "24 pipe-separated"],
    ),
    "a pipe in a title": (
        u_item(u_item_line(4, "This | That (1995)")),
        ["line 4 (25 fields)", "'fields'"],
    ),
    "item id 0": (u_item(u_item_line(0)), ["line 4 (item_id '0')", "'positive_ids'"]),
    "negative item id": (u_item(u_item_line(-4)), ["line 4 (item_id '-4')"]),
    "non-integer item id": (u_item(u_item_line("4a")), ["line 4 (item_id '4a')"]),
    "genre flag 2": (
        u_item(u_item_line(4, flags=["2", *NO_GENRE[1:]])),
        ["line 4 (unknown '2')", "'genre_flags'"],
    ),
    "NUL bytes": (b"\0" * 1000, ["u.item: 1 row(s)", "line 1 (1 fields)"]),
    "above the size bound": (
        b"\0" * (MAX_BYTES["u.item"] + 1),
        ["u.item: 16,777,217 bytes", "'size' (at most 16,777,216 bytes)"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_U_ITEMS))
def test_bad_u_item_is_refused(case):
    content, fragments = BAD_U_ITEMS[case]
    with pytest.raises(MoviesError) as error:
        read_u_item(content)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_many_bad_lines_are_summarised():
    lines = [u_item_line(4 + n, flags=["x", *NO_GENRE[1:]]) for n in range(8)]
    with pytest.raises(
        MoviesError, match=r"8 row\(s\).*line 8 \(unknown 'x'\) and 3 more$"
    ):
        read_u_item(u_item(*lines))


# (variant, movies file bytes, fragments the message must contain).
BAD_OTHER_FORMATS = {
    "empty movies.dat": ("ml-1m", b"", ["movies.dat: no rows", "'non_empty'"]),
    "header-only movies.csv": (
        "ml-25m",
        b"movieId,title,genres\n",
        ["movies.csv: no rows", "'non_empty'"],
    ),
    "repeated id in movies.dat": (
        "ml-1m",
        b"1::A (1995)::Drama\n2::B (1995)::Drama\n1::C (1995)::Drama\n",
        ["movies.dat: 1 item_id(s)", "item_id 1 on lines 1, 3", "'unique_ids'"],
    ),
    "repeated id in movies.csv": (
        "ml-latest-small",
        b'movieId,title,genres\n5,"A, The",Drama\n5,B,Drama\n',
        ["movies.csv: 1 item_id(s)", "item_id 5 on lines 2, 3"],
    ),
    "item id 0 in movies.csv": (
        "ml-20m",
        b"movieId,title,genres\n1,A,Drama\n0,B,Drama\n",
        ["movies.csv: 1 row(s)", "line 3 (item_id 0)", "'positive_ids'"],
    ),
    "non-integer id in movies.dat": (
        "ml-10m",
        b"1::A (1995)::Drama\nx::B (1995)::Drama\n",
        ["movies.dat: cannot be parsed"],
    ),
    "movies.dat above the size bound": (
        "ml-1m",
        b"1::A::Drama\n" * (MAX_BYTES["movies.dat"] // 12 + 1),
        ["movies.dat: 16,777,224 bytes", "'size' (at most 16,777,216 bytes)"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_OTHER_FORMATS))
def test_bad_movies_of_other_formats_are_refused(case):
    variant, content, fragments = BAD_OTHER_FORMATS[case]
    spec = VARIANTS[variant]
    with pytest.raises(MoviesError) as error:
        read_movies({spec.movies_file: content}, spec)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_every_rated_item_needs_a_movie_row():
    movies = read_u_item(u_item())
    covered = pd.DataFrame({"item_id": [3, 1, 1, 2]})
    check_covers_ratings(movies, covered, VARIANTS["ml-100k"])  # no error

    rated = pd.DataFrame({"item_id": [1, 12, 2, 11, 12, *range(20, 26)]})
    with pytest.raises(MoviesError) as error:
        check_covers_ratings(movies, rated, VARIANTS["ml-100k"])
    assert str(error.value) == (
        "u.item: 8 item id(s) rated in u.data have no row, breaks rule "
        "'covers_ratings' (a row for every item_id of the ratings file): "
        "item_id 11, 12, 20, 21, 22 and 3 more"
    )
