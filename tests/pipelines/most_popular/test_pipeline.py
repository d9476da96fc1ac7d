"""The most-popular pipeline run by Kedro's runner: the train matrix in, the
baseline's counts out under the model's namespace."""

from __future__ import annotations

import numpy as np

from ncf_movielens.models.most_popular import MostPopular
from ncf_movielens.pipelines.most_popular import create_pipeline
from ncf_movielens.study import MODELS

MODEL = next(model for model in MODELS if model.name == "most_popular")


def test_the_pipeline_counts_train_interactions(matrices, run):
    train, _ = matrices
    pipeline = create_pipeline(model=MODEL)
    assert [node.name for node in pipeline.nodes] == ["most_popular.train_model"]
    assert pipeline.inputs() == {"train_matrix"}
    outputs = run(pipeline, {"train_matrix": train})
    assert outputs.keys() == {"most_popular.model"}
    model = outputs["most_popular.model"]
    assert isinstance(model, MostPopular)
    np.testing.assert_array_equal(model.counts, train.toarray().sum(axis=0))
