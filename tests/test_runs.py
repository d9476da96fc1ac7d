"""Runs that cannot mix (``ncf_movielens.runs`` and the ``RunIntegrity`` hook):
one run at a time, inputs made with other parameters refused before any node
runs, no half-written version left to load, and TensorBoard logs under the
project whatever the working directory."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from kedro.framework.hooks import hook_impl
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from ncf_movielens.datasets import PickleModelDataset
from ncf_movielens.runs import (
    LOCK_FILE,
    RECORDS_DIR,
    LineageError,
    ProjectLock,
    RunInProgress,
)

from .support import (
    all_versions,
    kedro_cli,
    run_session,
    start_kedro,
    version_file,
    versions,
    working_directory,
)

MODELS = Path("data/06_models/ml-100k")


def wait_for(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def holds_lock(project: Path) -> bool:
    lock = project / LOCK_FILE
    return lock.is_file() and lock.read_text().startswith("pid ")


# --- One run at a time ----------------------------------------------------------


def test_the_lock_refuses_a_second_holder_and_names_the_first(tmp_path):
    first, second = ProjectLock(tmp_path / "lock"), ProjectLock(tmp_path / "lock")
    first.acquire("pid 1, started then: kedro run")
    with pytest.raises(RunInProgress, match=r"locked\): pid 1, started then"):
        second.acquire("pid 2")
    first.release()
    second.acquire("pid 2")  # free again once released
    second.release()


def test_a_killed_holder_frees_the_lock(tmp_path):
    path = tmp_path / "lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import time
                from pathlib import Path
                from ncf_movielens.runs import ProjectLock
                lock = ProjectLock(Path({str(path)!r}))
                lock.acquire("pid held by the child")
                time.sleep(600)
            """),
        ]
    )
    try:
        wait_for(lambda: path.is_file() and path.read_text().startswith("pid"))
        with pytest.raises(RunInProgress, match="held by the child"):
            ProjectLock(path).acquire("pid test")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    lock = ProjectLock(path)
    lock.acquire("pid test")  # the kernel dropped the dead holder's lock
    lock.release()


def test_a_second_kedro_run_refuses_and_a_killed_one_blocks_nothing(study):
    first = start_kedro(study, "run", stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: holds_lock(study))
        second = start_kedro(study, "run", "--nodes=parse_ratings")
        output, _ = second.communicate(timeout=120)
        assert second.returncode != 0
        assert "Another kedro run is using this project" in output
        assert f"pid {first.pid}," in output
        assert "Running node" not in output
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    output = kedro_cli(study, "run", "--nodes=parse_ratings")
    assert "Completed 1 out of 1 tasks" in output


# --- Inputs made with other parameters ------------------------------------------


def test_resuming_with_other_parameters_refuses_before_any_node(study):
    before = all_versions(study / "data")
    with pytest.raises(LineageError) as refused:
        run_session(
            study,
            params={"binarize_options": {"min_rating": 4}},
            from_nodes=["ncf.train_model"],
        )
    message = str(refused.value)
    assert "was made with binarize_options.min_rating = 3" in message
    assert "but this run has binarize_options.min_rating = 4" in message
    assert "--from-nodes=binarize_ratings" in message  # where the value enters
    assert all_versions(study / "data") == before


def test_resuming_with_the_same_parameters_runs(study):
    run_session(study, from_nodes=["compare_models"])


class WriterOfANewerVersion:
    """Another process, as far as this run can tell: a newer version of
    ``train_matrix`` appears on disk, before or after this run saves its own."""

    def __init__(self, project: Path, when: str) -> None:
        self.folder = project / "data/03_primary/ml-100k/train_matrix.npz"
        self.when = when

    def write(self, dataset_name: str, when: str) -> None:
        if dataset_name == "train_matrix" and when == self.when:
            newest = self.folder / versions(self.folder)[-1]
            shutil.copytree(newest, self.folder / "2999-01-01T00.00.00.000Z")

    @hook_impl
    def before_dataset_saved(self, dataset_name: str) -> None:
        self.write(dataset_name, "before")

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        self.write(dataset_name, "after")


