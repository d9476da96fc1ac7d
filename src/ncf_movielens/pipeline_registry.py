"""Project pipelines: every pipeline built from the study's one list of models
(``ncf_movielens.study.MODELS``), ``__default__``, the whole study, and
``tuning``, the whole study with each tunable model tuned beside it."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from ncf_movielens.pipelines import (
    data_engineering,
    ease,
    evaluation,
    ials,
    lightfm,
    most_popular,
    ncf,
    recommend,
    reporting,
    tuning,
)
from ncf_movielens.study import MODELS, TUNABLE

#: The pipeline that trains each model, by the model's name.
_TRAINING = {
    "ncf": ncf,
    "lightfm": lightfm,
    "ials": ials,
    "most_popular": most_popular,
    "ease": ease,
}


def _tuned_pipelines() -> dict[str, Pipeline]:
    """Each tuned model: its study's best parameters as options, then the
    base model's own training template in the tuned model's namespace."""
    pipelines = {}
    for base in TUNABLE:
        model = base.tuned()
        groups = tuning.OPTION_GROUPS[base.name]
        training = _TRAINING[base.name].create_pipeline(model=model, options=groups)
        pipelines[model.name] = tuning.create_tuned_pipeline(model, base.name, training)
    return pipelines


def register_pipelines() -> dict[str, Pipeline]:
    """``data_engineering``, one training pipeline per model, ``evaluation``,
    ``reporting`` and ``recommendations`` (each model's stored lists), all of
    them in ``__default__``; ``recommend``, which only shows one user's
    stored lists (``kedro run --pipelines=recommend``); and ``tuning``: the
    default study, the validation split, one Optuna study per tunable model,
    the tuned retrains and a comparison with default and tuned rows."""
    pipelines = {"data_engineering": data_engineering.create_pipeline()}
    for model in MODELS:
        pipelines[model.name] = _TRAINING[model.name].create_pipeline(model=model)
    pipelines["evaluation"] = evaluation.create_pipeline(models=MODELS)
    pipelines["reporting"] = reporting.create_pipeline(models=MODELS)
    pipelines["recommendations"] = recommend.create_recommendations_pipeline(
        models=MODELS
    )
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    pipelines["recommend"] = recommend.create_pipeline(models=MODELS)

    tuned = _tuned_pipelines()
    tuned_models = tuple(base.tuned() for base in TUNABLE)
    study = [pipelines[name] for name in ("data_engineering", "evaluation")]
    pipelines["tuning"] = sum(
        [
            *study,
            *(pipelines[model.name] for model in MODELS),
            tuning.create_pipeline(models=TUNABLE),
            *tuned.values(),
            evaluation.create_pipeline(models=tuned_models),
            reporting.create_pipeline(
                models=MODELS + tuned_models,
                tuned=tuple(base.name for base in TUNABLE),
            ),
        ],
        Pipeline([]),
    )
    return pipelines
