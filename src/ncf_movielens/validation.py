"""Checks that refuse bad inputs and degenerate models early: the parameter
schema (pydantic), the rules every ``u.data`` row must meet, and the checks that
turn a collapsed model into an error instead of a result."""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ncf_movielens.variants import VARIANTS

logger = logging.getLogger(__name__)


class ParameterError(ValueError):
    """Parameters that the schema below refuses; raised before any node runs."""


class RatingsError(ValueError):
    """Raw ratings that break one of ``RATING_RULES``."""


class DegenerateModelError(ValueError):
    """A model whose output cannot be ranked meaningfully."""


# --- Parameters -----------------------------------------------------------------
# One pydantic model per parameter group, mirroring conf/base/parameters_*.yml.
# A key the schema does not know is refused: add new keys here with the YAML.

#: Keras metric names ``train_ncf`` knows (``_KERAS_METRICS`` in ncf/nodes.py).
NCF_METRICS = Literal["tp", "fp", "tn", "fn", "accuracy", "precision", "recall", "auc"]
#: A pair written as a YAML list; its items stay strict.
IntPair = Annotated[tuple[int, int], Field(strict=False)]
NumberPair = Annotated[tuple[int | float, int | float], Field(strict=False)]


def _invalid(key: str, message: str) -> PydanticCustomError:
    """A cross-field error that names the offending ``key`` below its group."""
    return PydanticCustomError("invalid_value", message, {"key": key})


class _Group(BaseModel):
    # strict: YAML already gives typed values; "5" is not an int, nor 5.0 or true.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ParseOptions(_Group):
    # null: the variant's own scale (1..5 stars; 0.5..5 from ml-10m on)
    rating_scale: NumberPair | None = None
    duplicates: Literal["error", "keep_first", "keep_last"] = "error"

    @property
    def scale(self) -> tuple[float, float]:
        """The rating scale in force (ml-100k's when none is set)."""
        return self.rating_scale or VARIANTS["ml-100k"].rating_scale

    @model_validator(mode="after")
    def _scale_is_ordered(self) -> ParseOptions:
        low, high = self.scale
        if low > high:
            raise _invalid("rating_scale", f"[{low}, {high}] is not [min, max]")
        return self


class SplitOptions(_Group):
    strategy: Literal["ua", "ub", "temporal", "random"]
    test_size: PositiveInt
    seed: NonNegativeInt


class BinarizeOptions(_Group):
    min_rating: float


class ReshapeOptions(_Group):
    mode: Literal["all_pairs", "positives"]
    max_dense_cells: PositiveInt = 50_000_000  # all_pairs refused above this


class EvaluationOptions(_Group):
    top_k: PositiveInt
    ks: Annotated[list[PositiveInt], Field(min_length=1)]
    curve_k: PositiveInt
    min_score_std: NonNegativeFloat
    batch_size: PositiveInt
    max_users: PositiveInt | None = None  # null: every user


class ModelEvaluation(_Group):
    label: Annotated[str, Field(min_length=1)]


class NCFModelOptions(_Group):
    latent_dim_mf: PositiveInt
    latent_dim_mlp: PositiveInt
    reg_mf: NonNegativeFloat
    reg_mlp: NonNegativeFloat
    dense_layers: list[PositiveInt]
    reg_layers: list[NonNegativeFloat]
    activation_dense: str

    @field_validator("activation_dense")
    @classmethod
    def _known_activation(cls, name: str) -> str:
        import keras  # noqa: PLC0415 - heavy; only needed once parameters are checked

        try:
            keras.activations.get(name)
        except ValueError:
            raise ValueError(f"{name!r} is not a Keras activation") from None
        return name

    @model_validator(mode="after")
    def _one_reg_per_layer(self) -> NCFModelOptions:
        if len(self.dense_layers) != len(self.reg_layers):
            raise _invalid(
                "reg_layers",
                f"has {len(self.reg_layers)} entries but dense_layers has "
                f"{len(self.dense_layers)}; they must have the same length",
            )
        return self


class NCFTrainingOptions(_Group):
    seed: NonNegativeInt
    epochs: PositiveInt
    batch_size: PositiveInt
    learning_rate: PositiveFloat
    validation_split: Annotated[float, Field(gt=0, lt=1)]
    early_stopping_patience: NonNegativeInt
    shuffle_each_epoch: bool
    metrics: list[NCF_METRICS]
    tensorboard_log_dir: str | None
    histogram_freq: NonNegativeInt
    # Optional in the YAML; the defaults are train_ncf's.
    sampling: Literal["all_pairs", "negative"] = "all_pairs"
    negatives: PositiveInt | None = None  # per positive, with sampling: negative
    jit_compile: bool = False
    steps_per_execution: PositiveInt = 1

    @model_validator(mode="after")
    def _negatives_with_negative_sampling(self) -> NCFTrainingOptions:
        if self.sampling == "negative" and self.negatives is None:
            raise _invalid("negatives", "is required when sampling is 'negative'")
        return self


