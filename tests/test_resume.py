"""A `kedro run` killed during NCF training resumes with the `--from-nodes`
command Kedro suggests, and every version written before the kill is unchanged."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.runner.runner import _find_nodes_to_resume_from

from .test_pipeline_run import FAST_PARAMS, _digests, make_project

KEDRO = str(Path(sys.executable).with_name("kedro"))
#: NCF long enough to be killed in the middle: early stopping cannot end it.
SLOW_PARAMS: dict[str, Any] = {
    **FAST_PARAMS,
    "ncf": {
        **FAST_PARAMS["ncf"],
        "training_options": {
            **FAST_PARAMS["ncf"]["training_options"],
            "epochs": 8,
            "batch_size": 16,
            "early_stopping_patience": 8,
        },
    },
}
#: Kedro's version folders, e.g. 2026-11-29T08.31.27.123Z.
VERSION = re.compile(r"/\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d\.\d{3}Z/")


def dotlist(params: dict[str, Any], prefix: str = "") -> str:
    """Nested parameters as a `kedro run --params` value."""
    items = []
    for key, value in params.items():
        if isinstance(value, dict):
            items.append(dotlist(value, f"{prefix}{key}."))
        else:
            text = f"[{','.join(value)}]" if isinstance(value, list) else str(value)
            assert "," not in text, "kedro run --params splits on commas"
            items.append(f"{prefix}{key}={text}")
    return ",".join(items)


def kedro_run(project: Path, *args: str, **popen: Any) -> subprocess.Popen:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [KEDRO, "run", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-3000:]
    return output


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


def suggested_from_nodes(project: Path, log: list[str]) -> str:
    """What Kedro suggests when a run fails: the nodes to resume from, given the
    nodes that finished (every node the log shows starting, but the last)."""
    bootstrap_project(project)
    with KedroSession.create(
        project_path=project, runtime_params=SLOW_PARAMS
    ) as session:
        catalog = session.load_context().catalog
    pipeline = pipelines["__default__"]
    for name in pipeline.datasets():  # the runner's warm-up, as in the killed run
        catalog.get(name, fallback_to_runtime_pattern=True)
    by_text = {f"Running node: {node}": node for node in pipeline.nodes}
    started = [
        by_text[line[line.index("Running node: ") :].rstrip()]
        for line in log
        if "Running node: " in line
    ]
    assert started[-1].name == "ncf.train_model", [node.name for node in started]
    unfinished = set(pipeline.nodes) - set(started[:-1])
    return ",".join(sorted(_find_nodes_to_resume_from(pipeline, unfinished, catalog)))


def versioned(digests: dict[str, str]) -> dict[str, str]:
    return {
        path: digest for path, digest in digests.items() if VERSION.search(f"/{path}")
    }


@pytest.mark.slow
def test_a_run_killed_in_ncf_training_resumes(tmp_path, raw_files, monkeypatch):
    project = make_project(tmp_path, raw_files)
    monkeypatch.chdir(project)
    data = project / "data"
    finish(kedro_run(project, f"--params={dotlist(FAST_PARAMS)}"))
    before = _digests(data)
    assert versioned(before)

    slow = f"--params={dotlist(SLOW_PARAMS)}"
    log = kill_during_ncf_training(kedro_run(project, slow, start_new_session=True))
    at_kill = _digests(data)
    from_nodes = suggested_from_nodes(project, log)
    assert "ncf.train_model" in from_nodes.split(",")
    finish(kedro_run(project, f"--from-nodes={from_nodes}", slow))
    after = _digests(data)

    # Versions of the first run and of the killed run's finished nodes all stay.
    for earlier in (before, at_kill):
        changed = [
            p for p, digest in versioned(earlier).items() if after.get(p) != digest
        ]
        assert not changed, f"versions changed: {changed}"
    # The killed run left no version folder without its file; it saved no NCF
    # model, the resumed one did and finished the study with every model.
    for folder in {data / path.rsplit("/", 2)[0] for path in versioned(after)}:
        assert all(any(version.iterdir()) for version in folder.iterdir()), folder
    assert len(list((data / "06_models/ncf_model.keras").iterdir())) == 2
    latest = max((data / "08_reporting/model_comparison.json").iterdir())
    comparison = json.loads((latest / "model_comparison.json").read_text())
    assert len(comparison["models"]) == 4


@pytest.mark.slow
def test_two_runs_with_one_seed_give_identical_reports(tmp_path, raw_files):
    """Same seed, same machine: every file in 08_reporting (metrics JSON, the
    comparison table, Markdown and plot) is byte-identical across two runs."""
    project = make_project(tmp_path, raw_files)
    reports = []
    for _ in range(2):
        finish(kedro_run(project, f"--params={dotlist(FAST_PARAMS)}"))
        reports.append(_digests(project / "data" / "08_reporting"))

    def by_dataset(digests: dict[str, str]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for path, digest in digests.items():
            found.setdefault(path.split("/")[0], set()).add(digest)
        return found

    first, both = by_dataset(reports[0]), by_dataset(reports[1])
    assert any(name.endswith("_metrics.json") for name in both)
    for name, digests in both.items():
        assert len(first[name]) == 1
        assert digests == first[name], f"{name} differs between the two runs"
