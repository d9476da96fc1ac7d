"""MovieLens ratings files: the rules every row must meet, and the reader that
names the file, the lines and the rule a bad row breaks."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Mapping

import pandas as pd

from ncf_movielens.movielens.variants import Variant, raw_file
from ncf_movielens.parameters import ParseOptions

logger = logging.getLogger(__name__)


class RatingsError(ValueError):
    """Raw ratings that break one of ``RATING_RULES``."""


RATING_FIELDS = ("user_id", "item_id", "rating", "timestamp")
_INTEGER = r"[+-]?\d{1,18}"
_SHOWN = 5  # offending lines quoted per rule


def first_few(quoted: list[str], sep: str = ", ") -> str:
    """The first ``_SHOWN`` of ``quoted`` joined, and how many more there are:
    what a refusal quotes of the lines or ids that break a rule."""
    if len(quoted) <= _SHOWN:
        return sep.join(quoted)
    link = sep if sep.strip() == ";" else " "  # "a, b and 3 more"; "a; b; and 3 more"
    return f"{sep.join(quoted[:_SHOWN])}{link}and {len(quoted) - _SHOWN} more"


#: The rules every ratings row meets; each message names its rule. ``fields`` and
#: ``integers`` are checked line by line on ``u.data``; the ``::`` and CSV files
#: are read typed and fail as a whole.
RATING_RULES = {
    "fields": "4 tab-separated fields (user_id, item_id, rating, timestamp)",
    "integers": "every field is an integer",
    "positive_ids": "user_id and item_id are positive integers",
    "rating_scale": "rating within parse_options.rating_scale {low}..{high}",
    "timestamp": "timestamp is not negative",
    "duplicates": "one rating per (user_id, item_id) pair "
    "(parse_options.duplicates: error)",
    "non_empty": "at least one rating",
}


def read_ratings(
    raw: Mapping[str, bytes], variant: Variant, options: ParseOptions
) -> pd.DataFrame:
    """The variant's ratings file as (user_id, item_id, rating, timestamp) rows in
    file order, or ``RatingsError`` naming the file, the 1-based lines and the
    rule they break.

    The rating scale is ``options.rating_scale``, else the variant's. Repeated
    (user, item) pairs follow ``options.duplicates``: ``error``, or keep the
    first / last in file order. ``u.data`` rows are all int64; the ``::`` and
    CSV releases have float ratings.
    """
    options = options.for_variant(variant.name)
    data = raw_file(raw, variant, variant.ratings_file)
    if variant.file_format == "u.data":
        return _read_u_data(data, options, variant.ratings_file)
    table = _read_delimited(data, variant)
    if table.empty:
        raise RatingsError(
            f"{variant.ratings_file}: no rows, breaks {_rule('non_empty', options)}"
        )
    return check_ratings(table, options, variant.ratings_file)


def _read_u_data(data: bytes, options: ParseOptions, source: str) -> pd.DataFrame:
    """``u.data`` bytes (tab-separated integers) as checked int64 rows; blank
    lines are skipped."""
    fast = _read_clean(data)
    if fast is not None:
        return check_ratings(fast, options, source)
    lines = pd.Series(data.decode("latin-1").splitlines(), dtype=object)
    lines.index += 1  # 1-based line numbers from here on
    lines = lines[lines.str.strip() != ""]
    if lines.empty:
        raise RatingsError(f"{source}: no rows, breaks {_rule('non_empty', options)}")

    n_fields = lines.str.count("\t") + 1
    _check(source, options, "fields", n_fields != 4, lambda i: f"{n_fields[i]} fields")
    table = lines.str.split("\t", expand=True)
    table.columns = list(RATING_FIELDS)
    not_int = ~table.apply(lambda column: column.str.fullmatch(_INTEGER))
    _check(source, options, "integers", not_int.any(axis=1), _first_bad(table, not_int))

    return check_ratings(table.astype("int64"), options, source)


def _read_delimited(data: bytes, variant: Variant) -> pd.DataFrame:
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


def _read_clean(data: bytes) -> pd.DataFrame | None:
    """The common case fast: a well-formed file through pandas' C parser, its
    index the 1-based line numbers. ``None`` when anything is off (a row with
    other fields, a non-integer, a blank line), for the line-by-line path to
    find and name it."""
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            sep="\t",
            names=list(RATING_FIELDS),
            dtype="int64",
            engine="c",
            skip_blank_lines=False,
            on_bad_lines="error",
        )
    except (ValueError, pd.errors.ParserError):
        return None
    if frame.empty or len(frame) != data.count(b"\n") + (not data.endswith(b"\n")):
        return None
    frame.index += 1
    return frame


def check_ratings(
    frame: pd.DataFrame, options: ParseOptions, source: str
) -> pd.DataFrame:
    """Typed rows indexed by 1-based line number, checked against the id, scale
    and timestamp rules, with repeated pairs as ``options.duplicates`` says."""
    low, high = options.scale
    bad_ids = frame[["user_id", "item_id"]] <= 0
    _check(
        source, options, "positive_ids", bad_ids.any(axis=1), _first_bad(frame, bad_ids)
    )
    _check(
        source,
        options,
        "rating_scale",
        ~frame["rating"].between(low, high),
        lambda i: f"rating {frame.at[i, 'rating']}",
    )
    _check(
        source,
        options,
        "timestamp",
        frame["timestamp"] < 0,
        lambda i: f"timestamp {frame.at[i, 'timestamp']}",
    )
    return _apply_duplicates_policy(frame, options, source).reset_index(drop=True)


def _rule(name: str, options: ParseOptions) -> str:
    low, high = options.scale
    return f"rule {name!r} ({RATING_RULES[name].format(low=low, high=high)})"


def _first_bad(table: pd.DataFrame, bad: pd.DataFrame) -> Callable[[int], str]:
    """Describes a row by its first offending column and value."""

    def describe(line: int) -> str:
        column = bad.columns[bad.loc[line].to_numpy().argmax()]
        value = table.at[line, column]
        return f"{column} {value!r}" if isinstance(value, str) else f"{column} {value}"

    return describe


def _check(
    source: str,
    options: ParseOptions,
    rule: str,
    broken: pd.Series,
    describe: Callable[[int], str],
) -> None:
    """``RatingsError`` quoting the first lines that break ``rule``, if any do."""
    bad = broken.index[broken.to_numpy(dtype=bool)]
    if len(bad):
        shown = first_few([f"line {line} ({describe(line)})" for line in bad])
        raise RatingsError(
            f"{source}: {len(bad)} row(s) break {_rule(rule, options)}: {shown}"
        )


def _apply_duplicates_policy(
    frame: pd.DataFrame, options: ParseOptions, source: str
) -> pd.DataFrame:
    pair = ["user_id", "item_id"]
    repeated = frame.duplicated(pair, keep=False)
    if not repeated.any():
        return frame
    if options.duplicates == "error":
        groups = frame[repeated].groupby(pair, sort=False).groups
        shown = first_few(
            [
                f"user {user}, item {item} on lines {', '.join(map(str, lines))}"
                for (user, item), lines in groups.items()
            ],
            sep="; ",
        )
        raise RatingsError(
            f"{source}: {len(groups)} (user_id, item_id) pair(s) rated more than once "
            f"break {_rule('duplicates', options)}: {shown}. Set "
            "parse_options.duplicates to keep_first or keep_last to keep one."
        )
    kept = frame.drop_duplicates(pair, keep=options.duplicates.removeprefix("keep_"))
    logger.warning(
        "%s: dropped %d repeated (user_id, item_id) rating(s), kept the %s in file "
        "order (parse_options.duplicates: %s)",
        source,
        len(frame) - len(kept),
        options.duplicates.removeprefix("keep_"),
        options.duplicates,
    )
    return kept
