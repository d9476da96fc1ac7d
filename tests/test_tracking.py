"""Run tracking (ncf_movielens.tracking): one `kedro run` is one MLflow run in
the project's own store, with the run's parameters, both protocols' metrics
(equal to the metrics JSON), NCF's per-epoch history and the outputs whose
catalog entries name an artifact folder."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest

from ncf_movielens import tracking
from ncf_movielens.study import MODELS

from .support import load_json, version_file

STORE = Path("data") / "10_tracking"
REPORTING = Path("data") / "08_reporting" / "ml-100k"


def _runs(project: Path, **search: object) -> pd.DataFrame:
    uri = f"sqlite:///{(project / STORE / 'mlflow.db').as_posix()}"
    mlflow.set_tracking_uri(uri)
    try:
        return mlflow.search_runs(experiment_names=["ncf_movielens"], **search)
    finally:
        mlflow.set_tracking_uri(None)


# --- the helpers ----------------------------------------------------------------


def test_parameters_are_flattened_with_lists_whole_and_long_values_cut():
    flat = tracking.flat_parameters(
        {
            "ncf": {"training_options": {"batch_size": 16384, "layers": [64, 32]}},
            "variant": "ml-100k",
            "empty": {},
            "long": "x" * (tracking.MAX_PARAM_LENGTH + 10),
        }
    )
    assert flat == {
        "ncf.training_options.batch_size": "16384",
        "ncf.training_options.layers": "[64, 32]",
        "variant": "ml-100k",
        "empty": "{}",
        "long": "x" * tracking.MAX_PARAM_LENGTH,
    }


def test_metrics_are_named_by_model_protocol_and_cut_off():
    metrics = {
        "model": "NCF (NeuMF)",
        "protocols": {
            "standard": {"precision@5": 0.25, "users": 60, "curves": [0.1]},
            "notebook": {"recall@10": 0.5, "nan": float("nan"), "flag": True},
        },
    }
    assert tracking.model_metrics("ncf", metrics) == {
        "ncf.standard.precision_at_5": 0.25,
        "ncf.standard.users": 60.0,
        "ncf.notebook.recall_at_10": 0.5,
    }
    seeds = tracking.seed_metrics("ncf", [{**metrics, "seed": 43}])
    assert seeds["ncf.seed_43.standard.precision_at_5"] == 0.25


def test_history_is_one_step_per_epoch_from_one():
    steps = tracking.history_steps(
        "ncf",
        {"history": {"loss": [0.7, 0.5], "val_loss": [0.8, 0.6]}, "epochs_run": 2},
    )
    assert steps == [
        ("ncf.loss", 0.7, 1),
        ("ncf.loss", 0.5, 2),
        ("ncf.val_loss", 0.8, 1),
        ("ncf.val_loss", 0.6, 2),
    ]


def test_the_best_complete_trial_is_marked():
    trials = pd.DataFrame(
        {
            "number": [0, 1, 2, 3],
            "state": ["COMPLETE", "COMPLETE", "PRUNED", "FAIL"],
            "value": [0.2, 0.3, 0.9, None],
            "duration": [1.0, 2.0, 0.5, 0.1],
            "params_l2": [10.0, 20.0, 30.0, 40.0],
            "user_attrs_epochs": [3, 4, 1, 0],
        }
    )
    records = tracking.trial_records(trials)
    assert [r["best"] for r in records] == [False, True, False, False]
    assert records[1]["params"] == {"l2": 20.0}
    assert records[1]["attrs"] == {"epochs": 4}
    assert records[3]["value"] is None


def test_run_names_and_settings_tags():
    assert tracking.run_name(None, "local") == "__default__ · local"
    assert tracking.run_name(["ncf", "evaluation"], "notebook") == (
        "ncf+evaluation · notebook"
    )
    assert tracking.settings_of({"ncf": {"settings": None}}) == "default"
    assert (
        tracking.settings_of(
            {"ncf": {"settings": "notebook"}, "ease": {"settings": "big"}}
        )
        == "ncf: notebook, ease: big"
    )


def test_the_store_is_the_projects_unless_the_environment_names_one(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.tracking_uri(tmp_path) == (
        f"sqlite:///{(tmp_path / STORE / 'mlflow.db').as_posix()}"
    )
    assert tracking.artifact_location(tmp_path) == (
        (tmp_path / STORE / "artifacts").as_posix()
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow-host:5000")
    assert tracking.tracking_uri(tmp_path) == "http://mlflow-host:5000"
    assert tracking.artifact_location(tmp_path) is None  # the server decides


# --- a run of the study ----------------------------------------------------------


@pytest.fixture(scope="module")
def run(studied_project) -> pd.Series:
    runs = _runs(studied_project)
    assert len(runs) == 1, f"one kedro run, {len(runs)} MLflow runs"
    return runs.iloc[0]


def test_one_kedro_run_is_one_finished_mlflow_run_named_and_tagged(
    run, studied_project
):
    assert run["status"] == "FINISHED"
    assert run["tags.mlflow.runName"] == "__default__ · local"
    version = version_file(studied_project / REPORTING / "ncf_metrics.json").parent
    assert run["tags.kedro_save_version"] == version.name
    assert run["tags.kedro_env"] == "local"
    assert run["tags.variant"] == "ml-100k"
    assert run["tags.settings"] == "default"
    assert run["tags.command_line"]


def test_every_models_metrics_equal_their_json(run, studied_project):
    for model in MODELS:
        saved = load_json(studied_project / REPORTING / f"{model.name}_metrics.json")
        for protocol, values in saved["protocols"].items():
            for key, value in values.items():
                if isinstance(value, float):
                    name = f"metrics.{model.name}.{protocol}.{key.replace('@', '_at_')}"
                    assert run[name] == value, name
    assert "metrics.ncf.standard.precision_at_5" in run


def test_the_parameters_are_logged_flat(run):
    # FAST_PARAMS (the scratch project's conf/local) over conf/base
    assert run["params.ncf.training_options.batch_size"] == "64"
    assert run["params.ncf.model_options.latent_dim_mlp"] == "8"
    assert run["params.ncf.settings"] == "None"
    assert run["params.variant"] == "ml-100k"


def test_the_history_is_logged_per_epoch(run, studied_project):
    history = load_json(
        studied_project
        / "data"
        / "07_model_output"
        / "ml-100k"
        / "ncf_training_history.json"
    )
    client = mlflow.MlflowClient(
        tracking_uri=f"sqlite:///{(studied_project / STORE / 'mlflow.db').as_posix()}"
    )
    logged = client.get_metric_history(run["run_id"], "ncf.val_loss")
    assert [m.step for m in logged] == list(range(1, len(logged) + 1))
    assert [m.value for m in logged] == history["history"]["val_loss"]


def test_the_comparison_and_the_models_are_artifacts(run, studied_project):
    client = mlflow.MlflowClient(
        tracking_uri=f"sqlite:///{(studied_project / STORE / 'mlflow.db').as_posix()}"
    )
    listed = {
        item.path
        for folder in ("reporting", "models")
        for item in client.list_artifacts(run["run_id"], folder)
    }
    for name in ("model_comparison.png", "model_comparison.md", "model_comparison.csv"):
        assert f"reporting/{name}" in listed
    assert "models/ncf_model.keras" in listed
    assert "models/lightfm_model.pkl" in listed


def test_a_run_leaves_the_environments_tracking_uri_as_it_was(studied_project):
    """mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI; the session that
    ran the studied project (in this process) must not leave it set, or the
    next project's run would log into the studied project's store."""
    import os  # noqa: PLC0415

    assert "MLFLOW_TRACKING_URI" not in os.environ
