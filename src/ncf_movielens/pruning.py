"""``kedro prune --keep N``: the newest N versions of every versioned output,
and the newest N MLflow runs, kept; the older ones removed.

A version folder is a Kedro save version (``2026-12-03T07.50.00.123Z``) or one
with a suffix (NCF's TensorBoard ``<version>-seed43``). Each folder that holds
them (a dataset's ``<name>.<ext>/``, ``ncf_tensorboard/``) keeps its own newest
N, so a dataset that only an older run wrote (the data a sliced run loads)
stays loadable. The run records of ``data/runs/`` go with the last folder of
their version. MLflow runs (top level; the trials' child runs go with their
parent) are deleted, then removed for good with ``mlflow gc``, artifacts too.
The run lock is held throughout, so a prune never races a run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ncf_movielens.runs import LOCK_FILE, RECORDS_DIR, ProjectLock, describe_process
from ncf_movielens.tracking import STORE, tracking_uri

#: A save version, and the suffix some folders add to it.
VERSION = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d\.\d{3}Z)(-[\w.-]+)?$")


@dataclass
class Pruned:
    folders: list[Path] = field(default_factory=list)
    records: list[Path] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)


def old_version_folders(data: Path, keep: int) -> list[Path]:
    """Every version folder under ``data`` but the newest ``keep`` of the
    folder that holds it (a version and its suffixed siblings count once)."""
    held: dict[Path, dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(data.rglob("*")):
        match = VERSION.match(path.name)
        if match and path.is_dir() and STORE.name not in path.parts:
            held[path.parent][match.group(1)].append(path)
    old = []
    for versions in held.values():
        for version in sorted(versions)[: max(len(versions) - keep, 0)]:
            old.extend(versions[version])
    return old


def _client(project: Path):
    import mlflow  # noqa: PLC0415 - only when pruning runs

    return mlflow.MlflowClient(tracking_uri=tracking_uri(project))


def old_runs(project: Path, keep: int) -> list[str]:
    """The ids of the project's top-level MLflow runs but the newest ``keep``,
    and of their child runs."""
    client = _client(project)
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return []
    runs = client.search_runs(experiments, order_by=["attributes.start_time DESC"])
    parents = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    gone = {run.info.run_id for run in parents[keep:]}
    children = {
        run.info.run_id
        for run in runs
        if run.data.tags.get("mlflow.parentRunId") in gone
    }
    return sorted(gone | children)


def prune(project: Path, keep: int, dry_run: bool = False) -> Pruned:
    """Remove what ``kedro prune --keep <keep>`` removes (above); with
    ``dry_run``, only say what it would remove."""
    if keep < 1:
        raise ValueError(f"--keep must be at least 1, not {keep}")
    project = Path(project)
    lock = ProjectLock(project / LOCK_FILE)
    lock.acquire(describe_process(sys.argv))
    try:
        pruned = Pruned(folders=old_version_folders(project / "data", keep))
        if (
            os.environ.get("MLFLOW_TRACKING_URI")
            or (project / STORE / "mlflow.db").is_file()
        ):
            pruned.runs = old_runs(project, keep)
        if dry_run:
            return pruned
        for folder in pruned.folders:
            shutil.rmtree(folder)
        left = {
            VERSION.match(path.name).group(1)
            for path in (project / "data").rglob("*")
            if VERSION.match(path.name) and path.is_dir()
        }
        for record in sorted((project / RECORDS_DIR).glob("*.json")):
            if record.stem not in left:
                record.unlink()
                pruned.records.append(record)
        if pruned.runs:
            client = _client(project)
            for run_id in pruned.runs:
                client.delete_run(run_id)
            _collect_garbage(project, pruned.runs)
        return pruned
    finally:
        lock.release()


def _collect_garbage(project: Path, run_ids: list[str]) -> None:
    """``mlflow gc``: the deleted runs removed from the store, artifacts too."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlflow",
            "gc",
            "--backend-store-uri",
            tracking_uri(project),
            "--tracking-uri",
            tracking_uri(project),
            "--run-ids",
            ",".join(run_ids),
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(
            "`mlflow gc` failed; the runs are marked deleted, and `mlflow gc "
            f"--backend-store-uri {tracking_uri(project)}` removes them: "
            f"{done.stderr.strip().splitlines()[-1:]}"
        )
