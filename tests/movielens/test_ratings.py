"""The ratings-file rules (``ncf_movielens.movielens.ratings``): a bad row is
refused with a message that names the file, the line and the rule it breaks."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from ncf_movielens.movielens.ratings import RatingsError, read_ratings
from ncf_movielens.movielens.variants import VARIANTS
from ncf_movielens.parameters import ParseOptions
from tests.support import project_options

GOOD_ROWS = ["1\t1\t5\t881250949", "1\t2\t3\t881250950", "2\t1\t1\t881250951"]


def u_data(*extra: str) -> bytes:
    """Three good rows, then ``extra`` rows: the bad one is on line 4."""
    return ("\n".join([*GOOD_ROWS, *extra]) + "\n").encode()


def read_u_data(content: bytes, **parse_options: Any) -> pd.DataFrame:
    options = project_options(ParseOptions, "parse_options", **parse_options)
    return read_ratings({"u.data": content}, VARIANTS["ml-100k"], options)


# (u.data bytes, fragments the message must contain). Line numbers are 1-based.
BAD_RATINGS = {
    "too few fields": (u_data("3\t4\t5"), ["u.data", "line 4", "'fields'"]),
    "too many fields": (u_data("3\t4\t5\t6\t7"), ["line 4 (5 fields)", "'fields'"]),
    "non-integer id": (u_data("3\tx\t5\t6"), ["line 4 (item_id 'x')", "'integers'"]),
    "fractional rating": (u_data("3\t4\t3.5\t6"), ["line 4 (rating '3.5')"]),
    "user id 0": (u_data("0\t4\t5\t6"), ["line 4 (user_id 0)", "'positive_ids'"]),
    "negative item id": (u_data("3\t-4\t5\t6"), ["line 4 (item_id -4)"]),
    "rating above scale": (u_data("3\t4\t6\t6"), ["line 4 (rating 6)", "1..5"]),
    "rating 0": (u_data("3\t4\t0\t6"), ["line 4 (rating 0)", "'rating_scale'"]),
    "negative timestamp": (u_data("3\t4\t5\t-6"), ["line 4", "'timestamp'"]),
    "duplicate pair": (
        u_data("1\t2\t4\t881250999"),
        ["user 1, item 2 on lines 2, 4", "'duplicates'", "keep_first"],
    ),
    "empty file": (b"", ["u.data: no rows", "'non_empty'"]),
    "blank lines only": (b"\n\n", ["u.data: no rows", "'non_empty'"]),
}


@pytest.mark.parametrize("case", list(BAD_RATINGS))
def test_bad_ratings_are_refused_at_parse_time(case):
    content, fragments = BAD_RATINGS[case]
    with pytest.raises(RatingsError) as error:
        read_u_data(content)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_many_bad_lines_are_summarised():
    rows = [f"1\t{item}\t9\t881250949" for item in range(1, 21)]
    with pytest.raises(
        RatingsError, match=r"20 row\(s\).*line 5 \(rating 9\) and 15 more"
    ):
        read_u_data(("\n".join(rows) + "\n").encode())


@pytest.mark.parametrize(
    ("policy", "kept_rating"), [("keep_first", 3), ("keep_last", 4)]
)
def test_duplicate_policy_keeps_one_rating(policy, kept_rating):
    ratings = read_u_data(u_data("1\t2\t4\t881250999"), duplicates=policy)
    assert len(ratings) == 3
    pair = ratings[(ratings["user_id"] == 1) & (ratings["item_id"] == 2)]
    assert pair["rating"].tolist() == [kept_rating]


@pytest.mark.parametrize(
    ("variant", "content"),
    [("ml-1m", b""), ("ml-25m", b"userId,movieId,rating,timestamp\n")],
)
def test_empty_ratings_of_other_formats_are_refused(variant, content):
    spec = VARIANTS[variant]
    options = project_options(ParseOptions, "parse_options")
    with pytest.raises(RatingsError, match=rf"{spec.ratings_file}: .*'non_empty'"):
        read_ratings({spec.ratings_file: content}, spec, options)
