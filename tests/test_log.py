"""What `kedro run` prints: the default log (conf/logging.yml) fits in 50 lines
for the whole study, with what each step found and no per-dataset lines, and
shows each third-party notice at most once; the verbose log
(conf/logging_verbose.yml) shows what the default hides."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ncf_movielens.study import MODELS

from .support import FAST_PARAMS, PROJECT, make_project

#: Lines that third-party libraries print on their own, and how often each may
#: show in one run: once, except the two that TensorFlow 2.21's import prints
#: once per native library it loads that logs before absl is set up (the core
#: and, on CPUs where oneDNN is on, its profiler plugin: twice on AVX-512
#: machines, seen 2026-12-02), whatever TF_CPP_MIN_LOG_LEVEL says.
NOTICES = {
    "absl's preamble": ("All log messages before absl::InitializeLog()", 2),
    "TensorFlow's CPU instructions": ("This TensorFlow binary is optimized", 1),
    "TensorFlow's oneDNN": ("oneDNN custom operations are on", 2),
    "OmegaConf's deprecation": ("register_new_resolver() is deprecated", 1),
    "kedro-viz's sliced run": ("Workflow tracking is disabled", 1),
    # kedro-mlflow's CLI plugin imports mlflow.pyfunc, which warns, before the
    # project's package (and its warning filters) is imported.
    "MLflow's pyfunc type hints": ("Add type hints to the `predict` method", 1),
}
#: Loggers of lines that only the verbose log shows, and those lines' level.
HIDDEN_BY_DEFAULT = {
    "kedro.io.data_catalog": logging.INFO,  # Loading data / Saving data
    "kedro.pipeline.node": logging.INFO,  # Running node
    "kedro.runner.sequential_runner": logging.INFO,  # Completed node, total time
    "kedro_viz.integrations.kedro.run_hooks": logging.WARNING,  # sliced runs
    "ncf_movielens.models.neumf": logging.DEBUG,  # NCF's loss per epoch
    "ncf_movielens.movielens.fetch": logging.DEBUG,  # raw files from the cache
}
#: Environment variables of the tests that change what a run prints.
TEST_LOG_SETTINGS = ("TF_CPP_MIN_LOG_LEVEL", "KEDRO_LOGGING_CONFIG", "PYTHONWARNINGS")


def kedro_run_as_typed(project: Path) -> list[str]:
    """The output lines of a plain `kedro run` in ``project``, started as a user
    would: none of the tests' log settings, stdout not a terminal."""
    env = {k: v for k, v in os.environ.items() if k not in TEST_LOG_SETTINGS}
    done = subprocess.run(
        [sys.executable, "-m", "kedro", "run"],
        check=False,
        cwd=project,
        env={**env, "KEDRO_DISABLE_TELEMETRY": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    return done.stdout.splitlines()


@pytest.mark.slow
def test_the_default_log_of_the_study_is_short(tmp_path, raw_files):
    project = make_project(tmp_path / "project", raw_files, params=FAST_PARAMS)
    lines = kedro_run_as_typed(project)
    log = "\n".join(lines)

    assert len(lines) <= 50, log
    assert not [line for line in lines if "Loading data" in line], log
    assert not [line for line in lines if "Saving data" in line], log
    for notice, (text, most) in NOTICES.items():
        assert log.count(text) <= most, f"{notice}:\n{log}"
    assert "━" not in log  # no progress bar when stdout is not a terminal
    # What each step found is still there.
    assert "Split " in log and "NCF trained " in log and "Model comparison" in log
    for model in MODELS:
        assert f"{model.label}: notebook P@5 " in log


def console_level(config_file: str, logger: str) -> int:
    """The lowest level of ``logger``'s lines that ``config_file`` prints."""
    config = yaml.safe_load((PROJECT / "conf" / config_file).read_text())
    loggers, name = config["loggers"], logger
    while name and name not in loggers:
        name = name.rpartition(".")[0]
    level = loggers[name]["level"] if name else "WARNING"  # the root's default
    handler = config["handlers"]["console"]["level"]
    return max(logging.getLevelName(level), logging.getLevelName(handler))


@pytest.mark.parametrize("logger", list(HIDDEN_BY_DEFAULT))
def test_the_verbose_log_shows_what_the_default_hides(logger):
    level = HIDDEN_BY_DEFAULT[logger]
    assert console_level("logging.yml", logger) > level
    assert console_level("logging_verbose.yml", logger) <= level
