"""The LightFM pipeline run by Kedro's runner: the main model with the YAML's
seed and, with ``seeds`` above 1, one model per extra seed."""

from __future__ import annotations

import numpy as np

from ncf_movielens.models.lightfm import LightFMRecommender, fit_lightfm
from ncf_movielens.parameter_errors import validate_parameters
from ncf_movielens.pipelines.lightfm import create_pipeline
from ncf_movielens.pipelines.lightfm.nodes import train_other_seeds
from ncf_movielens.study import MODELS, StudyModel
from tests.support import project_params

MODEL = next(model for model in MODELS if model.name == "lightfm")
FAST = {"training_options": {"epochs": 3}}


def scores(model: LightFMRecommender, n_users: int, n_items: int) -> np.ndarray:
    return model.score_users(np.arange(n_users), n_items)


def test_the_pipeline_trains_one_model_per_seed(matrices, run):
    train, _ = matrices
    pipeline = create_pipeline(model=MODEL)
    assert {node.name for node in pipeline.nodes} == {
        "lightfm.train_model",
        "lightfm.train_other_seeds",
    }
    assert pipeline.inputs() == {
        "train_matrix",
        "params:lightfm.model_options",
        "params:lightfm.training_options",
        "params:seeds",
    }
    outputs = run(pipeline, {"train_matrix": train}, lightfm=FAST, seeds=3)
    assert outputs.keys() == {"lightfm.model", "lightfm.other_seed_models"}

    params = validate_parameters(project_params(lightfm=FAST, seeds=3)).lightfm
    assert params.training_options.seed == 42
    others = outputs["lightfm.other_seed_models"]
    assert list(others) == [43, 44]
    runs = {42: outputs["lightfm.model"], **others}
    for seed, model in runs.items():
        direct = fit_lightfm(
            train,
            params.model_options,
            params.training_options.model_copy(update={"seed": seed}),
        )
        np.testing.assert_array_equal(
            scores(model, *train.shape), scores(direct, *train.shape)
        )
    assert not np.allclose(
        scores(runs[42], *train.shape), scores(runs[43], *train.shape)
    )


def test_one_seed_trains_no_other_model(matrices):
    train, _ = matrices
    params = validate_parameters(project_params(lightfm=FAST)).lightfm
    assert (
        train_other_seeds(train, params.model_options, params.training_options, 1) == {}
    )


def test_a_deterministic_model_has_no_other_seeds():
    pipeline = create_pipeline(model=StudyModel("lightfm", "LightFM", stochastic=False))
    assert [node.name for node in pipeline.nodes] == ["lightfm.train_model"]
    assert "params:seeds" not in pipeline.inputs()