def run_beside_a_writer(project: Path, when: str) -> str:
    """Remake the NCF table beside that writer; this run's save version."""
    bootstrap_project(project)
    with (
        working_directory(project),
        KedroSession.create(project_path=project) as session,
    ):
        session._hook_manager.register(WriterOfANewerVersion(project, when))
        session.run(from_nodes=["binarize_ratings"], to_nodes=["reshape_to_long"])
        return session.session_id


def test_a_run_reads_its_own_version_not_a_newer_one(study):
    version = run_beside_a_writer(study, when="after")
    record = json.loads((study / RECORDS_DIR / f"{version}.json").read_text())
    table = record["datasets"]["model_input_table"]
    assert table["inputs"]["train_matrix"] == version


def test_a_run_refuses_a_newer_version_it_did_not_save(study):
    with pytest.raises(LineageError, match="another process wrote it"):
        run_beside_a_writer(study, when="before")


# --- Saves that fail ----------------------------------------------------------------


def test_a_failed_save_leaves_no_version_to_load(study, monkeypatch, caplog):
    ease = study / MODELS / "ease_model.pkl"
    before = versions(ease)

    def disk_full(self, data):
        path = Path(self._get_save_path())
        path.parent.mkdir(parents=True)
        path.write_bytes(b"\x80\x05half a pickle")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(PickleModelDataset, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        run_session(study, node_names=["ease.train_model"])
    assert versions(ease) == before
    assert "Removed ease.model's unfinished version" in caplog.text
    monkeypatch.undo()
    run_session(study, node_names=["ease.evaluate_model"])  # the older one loads


@pytest.fixture
def full_disk(study):
    """``data/06_models`` on a tmpfs with 2 KiB left (as root, where mounting
    is allowed; the test above fails a save without one)."""
    models = study / MODELS
    kept = models.with_name("ml-100k.kept")
    shutil.move(models, kept)
    models.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(models)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        shutil.rmtree(models)
        shutil.move(kept, models)
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        shutil.copytree(kept, models, dirs_exist_ok=True)
        free = shutil.disk_usage(models).free
        (models / "filler").write_bytes(b"\0" * (free - 2048))
        yield models
    finally:
        subprocess.run(["umount", str(models)], check=True)


def test_a_full_disk_leaves_no_version_to_load(study, full_disk):
    ease = full_disk / "ease_model.pkl"
    before = versions(ease)
    with pytest.raises(Exception, match="No space left on device"):
        run_session(study, node_names=["ease.train_model"])
    assert versions(ease) == before


def test_a_save_that_never_finished_is_refused(study):
    ease = study / MODELS / "ease_model.pkl"
    whole = version_file(ease).read_bytes()
    unfinished = ease / "2999-01-01T00.00.00.000Z" / "ease_model.pkl"
    unfinished.parent.mkdir()
    unfinished.write_bytes(whole[: len(whole) // 2])  # as a kill -9 leaves it
    with pytest.raises(LineageError, match="no finished save"):
        run_session(study, node_names=["ease.evaluate_model"])


# --- TensorBoard logs ---------------------------------------------------------------


def test_tensorboard_logs_go_under_the_project_from_a_subfolder(study):
    subfolder = study / "notebooks"
    subfolder.mkdir(exist_ok=True)
    logs = study / "data/07_model_output/ml-100k/ncf_tensorboard"
    before = set(os.listdir(logs)) if logs.is_dir() else set()
    bootstrap_project(study)
    with (
        working_directory(subfolder),
        KedroSession.create(project_path=study) as session,
    ):
        session.run(node_names=["ncf.train_model"])
    assert set(os.listdir(logs)) - before
    assert not (subfolder / "data").exists()
