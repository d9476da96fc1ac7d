"""One trial of each tunable model: train on the fit matrix with the trial's
settings, score on the validation matrix (fit items removed), report to the
pruner; and ``tune_model``, a whole study and its best parameters.

NCF and LightFM are scored every ``report_every`` epochs: a trial stops after
``patience`` scores without a better one (early stopping on the validation
ranking, not on the loss), the pruner may stop it sooner, and its best epoch
becomes the tuned model's ``epochs``. A trial that diverges (a NaN or
infinite loss or score) is pruned and logged; the study goes on.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel

from ncf_movielens.interactions import positive_rows
from ncf_movielens.models import Recommender
from ncf_movielens.models.checks import DegenerateModelError
from ncf_movielens.parameters import TUNABLE_OPTIONS, ModelTuning, StudyOptions
from ncf_movielens.tuning import space as spaces
from ncf_movielens.tuning import studies
from ncf_movielens.tuning.storage import shown_storage
from ncf_movielens.tuning.validation import DegenerateScores, validation_score

logger = logging.getLogger(__name__)

#: Called after an epoch with (epochs done, the model so far); True stops.
EpochEnd = Callable[[int, Recommender], bool]
Options = dict[str, BaseModel]


class TrialDiverged(RuntimeError):
    """A trial whose loss or scores stopped being finite."""


@dataclass
class ValidationCurve:
    """Scores a model on validation every ``every`` epochs and reports each
    score to the trial. The best score among the epochs whose scores are
    not flat (standard deviation at least ``min_std``, the evaluation's own
    check: an untrained NCF is flat after its first epoch) is the trial's;
    it asks to stop after ``patience`` scores without a better one, or when
    the pruner says so."""

    trial: optuna.Trial
    score: Callable[[Recommender], tuple[float, float]]
    every: int
    patience: int
    min_std: float = 0.0
    best: float = -math.inf
    best_epoch: int | None = None
    last_epoch: int = 0
    last_std: float = math.nan
    _stale: int = field(default=0, repr=False)

    def __call__(self, epoch: int, model: Recommender) -> bool:
        if epoch % self.every:
            return False
        return self.add(epoch, model)

    def add(self, epoch: int, model: Recommender) -> bool:
        value, self.last_std = self.score(model)
        self.last_epoch = epoch
        if not math.isfinite(value):
            raise TrialDiverged(f"the validation score is {value} at epoch {epoch}")
        self.trial.report(value, epoch)
        if self.last_std >= self.min_std and value > self.best:
            self.best, self.best_epoch, self._stale = value, epoch, 0
        elif self.best_epoch is not None:
            self._stale += 1
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {epoch} ({value:.4f})")
        return self._stale >= self.patience

    def result(self) -> float:
        """The trial's value; a trial whose every score was flat diverged."""
        if self.best_epoch is None:
            raise TrialDiverged(
                f"the scores collapsed: standard deviation {self.last_std:.2e} at "
                f"epoch {self.last_epoch}, below evaluation_options.min_score_std "
                f"{self.min_std}"
            )
        return self.best


def _ncf_changes(changes: spaces.Changes, options: Options) -> spaces.Changes:
    """A scalar ``reg_layers`` (or none, with new ``dense_layers``) as one
    value per dense layer."""
    model = dict(changes.get("model_options", {}))
    layers = model.get("dense_layers", options["model_options"].dense_layers)
    reg = model.get("reg_layers", options["model_options"].reg_layers)
    if not isinstance(reg, list):
        reg = [reg] * len(layers)
    elif len(reg) != len(layers):
        reg = [reg[0] if reg else 0.0] * len(layers)
    model.update(dense_layers=list(layers), reg_layers=reg)
    return {**changes, "model_options": model}


def _fit_ncf(matrix: sp.csr_matrix, options: Options, epoch_end: EpochEnd):
    import keras  # noqa: PLC0415 - TensorFlow only when NCF is tuned

    from ncf_movielens.models.neumf import train_neumf  # noqa: PLC0415

    keras.backend.clear_session()  # the last trial's graphs go
    model, history = train_neumf(
        positive_rows(matrix),
        matrix,
        options["model_options"],
        options["training_options"],
        epoch_end=epoch_end,
    )
    return model, history["epochs_run"]


