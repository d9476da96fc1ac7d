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
    ``reporting`` and ``recommend``; ``__default__`` runs them all but does not
    show one user's lists (``kedro run --pipelines=recommend`` does)."""
    pipelines = {"data_engineering": data_engineering.create_pipeline()}
    for model in MODELS:
        pipelines[model.name] = _TRAINING[model.name].create_pipeline(model=model)
    pipelines["evaluation"] = evaluation.create_pipeline(models=MODELS)
    pipelines["reporting"] = reporting.create_pipeline(models=MODELS)
    pipelines["recommend"] = recommend.create_pipeline(models=MODELS)
    everything = sum(pipelines.values(), Pipeline([]))
    show = [n for n in everything.nodes if n.name == recommend.SHOW_NODE]
    pipelines["__default__"] = everything - Pipeline(show)
    return pipelines
