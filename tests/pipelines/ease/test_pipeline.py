"""The EASE pipeline run by Kedro's runner: the train matrix and the typed
``ease.model_options`` in, the fitted weights out."""

from __future__ import annotations

import numpy as np
import pytest

from ncf_movielens.models.ease import EASE, fit_ease
from ncf_movielens.parameters import EASEModelOptions
from ncf_movielens.pipelines.ease import create_pipeline
from ncf_movielens.study import MODELS
from tests.support import project_params

MODEL = next(model for model in MODELS if model.name == "ease")


@pytest.mark.parametrize("changes", [{}, {"l2": 5.0}], ids=["yaml", "l2 5"])
def test_the_pipeline_fits_ease_with_its_parameters(matrices, run, changes):
    train, _ = matrices
    pipeline = create_pipeline(model=MODEL)
    assert [node.name for node in pipeline.nodes] == ["ease.train_model"]
    assert pipeline.inputs() == {"train_matrix", "params:ease.model_options"}
    outputs = run(pipeline, {"train_matrix": train}, ease={"model_options": changes})
    assert outputs.keys() == {"ease.model"}
    model = outputs["ease.model"]
    assert isinstance(model, EASE)
    options = EASEModelOptions.model_validate(
        {**project_params()["ease"]["model_options"], **changes}
    )
    np.testing.assert_array_equal(model.weights, fit_ease(train, options).weights)
