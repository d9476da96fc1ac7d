"""Runs that cannot mix: one ``kedro run`` at a time per project folder, and a
record of what made each saved version, so that a run refuses inputs made with
other parameters and no half-written version is ever loaded.

- ``ProjectLock``: an OS file lock on ``data/.kedro_run.lock``. The kernel
  drops it when the holding process ends, so a killed run never blocks the
  next one.
- ``RunRecord``: ``data/runs/<save version>.json``, one per run. A dataset
  enters it only once its save has finished, with the versions of the inputs
  it was made from and the parameters that reached it through them.
- ``check_made_with``: the parameters a stored version was made with against
  this run's; a mismatch is refused, naming the dataset, its version and the
  parameter.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from ncf_movielens.files import write_atomically

#: The lock file and the run records, relative to the project folder.
LOCK_FILE = Path("data/.kedro_run.lock")
RECORDS_DIR = Path("data/runs")


class RunInProgress(RuntimeError):
    """Another ``kedro run`` holds this project's lock."""


class LineageError(RuntimeError):
    """An input version that this run must not use: made with other
    parameters, half-written, or not the version this run saved."""


class ProjectLock:
    """An exclusive, non-blocking ``flock`` on one file; the file holds the
    holder's description (pid, start time, command) for the refusal message."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self, description: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "a process that has not said which"
            handle.close()
            raise RunInProgress(
                f"Another kedro run is using this project ({self.path} is "
                f"locked): {holder}. Two runs would load each other's "
                "outputs; wait for it to end, or stop it (a killed run frees "
                "the lock by itself)."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(description + "\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.truncate(0)
            self._handle.close()  # closing the file releases the flock
            self._handle = None

    @property
    def held(self) -> bool:
        return self._handle is not None


def describe_process(command: Iterable[str]) -> str:
    """``pid 123, started 2026-12-02T03:00:00Z: kedro run ...``"""
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return f"pid {os.getpid()}, started {started}: {' '.join(command)}"


# --- Run records ---------------------------------------------------------------


def record_path(project: Path, version: str) -> Path:
    return project / RECORDS_DIR / f"{version}.json"


def read_record(project: Path, version: str) -> dict[str, Any] | None:
    """The record of the run that saved ``version``, or None when there is no
    readable one."""
    path = record_path(project, version)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class RunRecord:
    """This run's record, rewritten whole (to a temporary file, then renamed)
    after each finished save, so a crash never leaves it half-written."""

    def __init__(self, project: Path, version: str, about: Mapping[str, Any]):
        self.path = record_path(project, version)
        self.content: dict[str, Any] = {
            "save_version": version,
            **about,
            "datasets": {},
        }

    def add(self, dataset: str, entry: Mapping[str, Any]) -> None:
        self.content["datasets"][dataset] = dict(entry)
        write_atomically(
            self.path, json.dumps(self.content, indent=1, default=str).encode()
        )


# --- Parameters ------------------------------------------------------------------


def parameter_value(params: Mapping[str, Any], key: str) -> Any:
    """The value of a dotted key (``ncf.training_options``), JSON-normalised
    so a value read back from a record compares equal."""
    value: Any = params
    for part in key.split("."):
        value = value[part]
    return json.loads(json.dumps(value, default=str))


def first_difference(then: Any, now: Any, key: str) -> tuple[str, Any, Any] | None:
    """The first dotted key below ``key`` where ``then`` and ``now`` differ."""
    if isinstance(then, dict) and isinstance(now, dict):
        for part in sorted(set(then) | set(now)):
            found = first_difference(
                then.get(part, "(unset)"), now.get(part, "(unset)"), f"{key}.{part}"
            )
            if found:
                return found
        return None
    return None if then == now else (key, then, now)


def check_made_with(
    project: Path, dataset: str, version: str, params: Mapping[str, Any]
) -> Mapping[str, Any]:
    """The dataset's entry in the record of the run that saved ``version``, or
    ``LineageError`` when there is none (its save never finished) or when it
    was made with a parameter value other than this run's; the refusal names
    the nodes to rerun, those that first took that parameter."""
    entry = (read_record(project, version) or {}).get("datasets", {}).get(dataset)
    if entry is None:
        raise LineageError(
            f"{dataset!r} version {version} has no finished save in "
            f"{RECORDS_DIR}/{version}.json: its run stopped while saving it, or "
            "it was made before runs were recorded. Remake it (rerun the node "
            "that makes it), or load another version with --load-versions."
        )
    for key, then in sorted(entry["parameters"].items()):
        try:
            now = parameter_value(params, key)
        except KeyError:
            now = "(unset)"
        found = first_difference(then, now, key)
        if found:
            name, old, new = found
            nodes = ",".join(sorted(nodes_taking(project, key, dataset, version)))
            raise LineageError(
                f"{dataset!r} version {version} was made with {name} = "
                f"{json.dumps(old)}, but this run has {name} = {json.dumps(new)}; "
                "using it would mix two configurations. Remake it with this "
                f"run's parameters (kedro run --from-nodes={nodes} with the same "
                "--params and --env), or run with the parameters it was made with."
            )
    return entry


def nodes_taking(project: Path, key: str, dataset: str, version: str) -> set[str]:
    """The nodes, among those that made this version and its inputs, that take
    the parameter group ``key`` themselves."""
    entry = (read_record(project, version) or {}).get("datasets", {}).get(dataset)
    if entry is None:
        return set()
    found = {entry["node"]} if key in entry["node_parameters"] else set()
    for name, input_version in entry["inputs"].items():
        found |= nodes_taking(project, key, name, input_version)
    return found


def remove_version(version_dir: Path) -> bool:
    """Remove a half-written version folder; True when there was one."""
    existed = version_dir.exists()
    shutil.rmtree(version_dir, ignore_errors=True)
    return existed
