"""``kedro run --pipelines=tuning`` end to end on synthetic data: every
tunable model's study in the project's SQLite storage, tuned rows beside the
default ones, and a rerun that continues the studies and changes no saved
version (README, "Tuning")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow
import optuna

from ncf_movielens.study import MODELS, TUNABLE, TUNED_MODELS

from .support import load_json, run_session, version_file, versioned_digests

#: A budget of 2 trials per study, a quick NCF and short LightFM trials.
TINY: dict[str, Any] = {
    "tuning": {
        "study": {"n_trials": 2, "timeout": None},
        "ncf": {
            "fixed": {
                "training_options": {"epochs": 2, "jit_compile": False},
            },
            "space": {
                "training_options": {
                    "batch_size": {"type": "categorical", "choices": [64]}
                }
            },
        },
        "lightfm": {
            "space": {
                "training_options": {
                    "epochs": {"type": "int", "low": 2, "high": 4, "log": False}
                }
            },
            "report_every": 2,
        },
        # A regularisation fit for 60 users, not for MovieLens: above ~10 the
        # few fit interactions' factors collapse (and such trials are pruned).
        "ials": {
            "space": {
                "model_options": {
                    "regularization": {
                        "type": "float",
                        "low": 0.01,
                        "high": 1.0,
                        "log": True,
                    }
                }
            }
        },
    }
}


def _finished(storage: str) -> dict[str, list[int]]:
    """Finished trial numbers of every study in ``storage``, by study name."""
    found = {}
    for summary in optuna.get_all_study_summaries(storage):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        found[summary.study_name] = [
            trial.number
            for trial in study.get_trials(deepcopy=False)
            if trial.state.is_finished()
        ]
    return found


def test_tuning_run_tunes_each_model_and_resumes(study):
    storage = f"sqlite:///{study / 'data' / '09_tuning' / 'optuna.db'}"
    run_session(study, pipeline_name="tuning", params=TINY)

    reporting = study / "data" / "08_reporting" / "ml-100k"
    comparison = load_json(reporting / "model_comparison.json")
    assert list(comparison["models"]) == [m.label for m in MODELS + TUNED_MODELS]
    summary = load_json(reporting / "tuning_summary.json")
    assert summary == comparison["tuning"]
    assert len(summary) == len(TUNABLE)
    for name, entry in summary.items():
        assert entry["trials"] == {"complete": 2} or sum(entry["trials"].values()) == 2
        assert entry["objective"] == "ndcg@10"
    markdown = version_file(reporting / "model_comparison.md").read_text()
    assert "## Tuning" in markdown
    for model in TUNABLE:
        best = load_json(
            study
            / "data"
            / "06_models"
            / "ml-100k"
            / "tuning"
            / f"{model.name}_best_parameters.json"
        )
        tuned = load_json(reporting / f"{model.name}_tuned_metrics.json")
        assert tuned["model"] == model.tuned_label
        assert best["parameters"]["model_options"]  # what the retrain read
    ncf_best = load_json(
        study / "data" / "06_models" / "ml-100k" / "tuning" / "ncf_best_parameters.json"
    )
    assert ncf_best["parameters"]["training_options"]["epochs"] <= 2
    assert ncf_best["parameters"]["training_options"]["validation_split"] == 0.0

    # The MLflow run of the tuning: one child run per trial, the best tagged.
    client = mlflow.MlflowClient(
        tracking_uri=f"sqlite:///{study / 'data' / '10_tracking' / 'mlflow.db'}"
    )
    experiment = client.get_experiment_by_name("ncf_movielens").experiment_id
    (parent,) = client.search_runs(
        [experiment], "attributes.run_name = 'tuning · local'"
    )
    children = client.search_runs(
        [experiment], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    for model in TUNABLE:
        trials = [c for c in children if c.data.tags["model"] == model.name]
        assert sorted(int(c.data.tags["trial"]) for c in trials) == [0, 1], model
        best = [c for c in trials if c.data.tags.get("best_trial") == "true"]
        complete = [c for c in trials if c.data.tags["state"] == "COMPLETE"]
        assert len(best) == (1 if complete else 0), model
        for child in complete:
            assert "validation.ndcg_at_10" in child.data.metrics, model
            assert child.data.params, model

    first = _finished(storage)
    assert len(first) == len(TUNABLE)
    assert all(numbers == [0, 1] for numbers in first.values()), first
    saved = versioned_digests(study / "data")

    # The same command with a larger budget continues every study where it was.
    more = {"tuning": {**TINY["tuning"], "study": {"n_trials": 3, "timeout": None}}}
    run_session(study, pipeline_name="tuning", params=more)
    second = _finished(storage)
    assert second.keys() == first.keys()
    assert all(numbers == [0, 1, 2] for numbers in second.values()), second
    after = versioned_digests(study / "data")
    assert all(after[path] == digest for path, digest in saved.items())

    # The README's command lists them, run as written in the project folder.
    listed = subprocess.run(
        ["bash", "-c", "optuna studies --storage sqlite:///data/09_tuning/optuna.db"],
        cwd=study,
        env={
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        },
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in second:
        assert name in listed
