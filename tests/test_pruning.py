"""`kedro prune --keep N` (ncf_movielens.pruning): the newest N versions of
every output and the newest N MLflow runs stay, the older ones go, with their
run records, TensorBoard folders, child runs and artifacts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from ncf_movielens.pruning import old_version_folders, prune
from ncf_movielens.runs import LOCK_FILE, RECORDS_DIR, ProjectLock, RunInProgress

from .support import versions

OLD = "2000-01-01T00.00.00.000Z"
LIGHTFM = Path("data") / "06_models" / "ml-100k" / "lightfm_model.pkl"


def _store(project: Path) -> mlflow.MlflowClient:
    uri = f"sqlite:///{(project / 'data' / '10_tracking' / 'mlflow.db').as_posix()}"
    return mlflow.MlflowClient(tracking_uri=uri)


def _older_run(project: Path) -> tuple[str, str, Path]:
    """A run older than the studied one, with a trial's child run and an
    artifact: (run id, child id, the artifact's folder)."""
    client = _store(project)
    experiment = client.get_experiment_by_name("ncf_movielens").experiment_id
    parent = client.create_run(experiment, start_time=1, run_name="old").info
    child = client.create_run(
        experiment, start_time=2, tags={"mlflow.parentRunId": parent.run_id}
    ).info
    note = project / "old.txt"
    note.write_text("old")
    client.log_artifact(parent.run_id, str(note), "reporting")
    for run in (parent, child):
        client.set_terminated(run.run_id)
    folder = Path(parent.artifact_uri.removeprefix("file://"))
    assert (folder / "reporting" / "old.txt").is_file()
    return parent.run_id, child.run_id, folder


@pytest.fixture
def aged(study) -> Path:
    """The studied project with an older version of an output, an older
    TensorBoard run (and its extra seed's), its run record and MLflow run."""
    (study / LIGHTFM / OLD).mkdir()
    (study / LIGHTFM / OLD / "lightfm_model.pkl").write_bytes(b"old")
    tensorboard = study / "data" / "07_model_output" / "ml-100k" / "ncf_tensorboard"
    for name in (OLD, f"{OLD}-seed43"):
        (tensorboard / name).mkdir(parents=True)
    (study / RECORDS_DIR / f"{OLD}.json").write_text("{}")
    return study


def test_prune_keeps_the_newest_versions_and_runs(aged):
    new = versions(aged / LIGHTFM)[-1]
    old_run, old_child, old_artifacts = _older_run(aged)
    (kept_run,) = [
        run.info.run_id
        for run in _store(aged).search_runs(
            [_store(aged).get_experiment_by_name("ncf_movielens").experiment_id]
        )
        if run.info.run_id not in {old_run, old_child}
    ]

    listed = subprocess.run(
        [sys.executable, "-m", "kedro", "prune", "--keep", "1", "--dry-run"],
        cwd=aged,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"would remove {LIGHTFM / OLD}" in listed
    assert f"would remove MLflow run {old_run}" in listed
    assert (aged / LIGHTFM / OLD).is_dir()  # a dry run removes nothing

    done = subprocess.run(
        [sys.executable, "-m", "kedro", "prune", "--keep", "1"],
        cwd=aged,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "removed 3 version folders, 1 run records and 2 MLflow runs" in done
    assert versions(aged / LIGHTFM) == [new]
    assert not list(aged.rglob(f"{OLD}*"))
    runs = _store(aged).search_runs(
        [_store(aged).get_experiment_by_name("ncf_movielens").experiment_id],
        run_view_type=mlflow.entities.ViewType.ALL,  # deleted runs too: gc'd
    )
    assert [run.info.run_id for run in runs] == [kept_run]
    assert not old_artifacts.exists()
    assert (aged / RECORDS_DIR / f"{new}.json").is_file()


def test_each_folder_keeps_its_own_newest(tmp_path):
    """A dataset only an older run wrote keeps its version."""
    for dataset, names in {
        "a.json": ["2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z"],
        "b.json": ["2025-01-01T00.00.00.000Z"],
    }.items():
        for name in names:
            (tmp_path / "data" / dataset / name).mkdir(parents=True)
    assert old_version_folders(tmp_path / "data", 1) == [
        tmp_path / "data" / "a.json" / "2026-01-01T00.00.00.000Z"
    ]


def test_prune_refuses_while_a_run_holds_the_project(tmp_path):
    lock = ProjectLock(tmp_path / LOCK_FILE)
    lock.acquire("pid 1, kedro run")
    try:
        with pytest.raises(RunInProgress, match="pid 1, kedro run"):
            prune(tmp_path, 1)
    finally:
        lock.release()
    with pytest.raises(ValueError, match="at least 1"):
        prune(tmp_path, 0)