class NCFParameters(_Group):
    model_options: NCFModelOptions
    training_options: NCFTrainingOptions
    evaluation: ModelEvaluation


class LightFMModelOptions(_Group):
    loss: Literal["warp", "bpr", "warp-kos", "logistic"]
    no_components: PositiveInt
    learning_rate: PositiveFloat


class LightFMTrainingOptions(_Group):
    seed: NonNegativeInt
    epochs: PositiveInt
    num_threads: PositiveInt

    @model_validator(mode="after")
    def _warn_if_not_reproducible(self) -> LightFMTrainingOptions:
        if self.num_threads > 1:
            logger.warning(
                "lightfm.training_options.num_threads is %d: LightFM's lock-free "
                "parallel SGD gives a different model on every run; 1 reproduces it",
                self.num_threads,
            )
        return self


class LightFMParameters(_Group):
    model_options: LightFMModelOptions
    training_options: LightFMTrainingOptions
    evaluation: ModelEvaluation


class EASEModelOptions(_Group):
    l2: PositiveFloat
    max_items: PositiveInt


class EASEParameters(_Group):
    model_options: EASEModelOptions
    evaluation: ModelEvaluation


class MostPopularParameters(_Group):
    evaluation: ModelEvaluation


class RecommendOptions(_Group):
    user_id: PositiveInt
    top_k: PositiveInt
    stored_top_k: PositiveInt
    batch_size: PositiveInt

    @model_validator(mode="after")
    def _shows_what_is_stored(self) -> RecommendOptions:
        if self.top_k > self.stored_top_k:
            raise _invalid(
                "top_k",
                f"{self.top_k} is above stored_top_k {self.stored_top_k}: only "
                "stored recommendations can be shown",
            )
        return self


class Parameters(_Group):
    """Every parameter of the study; the top-level keys are the YAML's."""

    variant: Literal[tuple(VARIANTS)] = "ml-100k"  # type: ignore[valid-type]
    parse_options: ParseOptions = ParseOptions()  # defaults: the variant's, no repeats
    split_options: SplitOptions
    binarize_options: BinarizeOptions
    reshape_options: ReshapeOptions
    evaluation_options: EvaluationOptions
    seeds: PositiveInt  # runs per stochastic model
    ncf: NCFParameters
    lightfm: LightFMParameters
    ease: EASEParameters
    most_popular: MostPopularParameters
    recommend: RecommendOptions

    @model_validator(mode="after")
    def _min_rating_on_the_scale(self) -> Parameters:
        high = (self.parse_options.rating_scale or VARIANTS[self.variant].rating_scale)[
            1
        ]
        if self.binarize_options.min_rating > high:
            raise _invalid(
                "binarize_options.min_rating",
                f"{self.binarize_options.min_rating} is above the rating scale's "
                f"maximum {high} (parse_options.rating_scale, or the variant's), so nothing would "
                "count as an interaction",
            )
        return self

    @model_validator(mode="after")
    def _all_pairs_table_for_all_pairs_training(self) -> Parameters:
        sampling = self.ncf.training_options.sampling
        if sampling == "all_pairs" and self.reshape_options.mode != "all_pairs":
            raise _invalid(
                "ncf.training_options.sampling",
                "is 'all_pairs' but reshape_options.mode is "
                f"{self.reshape_options.mode!r}: all_pairs training needs the "
                "all_pairs table",
            )
        return self

    @model_validator(mode="after")
    def _distinct_labels(self) -> Parameters:
        seen: dict[str, str] = {}
        for name in type(self).model_fields:
            evaluation = getattr(getattr(self, name), "evaluation", None)
            if evaluation is None:
                continue
            if evaluation.label in seen:
                raise _invalid(
                    f"{name}.evaluation.label",
                    f"{evaluation.label!r} is also "
                    f"{seen[evaluation.label]}.evaluation.label; the comparison "
                    "table needs one row per model",
                )
            seen[evaluation.label] = name
        return self


#: Where a parameter came from, given its key path; see ``parameter_sources``.
SourceOf = Callable[[tuple[str, ...]], str]


def validate_parameters(
    params: Mapping[str, Any], source_of: SourceOf | None = None
) -> Parameters:
    """``params`` as a ``Parameters``, or ``ParameterError`` listing every problem
    with its dotted key and, through ``source_of``, where that key was set."""
    try:
        return Parameters.model_validate(dict(params))
    except ValidationError as exc:
        lines = [_describe(error, source_of) for error in exc.errors()]
    raise ParameterError(
        "Invalid parameters, refused before any node runs:\n" + "\n".join(lines)
    )


