"""The iALS pipeline run by Kedro's runner: the main model with the YAML's seed
and, with ``seeds`` above 1, one model per extra seed."""

from __future__ import annotations

import numpy as np

from ncf_movielens.models.ials import IALSRecommender, fit_ials
from ncf_movielens.parameters import IALSParameters
from ncf_movielens.pipelines.ials import create_pipeline
from ncf_movielens.pipelines.ials.nodes import train_other_seeds
from ncf_movielens.study import MODELS, StudyModel
from tests.support import project_params

MODEL = next(model for model in MODELS if model.name == "ials")
#: 3 iterations; alpha 10, as with the YAML's alpha 1 the factors of so small a
#: matrix shrink to ~0 under regularization 10.
FAST = {"model_options": {"iterations": 3, "factors": 8, "alpha": 10.0}}


def ials_params() -> IALSParameters:
    """The ``ials`` group a run with ``FAST`` passes its nodes."""
    return IALSParameters.model_validate(project_params(ials=FAST)["ials"])


def scores(model: IALSRecommender, n_users: int, n_items: int) -> np.ndarray:
    return model.score_users(np.arange(n_users), n_items)


def test_the_pipeline_trains_one_model_per_seed(matrices, run):
    train, _ = matrices
    pipeline = create_pipeline(model=MODEL)
    assert {node.name for node in pipeline.nodes} == {
        "ials.train_model",
        "ials.train_other_seeds",
    }
    assert pipeline.inputs() == {
        "train_matrix",
        "params:ials.model_options",
        "params:ials.training_options",
        "params:seeds",
    }
    outputs = run(pipeline, {"train_matrix": train}, ials=FAST, seeds=3)
    assert outputs.keys() == {"ials.model", "ials.other_seed_models"}

    params = ials_params()
    assert params.training_options.seed == 42
    others = outputs["ials.other_seed_models"]
    assert list(others) == [43, 44]
    runs = {42: outputs["ials.model"], **others}
    for seed, model in runs.items():
        direct = fit_ials(
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
    params = ials_params()
    assert (
        train_other_seeds(train, params.model_options, params.training_options, 1) == {}
    )


def test_a_deterministic_model_has_no_other_seeds():
    pipeline = create_pipeline(model=StudyModel("ials", "iALS", stochastic=False))
    assert [node.name for node in pipeline.nodes] == ["ials.train_model"]
    assert "params:seeds" not in pipeline.inputs()
