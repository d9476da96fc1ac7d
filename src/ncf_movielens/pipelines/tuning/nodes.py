"""The tuning's nodes: carve the validation split from train, run each
model's study (``ncf_movielens.tuning``), and turn a study's best parameters
into the options its tuned model retrains with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel

from ncf_movielens.parameters import (
    EASEModelOptions,
    IALSModelOptions,
    IALSTrainingOptions,
    LightFMModelOptions,
    LightFMTrainingOptions,
    ModelTuning,
    NCFModelOptions,
    NCFTrainingOptions,
    StudyOptions,
    ValidationOptions,
)
from ncf_movielens.tuning import objectives, validation

Tuned = tuple[dict[str, Any], pd.DataFrame]


def split_validation(
    train_matrix: sp.csr_matrix, validation_options: ValidationOptions
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The fit and validation matrices carved from the train matrix."""
    return validation.split_validation(train_matrix, validation_options)


def tune_ncf(
    fit_matrix: sp.csr_matrix,
    validation_matrix: sp.csr_matrix,
    study: StudyOptions,
    tuning: ModelTuning,
    min_score_std: float,
    model_options: NCFModelOptions,
    training_options: NCFTrainingOptions,
) -> Tuned:
    """NCF's study: best parameters and the table of trials."""
    options = {"model_options": model_options, "training_options": training_options}
    return objectives.tune_model(
        "ncf", fit_matrix, validation_matrix, options, tuning, study, min_score_std
    )


def tune_lightfm(
    fit_matrix: sp.csr_matrix,
    validation_matrix: sp.csr_matrix,
    study: StudyOptions,
    tuning: ModelTuning,
    min_score_std: float,
    model_options: LightFMModelOptions,
    training_options: LightFMTrainingOptions,
) -> Tuned:
    """LightFM's study: best parameters and the table of trials."""
    options = {"model_options": model_options, "training_options": training_options}
    return objectives.tune_model(
        "lightfm", fit_matrix, validation_matrix, options, tuning, study, min_score_std
    )


def tune_ials(
    fit_matrix: sp.csr_matrix,
    validation_matrix: sp.csr_matrix,
    study: StudyOptions,
    tuning: ModelTuning,
    min_score_std: float,
    model_options: IALSModelOptions,
    training_options: IALSTrainingOptions,
) -> Tuned:
    """iALS's study: best parameters and the table of trials."""
    options = {"model_options": model_options, "training_options": training_options}
    return objectives.tune_model(
        "ials", fit_matrix, validation_matrix, options, tuning, study, min_score_std
    )


def tune_ease(
    fit_matrix: sp.csr_matrix,
    validation_matrix: sp.csr_matrix,
    study: StudyOptions,
    tuning: ModelTuning,
    min_score_std: float,
    model_options: EASEModelOptions,
) -> Tuned:
    """EASE's study: best parameters and the table of trials."""
    return objectives.tune_model(
        "ease",
        fit_matrix,
        validation_matrix,
        {"model_options": model_options},
        tuning,
        study,
        min_score_std,
    )


#: Each tunable model's study node, by model name.
TUNERS: dict[str, Callable[..., Tuned]] = {
    "ncf": tune_ncf,
    "lightfm": tune_lightfm,
    "ials": tune_ials,
    "ease": tune_ease,
}


def tuned_options_of(model: str) -> Callable[[dict[str, Any]], Any]:
    """A node function: ``model``'s saved best parameters -> its option
    groups (one output per group)."""

    def tuned_options(best_parameters: dict[str, Any]) -> Any:
        groups: list[BaseModel] = list(
            objectives.tuned_options(model, best_parameters).values()
        )
        return groups[0] if len(groups) == 1 else tuple(groups)

    tuned_options.__name__ = f"{model}_tuned_options"
    tuned_options.__doc__ = f"{model}'s best parameters as its option groups."
    return tuned_options