def _describe(error: Mapping[str, Any], source_of: SourceOf | None) -> str:
    # List and tuple positions show as key[i].
    loc = tuple(f"[{part}]" if isinstance(part, int) else part for part in error["loc"])
    ctx = error.get("ctx") or {}
    if "key" in ctx:  # a cross-field rule names the key it refuses
        loc += tuple(ctx["key"].split("."))
    key = ".".join(loc).replace(".[", "[") or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        problem = f"{key} = {error['input']!r}: unknown key"
    elif kind == "missing":
        problem = f"{key}: missing key"
    else:
        shown = key if "key" in ctx else f"{key} = {error['input']!r}"
        problem = f"{shown}: {error['msg'].removeprefix('Value error, ')}"
    where = f" ({source_of(loc)})" if source_of and loc else ""
    return f"  - {problem}{where}"


def parameter_sources(
    conf_source: str | Path,
    envs: Iterable[str],
    patterns: Iterable[str],
    runtime_params: Mapping[str, Any] | None = None,
    relative_to: Path | None = None,
) -> SourceOf:
    """Name where a key path was set: the command line (``--params``) when the
    runtime parameters hold it, else the last parameters file, in ``envs``
    order (base, then the run environment), that defines its top-level key."""
    patterns, envs = list(patterns), list(envs)
    runtime_params = runtime_params or {}
    files_of = {
        env: _parameter_files(Path(conf_source) / env, patterns) for env in envs
    }
    loaded = [
        (path, yaml.safe_load(path.read_text()) or {})
        for env in envs
        for path in files_of[env]
    ]

    def source_of(loc: tuple[str, ...]) -> str:
        if _holds(runtime_params, loc):
            return "from the command line, --params"
        # The last file that sets this very key, else the last one that sets
        # its group (parameters merge key by key across environments).
        for depth in (len(loc), 1):
            for path, content in reversed(loaded):
                if _holds(content, loc[:depth]):
                    return f"in {_shorter(path, relative_to)}"
        return (
            f"no parameters file in {_shorter(Path(conf_source), relative_to)} sets it"
        )

    return source_of


def _parameter_files(env_dir: Path, patterns: list[str]) -> list[Path]:
    found = {path for pattern in patterns for path in env_dir.glob(pattern)}
    return sorted(
        path
        for path in found
        if path.is_file() and path.suffix in (".yml", ".yaml", ".json")
    )


def _holds(runtime_params: Mapping[str, Any], loc: tuple[str, ...]) -> bool:
    """Whether the runtime parameters set the value at ``loc``."""
    node: Any = runtime_params
    for part in loc:
        if not isinstance(node, Mapping):
            return True  # a list or value set at runtime holds the rest
        if part not in node:
            return False
        node = node[part]
    return True


def _shorter(path: Path, base: Path | None) -> Path:
    return path.relative_to(base) if base and path.is_relative_to(base) else path


# --- Raw ratings ----------------------------------------------------------------

RATING_FIELDS = ("user_id", "item_id", "rating", "timestamp")
_INTEGER = r"[+-]?\d{1,18}"
_SHOWN = 5  # offending lines quoted per rule

#: The rules every ``u.data`` row meets; each message names its rule.
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
    data: bytes, options: ParseOptions | None = None, source: str = "u.data"
) -> pd.DataFrame:
    """``u.data`` bytes as (user_id, item_id, rating, timestamp) int64 rows in file
    order, or ``RatingsError`` naming ``source``, the 1-based lines and the rule.

    Blank lines are skipped. Repeated (user, item) pairs follow
    ``options.duplicates``: ``error``, or keep the first / last in file order.
    """
    options = options or ParseOptions()
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
    """The rules on parsed integer rows indexed by 1-based line number."""
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
        shown = ", ".join(f"line {line} ({describe(line)})" for line in bad[:_SHOWN])
        more = f" and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
        raise RatingsError(
            f"{source}: {len(bad)} row(s) break {_rule(rule, options)}: {shown}{more}"
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
        shown = "; ".join(
            f"user {user}, item {item} on lines {', '.join(map(str, lines))}"
            for (user, item), lines in list(groups.items())[:_SHOWN]
        )
        more = f"; and {len(groups) - _SHOWN} more" if len(groups) > _SHOWN else ""
        raise RatingsError(
            f"{source}: {len(groups)} (user_id, item_id) pair(s) rated more than once "
            f"break {_rule('duplicates', options)}: {shown}{more}. Set "
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


# --- Degenerate models ----------------------------------------------------------


def check_finite_history(model: str, history: Mapping[str, Any]) -> None:
    """``DegenerateModelError`` when a loss in a training history (the dict
    ``train_ncf`` returns: per-epoch lists under ``history``) is NaN or infinite."""
    for key, values in history.get("history", {}).items():
        if not key.endswith("loss"):
            continue
        for epoch, value in enumerate(values, start=1):
            if not math.isfinite(value):
                raise DegenerateModelError(
                    f"{model}: {key} is {value} at epoch {epoch} "
                    "(check: finite training losses)"
                )
