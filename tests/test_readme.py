"""Every command in the README's ``bash`` blocks, accounted for: the quick ones
run here exactly as written (bash, in a copy of the studied project, after its
``kedro run``), and every other one names the test that runs it or why none
can. A command added to the README without a place here fails the first test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .support import PROJECT, VERSION, all_versions

#: Run here, with a word the README leads a reader to expect in the output.
RUN_HERE = {
    "KEDRO_LOGGING_CONFIG=conf/logging_verbose.yml kedro run": "Loading data from",
    "ls data/06_models/ml-100k/lightfm_model.pkl/": "",  # version folders
    "kedro run --pipelines=recommend --params=recommend.user_id=42": "rank",
    "kedro prune --keep 5": "kept the newest 5",  # one run: nothing to remove
}
#: Run as written by another test.
ELSEWHERE = {
    "kedro run --pipelines=data_engineering": "tests/test_slicing.py",
    "kedro run --nodes=lightfm.train_model": "tests/test_slicing.py",
    "kedro run --from-nodes=ncf.train_model": "tests/test_slicing.py",
    "kedro run --to-nodes=binarize_ratings": "tests/test_slicing.py",
    "kedro run --tags=ease": "tests/test_slicing.py",
    "kedro run --namespaces=lightfm": "tests/test_slicing.py",
    "kedro run --params=seeds=3": "tests/test_slicing.py",
    "kedro run --nodes=lightfm.evaluate_model --load-versions=lightfm.model:"
    "$(ls data/06_models/ml-100k/lightfm_model.pkl/ | head -1)": (
        "tests/test_slicing.py::test_load_versions_pins_an_older_model"
    ),
    "kedro viz build --include-previews": "tests/test_viz_browser.py (static_build)",
    "kedro run --pipelines=tuning": (
        "tests/test_tuning_run.py (with a budget of 2 and then 3 trials)"
    ),
    "optuna studies --storage sqlite:///data/09_tuning/optuna.db": (
        "tests/test_tuning_run.py::test_tuning_run_tunes_each_model_and_resumes"
    ),
    "jupytext --to ipynb notebooks/ncf_movielens_study.py && jupyter execute "
    "--inplace notebooks/ncf_movielens_study.ipynb": (
        "tests/test_notebook.py (the same notebook, executed with nbclient)"
    ),
}
#: Not run by any test, and why.
NOT_RUN = {
    "kedro viz run": "a server until stopped; tests/test_viz_browser.py starts it",
    "optuna-dashboard sqlite:///data/09_tuning/optuna.db": (
        "a server until stopped; the storage it opens is read in "
        "tests/test_tuning_run.py"
    ),
    "kedro run --pipelines=tuning --params=tuning.study.storage="
    "postgresql://optuna@db-host/optuna": (
        "needs a PostgreSQL server; two processes filling one study through a "
        "shared storage: tests/tuning/test_studies.py"
    ),
    ". .venv/bin/activate && kedro mlflow ui": (
        "a server until stopped; tests/test_mlflow_browser.py serves the same "
        "store with `mlflow server` and opens it in Chromium"
    ),
    "MLFLOW_TRACKING_URI=http://mlflow-host:5000 kedro run": (
        "needs an MLflow server; tests/test_tracking.py checks that the "
        "variable replaces the local store"
    ),
    "tensorboard --logdir data/07_model_output/ml-100k/ncf_tensorboard": (
        "a server until stopped; the logs it reads are checked in tests/test_runs.py"
    ),
}


def readme_bash_commands() -> list[str]:
    """Every line of every ``bash`` block in the README, comments cut."""
    text = (PROJECT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [
        re.sub(r"\s+#\s.*$", "", line).strip()
        for b in blocks
        for line in b.splitlines()
    ]
    return [line for line in lines if line]


def test_every_readme_command_is_run_here_elsewhere_or_said_why_not():
    commands = readme_bash_commands()
    assert len(commands) == len(set(commands))
    assert set(commands) == {*RUN_HERE, *ELSEWHERE, *NOT_RUN}


def pasted(project: Path, command: str) -> str:
    """``command`` pasted into bash in ``project``, with this environment's
    ``kedro`` first on the PATH and the project's own log settings."""
    env = {k: v for k, v in os.environ.items() if k != "KEDRO_LOGGING_CONFIG"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=project,
        env={**env, "KEDRO_DISABLE_TELEMETRY": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"`{command}` failed:\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(RUN_HERE))
def test_a_quick_readme_command_works_as_written(study, command):
    before = all_versions(study / "data")
    output = pasted(study, command)
    assert RUN_HERE[command] in output
    if command.startswith("ls "):
        assert output.split() and all(VERSION.match(v) for v in output.split())
    if "--pipelines=recommend" in command:  # prints stored lists, writes nothing
        assert all_versions(study / "data") == before
