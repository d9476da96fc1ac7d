"""A `kedro run` killed during NCF training resumes with the README's command,
which is the one Kedro prints when a run fails there, and every version written
before the kill is unchanged (README, "Bad input, failures and reruns")."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from ncf_movielens.study import MODELS

from .support import (
    FAST_PARAMS,
    all_versions,
    copy_project,
    kedro_in_process,
    load_json,
    readme_section,
    run_session,
    start_kedro,
    versioned_digests,
    versioned_outputs,
)

#: NCF long enough to be killed in the middle: early stopping cannot end it
#: before its last epoch.
SLOW_PARAMS: dict[str, Any] = {
    **FAST_PARAMS,
    "ncf": {
        **FAST_PARAMS["ncf"],
        "training_options": {
            **FAST_PARAMS["ncf"]["training_options"],
            "epochs": 4,
            "early_stopping_patience": 4,
        },
    },
}
#: How Kedro words its suggestion: `  --from-nodes "a,b"`.
SUGGESTED = re.compile(r'--from-nodes "([^"]+)"')
COMPLETED = re.compile(r"Completed node: ([\w.]+)")


def readme_resume_command() -> str:
    (command,) = re.findall(
        r"`(kedro run --from-nodes=[^`]+)`",
        readme_section("Bad input, failures and reruns"),
    )
    return command


def slow_study(studied_project: Path, root: Path) -> Path:
    """A copy of the studied project whose plain `kedro run` trains NCF slowly."""
    project = copy_project(studied_project, root)
    (project / "conf" / "local" / "parameters.yml").write_text(
        yaml.safe_dump(SLOW_PARAMS)
    )
    return project


def kill_during_ncf_training(process: subprocess.Popen) -> list[str]:
    """SIGKILL the run's process group once NCF has finished an epoch; returns
    its log lines."""
    lines = []
    watchdog = threading.Timer(240, os.killpg, (process.pid, signal.SIGKILL))
    watchdog.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "NCF epoch 1:" in line:
                os.killpg(process.pid, signal.SIGKILL)
                break
        else:
            pytest.fail("the run ended before NCF training:\n" + "".join(lines[-40:]))
    finally:
        watchdog.cancel()
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    return lines


def fail_during_ncf_training(project: Path, monkeypatch, caplog) -> list[str]:
    """The same run, failing where the other was killed (a SIGKILLed process
    prints nothing): returns the messages Kedro logged."""

    def broken(*args, **kwargs):
        raise RuntimeError("NCF training failed")

    monkeypatch.setattr("ncf_movielens.models.neumf.train_neumf", broken)
    with caplog.at_level(logging.INFO, logger="kedro"):
        with pytest.raises(RuntimeError, match="NCF training failed"):
            run_session(project)
    return [record.getMessage() for record in caplog.records]


def created(before: dict[str, set[str]], after: dict[str, set[str]]) -> set[str]:
    return {path for path, found in after.items() if found - before.get(path, set())}


@pytest.mark.slow
def test_a_run_killed_in_ncf_training_resumes(
    studied_project, tmp_path, monkeypatch, caplog
):
    project = slow_study(studied_project, tmp_path / "killed")
    data = project / "data"
    before, first_versions = versioned_digests(data), all_versions(data)

    log = kill_during_ncf_training(start_kedro(project, "run", start_new_session=True))
    at_kill, kill_versions = versioned_digests(data), all_versions(data)
    finished = COMPLETED.findall("".join(log))

    failing = slow_study(studied_project, tmp_path / "failing")
    messages = fail_during_ncf_training(failing, monkeypatch, caplog)
    monkeypatch.undo()
    # The failed run is the killed one: the same nodes had finished.
    assert COMPLETED.findall("\n".join(messages)) == finished
    (printed,) = SUGGESTED.findall("\n".join(messages))

    command = readme_resume_command()
    kedro_in_process(project, command)
    after, resumed_versions = versioned_digests(data), all_versions(data)

    # Versions of the first run and of the killed run's finished nodes all stay.
    for earlier in (before, at_kill):
        changed = [p for p, digest in earlier.items() if after.get(p) != digest]
        assert not changed, f"versions changed: {changed}"
    # The killed run left no version folder without its file.
    for path, found in resumed_versions.items():
        for version in found:
            assert (data / path / version / Path(path).name).is_file(), (path, version)
    # It is the command Kedro prints for whoever sees the run fail there ...
    assert command == f"kedro run --from-nodes={printed}", (
        f"README: {command!r}; Kedro prints --from-nodes {printed!r}"
    )
    # ... and the killed and resumed runs together wrote every output once, as
    # one run would.
    outputs = {str(p.relative_to("data")) for p in versioned_outputs(project).values()}
    by_kill = created(first_versions, kill_versions)
    by_resume = created(kill_versions, resumed_versions)
    assert not by_kill & by_resume, "the resumed run redid finished nodes"
    assert by_kill | by_resume == outputs, (
        f"never written after the kill: {sorted(outputs - by_kill - by_resume)}"
    )
    comparison = load_json(data / "08_reporting/ml-100k/model_comparison.json")
    assert list(comparison["models"]) == [model.label for model in MODELS]
