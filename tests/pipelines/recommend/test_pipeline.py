"""The recommend pipeline run by Kedro's runner: every model's lists under its
label, and the configured user's lists side by side."""

from __future__ import annotations

import pandas as pd
from kedro.pipeline import Pipeline

from ncf_movielens.parameters import RecommendOptions
from ncf_movielens.pipelines.recommend import SHOW_NODE, create_pipeline
from ncf_movielens.pipelines.recommend.nodes import top_k_unseen
from ncf_movielens.study import MODELS
from tests.support import project_options


def test_the_pipeline_recommends_for_every_model(matrices, movies, run, model_datasets):
    train, _ = matrices
    pipeline = create_pipeline(models=MODELS)
    assert pipeline.inputs() == {
        "train_matrix",
        "movies",
        "params:recommend",
        *(f"{model.name}.model" for model in MODELS),
    }
    data = {"train_matrix": train, "movies": movies, **model_datasets}
    options = project_options(RecommendOptions, "recommend", user_id=3)
    direct = {
        model.name: top_k_unseen(
            model_datasets[f"{model.name}.model"].load(),
            train,
            movies,
            options,
            model.label,
        )
        for model in MODELS
    }
    # Without the view (as in __default__): each model's stored lists.
    stored = run(
        Pipeline([node for node in pipeline.nodes if node.name != SHOW_NODE]), data
    )
    assert stored.keys() == {f"{model.name}_recommendations" for model in MODELS}
    for model in MODELS:
        recs = stored[f"{model.name}_recommendations"]
        pd.testing.assert_frame_equal(recs, direct[model.name])
        assert recs.groupby("user_id").size().eq(options.stored_top_k).all()

    view = run(pipeline, data, recommend={"user_id": 3})["user_recommendations"]
    assert view["rank"].tolist() == list(range(1, options.top_k + 1))
    for model in MODELS:
        recs = direct[model.name]
        mine = recs[(recs["user_id"] == 3) & (recs["rank"] <= options.top_k)]
        assert view[model.label].tolist() == mine["title"].tolist()