def _fit_lightfm(matrix: sp.csr_matrix, options: Options, epoch_end: EpochEnd):
    from ncf_movielens.models.lightfm import fit_lightfm  # noqa: PLC0415

    epochs = [0]

    def counted(epoch: int, model: Recommender) -> bool:
        epochs[0] = epoch
        return epoch_end(epoch, model)

    model = fit_lightfm(
        matrix, options["model_options"], options["training_options"], counted
    )
    return model, epochs[0]


def _fit_ials(matrix: sp.csr_matrix, options: Options, epoch_end: EpochEnd):
    from ncf_movielens.models.ials import fit_ials  # noqa: PLC0415

    return fit_ials(matrix, options["model_options"], options["training_options"]), 0


def _fit_ease(matrix: sp.csr_matrix, options: Options, epoch_end: EpochEnd):
    from ncf_movielens.models.ease import fit_ease  # noqa: PLC0415

    return fit_ease(matrix, options["model_options"]), 0


#: How each tunable model trains: (matrix, options, epoch_end) -> (model,
#: epochs run; 0 for a model without epochs).
FITTERS = {
    "ncf": _fit_ncf,
    "lightfm": _fit_lightfm,
    "ials": _fit_ials,
    "ease": _fit_ease,
}
#: Models whose epochs the validation curve picks.
EPOCH_MODELS = frozenset({"ncf", "lightfm"})


def _trial_options(
    model: str, options: Options, tuning: ModelTuning, changes: spaces.Changes
) -> Options:
    fixed = spaces.apply(options, tuning.fixed)
    if model == "ncf":
        changes = _ncf_changes(changes, fixed)
    return spaces.apply(fixed, changes)


@contextlib.contextmanager
def _models_quiet() -> Iterator[None]:
    """The models' own INFO lines (training started, fitted in ...) held back
    during a trial, which logs one line of its own; the verbose log (DEBUG)
    keeps them."""
    models = logging.getLogger("ncf_movielens.models")
    if models.getEffectiveLevel() <= logging.DEBUG:
        yield
        return
    level = models.level
    models.setLevel(logging.WARNING)
    try:
        yield
    finally:
        models.setLevel(level)


def make_objective(
    model: str,
    fit_matrix: sp.csr_matrix,
    validation_matrix: sp.csr_matrix,
    options: Options,
    tuning: ModelTuning,
    study: StudyOptions,
    min_score_std: float = 0.0,
) -> Callable[[optuna.Trial], float]:
    """The objective of ``model``'s study: validation ``metric@k`` (higher
    is better) of one trial's settings; scores flatter than
    ``min_score_std`` prune the trial."""
    fitter = FITTERS[model]

    def score(recommender: Recommender) -> tuple[float, float]:
        return validation_score(
            recommender, fit_matrix, validation_matrix, study.metric, study.k
        )

    def objective(trial: optuna.Trial) -> float:
        trial_options = _trial_options(
            model, options, tuning, spaces.suggest(trial, tuning.space)
        )
        curve = ValidationCurve(
            trial, score, tuning.report_every, tuning.patience, min_score_std
        )
        try:
            with _models_quiet():
                fitted, epochs_run = fitter(fit_matrix, trial_options, curve)
            if curve.last_epoch != epochs_run or epochs_run == 0:
                curve.add(max(epochs_run, 1), fitted)
            value = curve.result()
        except (
            TrialDiverged,
            DegenerateScores,
            DegenerateModelError,
            FloatingPointError,
        ) as error:
            logger.warning(
                "%s trial %d diverged, pruned: %s", model, trial.number, error
            )
            trial.set_user_attr("diverged", str(error))
            raise optuna.TrialPruned(str(error)) from error
        except optuna.TrialPruned as pruned:
            logger.info("%s trial %d %s", model, trial.number, pruned)
            raise
        if model in EPOCH_MODELS:
            trial.set_user_attr("epochs", curve.best_epoch)
        logger.info(
            "%s trial %d: validation %s@%d %.4f%s",
            model,
            trial.number,
            study.metric,
            study.k,
            value,
            f" at epoch {curve.best_epoch}" if model in EPOCH_MODELS else "",
        )
        return value

    return objective


