"""The parameter schema: one pydantic model per group of
``conf/base/parameters_*.yml``.

Nodes take these types as their ``params:`` inputs, so Kedro validates and
converts each group before the run (Kedro >= 1.3). ``Parameters`` composes the
same groups with the rules that span groups; the ``ParameterChecks`` hook runs
it first, to say which file set a refused value. The YAML holds every default:
no field here has one, so a key missing from the YAML is an error, not a
second default. ``conflicts_with_data`` holds the rules that need the train
matrix's sizes; the hook applies them before any model trains.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ncf_movielens.movielens.variants import VARIANTS

logger = logging.getLogger(__name__)

#: The extra Keras metrics NCF can log per epoch: parameter name -> the class
#: in ``keras.metrics`` (``models.neumf`` builds them from this table).
NCF_METRICS = {
    "tp": "TruePositives",
    "fp": "FalsePositives",
    "tn": "TrueNegatives",
    "fn": "FalseNegatives",
    "accuracy": "BinaryAccuracy",
    "precision": "Precision",
    "recall": "Recall",
    "auc": "AUC",
}
#: Keras 3's activations by name (``keras.activations``; a test keeps the two
#: equal), listed here so that checking parameters does not import TensorFlow.
KERAS_ACTIVATIONS = frozenset(
    """celu elu exponential gelu glu hard_shrink hard_sigmoid hard_silu hard_swish
    hard_tanh leaky_relu linear log_sigmoid log_softmax mish relu relu6 selu
    sigmoid silu soft_shrink softmax softplus softsign sparse_plus sparse_sigmoid
    sparsemax squareplus swish tanh tanh_shrink threshold""".split()
)
#: A pair written as a YAML list; its items stay strict.
NumberPair = Annotated[tuple[int | float, int | float], Field(strict=False)]
VariantName = Literal[tuple(VARIANTS)]
#: The name of a model's settings when an environment changes its options
#: (``ncf.settings: notebook``); its label then says "<label>, notebook settings".
SettingsName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]
NCFMetricName = Literal[tuple(NCF_METRICS)]


def _invalid(key: str, message: str) -> PydanticCustomError:
    """A cross-field error that names the offending ``key`` below its group."""
    return PydanticCustomError("invalid_value", message, {"key": key})


class _Group(BaseModel):
    # strict: YAML already gives typed values; "5" is not an int, nor 5.0 or true.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- Data engineering (parameters_data_engineering.yml) --------------------------


class ParseOptions(_Group):
    #: [min, max]; None: the variant's own scale (1..5; 0.5..5 from ml-10m on)
    rating_scale: NumberPair | None
    duplicates: Literal["error", "keep_first", "keep_last"]

    @property
    def scale(self) -> tuple[float, float]:
        """The rating scale in force (ml-100k's when none is set)."""
        return self.rating_scale or VARIANTS["ml-100k"].rating_scale

    def for_variant(self, variant: str) -> ParseOptions:
        """These options with the variant's own scale where none is set: the
        one place that says "rating_scale, else the variant's"."""
        if self.rating_scale is not None:
            return self
        return self.model_copy(update={"rating_scale": VARIANTS[variant].rating_scale})

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
    #: all_pairs has one row per user x item pair; refused above this many rows
    max_pairs: PositiveInt


# --- Evaluation (parameters_evaluation.yml) --------------------------------------


class EvaluationOptions(_Group):
    top_k: PositiveInt
    ks: Annotated[list[PositiveInt], Field(min_length=1)]
    curve_k: PositiveInt
    min_score_std: NonNegativeFloat
    batch_size: PositiveInt
    max_users: PositiveInt | None  # None: every user

    @model_validator(mode="after")
    def _top_k_is_a_cut_off(self) -> EvaluationOptions:
        # The evaluation logs the notebook protocol's precision@top_k beside the
        # standard protocol's, which exists only for the cut-offs in ks.
        if self.top_k not in self.ks:
            raise _invalid(
                "top_k",
                f"{self.top_k} is not one of ks {self.ks}: the standard protocol "
                "reports precision@top_k only for the cut-offs in ks",
            )
        return self


# --- Models (parameters_<model>.yml) ---------------------------------------------


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
        if name not in KERAS_ACTIVATIONS:
            raise ValueError(f"{name!r} is not a Keras activation")
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
    #: negative: positives plus `negatives` sampled items each; all_pairs: the
    #: notebook's table of every user x item pair
    sampling: Literal["all_pairs", "negative"]
    negatives: PositiveInt  # per positive, with sampling: negative
    epochs: PositiveInt
    batch_size: PositiveInt
    learning_rate: PositiveFloat
    #: dense: reg_mf/reg_mlp penalise every row of each embedding table and
    #: Keras' Adam moves every row, at every step (the notebook's); sparse: the
    #: penalty covers the rows a batch looked up and LazyAdam moves only those;
    #: auto: sparse when the tables hold more than SPARSE_FROM_BATCHES batches
    #: of rows (users + items), where it is the faster (models/neumf.py)
    embedding_updates: Literal["dense", "sparse", "auto"]
    #: share of the shuffled positives held out for val_loss and early stopping;
    #: 0: train on every positive for exactly `epochs` (the tuned retrain)
    validation_split: Annotated[float, Field(ge=0, lt=1)]
    early_stopping_patience: NonNegativeInt
    shuffle_each_epoch: bool
    jit_compile: bool
    steps_per_execution: PositiveInt
    metrics: list[NCFMetricName]
    tensorboard_log_dir: str | None
    histogram_freq: NonNegativeInt


class NCFParameters(_Group):
    #: None: the base settings; a name: those of an environment
    #: (``conf/<env>``), which every label of the model then carries
    settings: SettingsName | None
    model_options: NCFModelOptions
    training_options: NCFTrainingOptions


class LightFMModelOptions(_Group):
    loss: Literal["warp", "bpr", "warp-kos", "logistic"]
    no_components: PositiveInt
    learning_rate: PositiveFloat
    item_alpha: NonNegativeFloat  # L2 penalty on the item features
    user_alpha: NonNegativeFloat  # L2 penalty on the user features


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
    settings: SettingsName | None  # see NCFParameters
    model_options: LightFMModelOptions
    training_options: LightFMTrainingOptions


class IALSModelOptions(_Group):
    factors: PositiveInt
    regularization: NonNegativeFloat
    #: implicit's confidence: alpha for an interaction, 1 for a missing pair
    #: (Hu et al.'s 1 + a is alpha = 1 + a)
    alpha: PositiveFloat
    iterations: PositiveInt


class IALSTrainingOptions(_Group):
    seed: NonNegativeInt
    num_threads: PositiveInt


class IALSParameters(_Group):
    settings: SettingsName | None  # see NCFParameters
    model_options: IALSModelOptions
    training_options: IALSTrainingOptions


class EASEModelOptions(_Group):
    l2: PositiveFloat
    max_items: PositiveInt


class EASEParameters(_Group):
    settings: SettingsName | None  # see NCFParameters
    model_options: EASEModelOptions


# --- Recommendations (parameters_recommend.yml) ----------------------------------


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


# --- Validation split and tuning (parameters_tuning.yml) ---------------------------


class ValidationOptions(_Group):
    """Each user's train positives split into fit and validation, seeded."""

    share: Annotated[float, Field(gt=0, lt=1)]  # of each user's train positives
    min_fit: PositiveInt  # positives a user keeps in fit, whatever the share
    seed: NonNegativeInt


class IntDimension(_Group):
    type: Literal["int"]
    low: int
    high: int
    log: bool


class FloatDimension(_Group):
    type: Literal["float"]
    low: float
    high: float
    log: bool

    @field_validator("low", "high", mode="before")
    @classmethod
    def _int_is_a_float(cls, value: Any) -> Any:
        return float(value) if type(value) is int else value


class CategoricalDimension(_Group):
    type: Literal["categorical"]
    choices: Annotated[list[Any], Field(min_length=1)]


Dimension = Annotated[
    IntDimension | FloatDimension | CategoricalDimension, Field(discriminator="type")
]
#: The options groups a search space may change, by group name.
SpaceGroups = Literal["model_options", "training_options"]


class PrunerOptions(_Group):
    type: Literal["median", "hyperband", "none"]
    n_startup_trials: NonNegativeInt  # median: trials before any is pruned
    n_warmup_steps: NonNegativeInt  # median: no pruning at steps (epochs) below this


class StudyOptions(_Group):
    """What every model's study shares: storage, budget, objective, sampler."""

    #: an RDB URL (sqlite:///..., postgresql://..., mysql://...) or the path
    #: of an Optuna journal file; relative paths are from the project folder
    storage: Annotated[str, Field(min_length=1)]
    name_prefix: Annotated[str, Field(min_length=1)]  # study "<prefix>-<model>"
    n_trials: PositiveInt  # finished (complete or pruned) trials per study
    timeout: PositiveFloat | None  # seconds per study and run; None: no limit
    sampler_seed: NonNegativeInt
    metric: Literal["precision", "recall", "ndcg", "map", "hit_rate", "mrr"]
    k: PositiveInt
    enqueue_defaults: bool  # trial 0 of a new study: the model's own defaults
    heartbeat_interval: PositiveInt  # seconds; RDB storage only
    grace_period: PositiveInt  # seconds without heartbeat before a trial is failed

    @model_validator(mode="after")
    def _grace_after_heartbeat(self) -> StudyOptions:
        if self.grace_period <= self.heartbeat_interval:
            raise _invalid(
                "grace_period",
                f"{self.grace_period} must be above heartbeat_interval "
                f"{self.heartbeat_interval}, or every running trial looks dead",
            )
        return self


class ModelTuning(_Group):
    """One model's study: its search space, the values every trial shares,
    its pruner and how often a trial reports its validation score."""

    space: dict[SpaceGroups, dict[str, Dimension]]
    fixed: dict[SpaceGroups, dict[str, Any]]
    pruner: PrunerOptions
    report_every: PositiveInt  # epochs between validation scores (NCF, LightFM)
    patience: PositiveInt  # reports without a better score before a trial stops


class TuningParameters(_Group):
    study: StudyOptions
    ncf: ModelTuning
    lightfm: ModelTuning
    ials: ModelTuning
    ease: ModelTuning

    @model_validator(mode="after")
    def _spaces_name_real_fields(self) -> TuningParameters:
        for model, kinds in TUNABLE_OPTIONS.items():
            tuning = getattr(self, model)
            for part in ("space", "fixed"):
                errors = option_field_errors(model, getattr(tuning, part), kinds)
                if errors:
                    key, problem = errors[0]
                    raise _invalid(f"{model}.{part}.{key}", problem)
        return self


#: Each tunable model's option groups and their schemas: what a search space
#: or a study's fixed values may name, and what a tuned retrain reads back.
TUNABLE_OPTIONS: dict[str, dict[str, type[_Group]]] = {
    "ncf": {"model_options": NCFModelOptions, "training_options": NCFTrainingOptions},
    "lightfm": {
        "model_options": LightFMModelOptions,
        "training_options": LightFMTrainingOptions,
    },
    "ials": {
        "model_options": IALSModelOptions,
        "training_options": IALSTrainingOptions,
    },
    "ease": {"model_options": EASEModelOptions},
}


def option_field_errors(
    model: str, groups: Mapping[str, Mapping[str, Any]], kinds: Mapping[str, type]
) -> list[tuple[str, str]]:
    """(``group.field`` key, problem) for each group or field of ``groups``
    that ``model``'s option groups (``kinds``, group -> schema) lack."""
    errors = []
    for group, fields in groups.items():
        if group not in kinds:
            errors.append(
                (group, f"{model} has no {group} (it has {', '.join(kinds)})")
            )
            continue
        known = kinds[group].model_fields
        errors += [
            (
                f"{group}.{name}",
                f"{model}'s {group} has no field {name!r} (it has {', '.join(known)})",
            )
            for name in fields
            if name not in known
        ]
    return errors


# --- All of them, and the rules across groups ------------------------------------


class Parameters(_Group):
    """Every parameter of the study; the top-level keys are the YAML's."""

    variant: VariantName
    parse_options: ParseOptions
    split_options: SplitOptions
    binarize_options: BinarizeOptions
    reshape_options: ReshapeOptions
    evaluation_options: EvaluationOptions
    seeds: PositiveInt  # runs per stochastic model
    ncf: NCFParameters
    lightfm: LightFMParameters
    ials: IALSParameters
    ease: EASEParameters
    recommend: RecommendOptions
    validation_options: ValidationOptions
    tuning: TuningParameters

    @model_validator(mode="after")
    def _min_rating_on_the_scale(self) -> Parameters:
        low, high = self.parse_options.for_variant(self.variant).scale
        min_rating = self.binarize_options.min_rating
        if min_rating > high:
            raise _invalid(
                "binarize_options.min_rating",
                f"{min_rating} is above the rating scale's maximum {high} "
                "(parse_options.rating_scale, or the variant's), so nothing "
                "would count as an interaction",
            )
        if min_rating < low:
            # Harmless for the data (every rating counts), but a threshold off
            # the scale is a mistake: the wrong scale, or a sign slip.
            raise _invalid(
                "binarize_options.min_rating",
                f"{min_rating} is below the rating scale's minimum {low} "
                "(parse_options.rating_scale, or the variant's); "
                f"{low} counts every rating",
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


# --- The rules that need the train matrix ----------------------------------------

#: Bytes a sampled NCF training row takes at the peak of a draw
#: (``models.neumf.NegativeSampler``): the int32 user, int32 item and float32
#: label it keeps, plus the int64 shuffling order and the int32 copy being
#: reordered (tracemalloc: 24.2 bytes a row at 12 million rows).
SAMPLED_ROW_BYTES = 24


class Conflict(NamedTuple):
    """A parameter value that the data refuses: its key path (as pydantic's
    ``loc``), the value and why."""

    loc: tuple[str | int, ...]
    value: Any
    problem: str


def sampling_memory_bound() -> int:
    """The most bytes NCF's sampled rows may take: half of this machine's
    memory (physical RAM, or a lower cgroup v2 limit). The rest is left to
    TensorFlow, the model and the run's other data; past the memory, a run is
    killed or swaps instead of failing with a message."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    with contextlib.suppress(OSError, ValueError):  # no limit, or "max"
        memory = min(memory, int(Path("/sys/fs/cgroup/memory.max").read_text()))
    return memory // 2


def conflicts_with_data(
    params: Parameters,
    n_users: int,
    n_items: int,
    max_user_positives: int,
    n_positives: int,
    memory_bound: int,
) -> list[Conflict]:
    """The values of ``params`` that a train matrix of ``n_users`` x ``n_items``
    with ``n_positives`` interactions (at most ``max_user_positives`` for one
    user) makes wrong; past them a run crashes after training, or reports
    recall 0 beyond the last item, or runs out of memory."""
    evaluation, recommend = params.evaluation_options, params.recommend
    cut_offs = {
        ("evaluation_options", "top_k"): evaluation.top_k,
        **{("evaluation_options", "ks", i): k for i, k in enumerate(evaluation.ks)},
        ("evaluation_options", "curve_k"): evaluation.curve_k,
        ("recommend", "top_k"): recommend.top_k,
        ("recommend", "stored_top_k"): recommend.stored_top_k,
    }
    conflicts = [
        Conflict(loc, k, f"is above the {n_items:,} items of the train matrix")
        for loc, k in cut_offs.items()
        if k > n_items
    ]
    if recommend.user_id > n_users:
        conflicts.append(
            Conflict(
                ("recommend", "user_id"),
                recommend.user_id,
                f"is above the {n_users:,} users of the train matrix",
            )
        )
    options = params.ncf.training_options
    if options.sampling != "negative":
        return conflicts
    key = ("ncf", "training_options", "negatives")
    unobserved = n_items - max_user_positives
    if options.negatives > unobserved:
        conflicts.append(
            Conflict(
                key,
                options.negatives,
                f"is above {unobserved:,}, the items left to draw negatives from "
                f"for the user with the most positives ({n_items:,} items - "
                f"{max_user_positives:,} positives)",
            )
        )
    rows = n_positives * (1 + options.negatives)
    if rows * SAMPLED_ROW_BYTES > memory_bound:
        conflicts.append(
            Conflict(
                key,
                options.negatives,
                f"{n_positives:,} positives x (1 + negatives) = {rows:,} sampled "
                f"rows take about {rows * SAMPLED_ROW_BYTES / 1e9:,.1f} GB "
                f"({SAMPLED_ROW_BYTES} bytes a row), above the bound of "
                f"{memory_bound / 1e9:,.1f} GB, half of this machine's memory",
            )
        )
    return conflicts
