"""The two recommendation pipelines: ``recommendations`` stores every model's
lists (part of every full run), ``recommend`` only reads them back and shows one
user's, writing nothing; and ``kedro run --pipelines=recommend`` in a studied
project, which leaves every file under ``data/`` as it was."""

from __future__ import annotations

import pandas as pd
import pytest

from ncf_movielens.pipeline_registry import register_pipelines
from ncf_movielens.pipelines.recommend import (
    create_pipeline,
    create_recommendations_pipeline,
)
from ncf_movielens.pipelines.recommend.nodes import top_k_unseen
from ncf_movielens.study import MODELS
from tests.support import (
    all_versions,
    digests,
    project_params,
    run_session,
    scratch_project,
    version_file,
    versioned_outputs,
)

STORED = {f"{model.name}_recommendations" for model in MODELS}


def test_recommend_only_shows_the_stored_lists():
    pipelines = register_pipelines()
    recommend = pipelines["recommend"]
    assert [node.name for node in recommend.nodes] == ["show_user_recommendations"]
    assert recommend.inputs() == {"params:recommend", *STORED}
    assert recommend.outputs() == {"user_recommendations"}
    # The stored lists come from the full run, under the names the README uses.
    default = pipelines["__default__"]
    assert STORED <= default.all_outputs()
    assert {f"{model.name}.recommend_top_k" for model in MODELS} <= {
        node.name for node in default.nodes
    }
    assert "show_user_recommendations" not in {node.name for node in default.nodes}
    assert pipelines["recommendations"].outputs() == STORED


def test_stored_lists_depend_only_on_the_parameters_they_use():
    """A stored list is refused when a parameter it was made with changes, so
    the user to show and how many to show must not be among them; a model
    with named settings also takes its ``settings``, which label its lists."""
    by_name = {model.name: model for model in MODELS}
    for node in create_recommendations_pipeline(models=MODELS).nodes:
        model = by_name[node.namespace]
        settings = {f"params:{model.name}.settings"} if model.named_settings else set()
        assert {name for name in node.inputs if name.startswith("params:")} == {
            "params:recommend.stored_top_k",
            "params:recommend.batch_size",
            *settings,
        }, node.name


def test_only_the_stored_lists_are_written(tmp_path):
    project = scratch_project(tmp_path / "project")
    assert versioned_outputs(project, "recommend") == {}
    assert STORED <= set(versioned_outputs(project))


def test_the_pipelines_store_then_show_every_models_lists(
    matrices, movies, run, model_datasets
):
    train, _ = matrices
    options = project_params()["recommend"]
    data = {"train_matrix": train, "movies": movies, **model_datasets}
    stored = run(create_recommendations_pipeline(models=MODELS), data)
    assert stored.keys() == STORED
    for model in MODELS:
        recs = stored[f"{model.name}_recommendations"]
        direct = top_k_unseen(
            model_datasets[f"{model.name}.model"].load(),
            train,
            movies,
            model.label,
            options["stored_top_k"],
            options["batch_size"],
        )
        pd.testing.assert_frame_equal(recs, direct)
        assert recs.groupby("user_id").size().eq(options["stored_top_k"]).all()

    # The view needs nothing but the stored lists: no model, no matrix.
    view = run(create_pipeline(models=MODELS), stored, recommend={"user_id": 3})
    view = view["user_recommendations"]
    assert view.columns.tolist() == ["rank", *(model.label for model in MODELS)]
    assert view["rank"].tolist() == list(range(1, options["top_k"] + 1))
    for model in MODELS:
        recs = stored[f"{model.name}_recommendations"]
        mine = recs[(recs["user_id"] == 3) & (recs["rank"] <= options["top_k"])]
        assert view[model.label].tolist() == mine["title"].tolist()


def test_named_settings_label_the_stored_lists(matrices, movies, run, model_datasets):
    """``ncf.settings: notebook`` (conf/notebook): NCF's stored lists, and so the
    view of one user's, name its settings; the other models' do not."""
    train, _ = matrices
    data = {"train_matrix": train, "movies": movies, **model_datasets}
    stored = run(
        create_recommendations_pipeline(models=MODELS),
        data,
        ncf={"settings": "notebook"},
    )
    named = "NCF (NeuMF), notebook settings"
    assert set(stored["ncf_recommendations"]["model"]) == {named}
    view = run(create_pipeline(models=MODELS), stored)["user_recommendations"]
    assert view.columns.tolist() == [
        "rank",
        *(named if model.name == "ncf" else model.label for model in MODELS),
    ]


@pytest.mark.slow
def test_showing_a_user_writes_nothing(study):
    """The studied project's lists were stored with ``recommend.user_id`` 1;
    user 42's are shown from them, and no file under ``data/`` changes (the
    run's lock and record are bookkeeping, not data)."""
    data = study / "data"
    before, files = all_versions(data), digests(data)
    outputs = run_session(
        study, params={"recommend": {"user_id": 42}}, pipeline_names=["recommend"]
    )
    assert all_versions(data) == before
    assert digests(data) == files
    view = outputs["user_recommendations"].load()
    top_k = project_params()["recommend"]["top_k"]
    assert view["rank"].tolist() == list(range(1, top_k + 1))
    for model in MODELS:
        stored = f"07_model_output/ml-100k/{model.name}_recommendations.parquet"
        recs = pd.read_parquet(version_file(data / stored))
        mine = recs[(recs["user_id"] == 42) & (recs["rank"] <= top_k)]
        assert view[model.label].tolist() == mine["title"].tolist(), model.name
