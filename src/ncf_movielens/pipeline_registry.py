"""Project pipelines: every pipeline built from the study's one list of models
(``ncf_movielens.study.MODELS``), and ``__default__``, the whole study."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from ncf_movielens.pipelines import (
    data_engineering,
    ease,
    evaluation,
    lightfm,
    most_popular,
    ncf,
    recommend,
    reporting,
)
from ncf_movielens.study import MODELS

#: The pipeline that trains each model, by the model's name.
_TRAINING = {
    "ncf": ncf,
    "lightfm": lightfm,
    "most_popular": most_popular,
    "ease": ease,
}


def register_pipelines() -> dict[str, Pipeline]:
    """``data_engineering``, one training pipeline per model, ``evaluation``,
    ``reporting`` and ``recommendations`` (each model's stored lists), all of
    them in ``__default__``; and ``recommend``, which only shows one user's
    stored lists (``kedro run --pipelines=recommend``)."""
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
    return pipelines