def best_options(
    model: str, options: Options, tuning: ModelTuning, trial: optuna.trial.FrozenTrial
) -> Options:
    """The options the tuned model retrains with on the whole train matrix:
    the defaults, the study's fixed values, the best trial's values and, for
    NCF and LightFM, its best epoch as ``epochs``."""
    tuned = _trial_options(
        model, options, tuning, spaces.changes_of(trial.params, tuning.space)
    )
    epochs = trial.user_attrs.get("epochs")
    if epochs:
        tuned = spaces.apply(tuned, {"training_options": {"epochs": epochs}})
    return tuned


def tune_model(
    model: str,
    fit_matrix: sp.csr_matrix,
    validation_matrix: sp.csr_matrix,
    options: Options,
    tuning: ModelTuning,
    study_options: StudyOptions,
    min_score_std: float = 0.0,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Run (or resume) ``model``'s study to its budget; returns its best
    parameters with the study's summary, and the table of its trials."""
    spaces.check_space(tuning.space, options, model)
    described = {
        "model": model,
        "space": {
            g: {f: d.model_dump() for f, d in dims.items()}
            for g, dims in tuning.space.items()
        },
        "fixed": tuning.fixed,
        # What trials start from; where TensorBoard would write changes no
        # model (and holds the project's folder, which machines don't share).
        "defaults": {
            group: value.model_dump(exclude={"tensorboard_log_dir"})
            for group, value in spaces.apply(options, tuning.fixed).items()
        },
        "objective": f"{study_options.metric}@{study_options.k}",
        "min_score_std": min_score_std,
        "report_every": tuning.report_every,
        "patience": tuning.patience,
    }
    digest = studies.fingerprint(
        fit=fit_matrix, validation=validation_matrix, settings=described
    )
    study = studies.open_study(study_options, model, tuning.pruner, described, digest)
    enqueue = (
        spaces.in_space(spaces.apply(options, tuning.fixed), tuning.space)
        if study_options.enqueue_defaults
        else None
    )
    seconds = studies.optimize(
        study,
        make_objective(
            model,
            fit_matrix,
            validation_matrix,
            options,
            tuning,
            study_options,
            min_score_std,
        ),
        study_options,
        enqueue,
    )
    summary = studies.summary(study, seconds)
    if summary["best_trial"] is None:
        raise RuntimeError(
            f"Study {study.study_name} has no complete trial ({summary['trials']}): "
            "every trial was pruned or failed; widen its space or raise n_trials"
        )
    tuned = best_options(model, options, tuning, study.best_trial)
    logger.info(
        "Tuned %s: validation %s@%d %.4f (trial %d of %d finished) in %.1f s",
        model,
        study_options.metric,
        study_options.k,
        summary["best_value"],
        summary["best_trial"],
        studies.finished_trials(study),
        seconds,
    )
    best = {
        **summary,
        "storage": shown_storage(study_options.storage),
        "objective": described["objective"],
        "parameters": {group: value.model_dump() for group, value in tuned.items()},
    }
    trials = study.trials_dataframe(
        attrs=("number", "value", "state", "duration", "params", "user_attrs")
    )
    if "duration" in trials:
        trials["duration"] = trials["duration"].dt.total_seconds()
    return best, trials


def tuned_options(model: str, best_parameters: Mapping[str, Any]) -> Options:
    """The option groups saved in ``best_parameters`` (``tune_model``'s
    output), validated by ``model``'s schemas, in the schema's order."""
    types = TUNABLE_OPTIONS[model]
    saved = best_parameters["parameters"]
    return {group: kind.model_validate(saved[group]) for group, kind in types.items()}
