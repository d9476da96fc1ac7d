"""The project's ``kedro run`` (``ncf_movielens.cli``): a refused run ends with
its message and exit code 1, no traceback, and ``--verbose`` shows it; a bug
keeps its traceback."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from kedro.framework.startup import bootstrap_project
from kedro.io import DatasetError

from ncf_movielens import cli
from ncf_movielens.hooks import _started_by_kedro_run
from ncf_movielens.movielens.fetch import FetchError
from ncf_movielens.pipeline_registry import register_pipelines

from .support import CHILD_ENV, make_project, working_directory

BAD_EPOCHS = "--params=ncf.training_options.epochs=abc"


@pytest.fixture(scope="module")
def project(tmp_path_factory, raw_files) -> Path:
    """A scratch project; every run below is refused, so it stays as made."""
    return make_project(tmp_path_factory.mktemp("cli") / "project", raw_files)


def refused(project: Path, *args: str) -> tuple[int, str]:
    """Exit code and output (stdout and stderr) of ``kedro run <args>``, with
    the project's default log (conftest sets the verbose one for the tests)."""
    env = {k: v for k, v in os.environ.items() if k != "KEDRO_LOGGING_CONFIG"}
    process = subprocess.run(
        [sys.executable, "-m", "kedro", "run", *args],
        cwd=project,
        env={**env, **CHILD_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )
    return process.returncode, process.stdout


# --- Child processes: what the terminal shows --------------------------------------


def test_a_refused_parameter_ends_the_run_with_its_message_only(project):
    code, output = refused(project, BAD_EPOCHS)
    assert code == 1
    assert "Traceback" not in output
    assert "register_new_resolver" not in output  # Kedro's warning, silenced
    lines = output.splitlines()
    # The refusal alone: its header and the refused key (conf/logging.yml keeps
    # Kedro's start-up lines quiet).
    assert len(lines) <= 3, output
    assert "Error: Invalid parameters, refused before any node runs:" in lines
    assert output.count("ncf.training_options.epochs = 'abc'") == 1


def test_verbose_shows_the_traceback_also_through_python_m(project):
    process = subprocess.run(
        [sys.executable, "-m", "ncf_movielens", "--verbose", BAD_EPOCHS],
        cwd=project,
        env={**os.environ, **CHILD_ENV},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert process.returncode != 0
    assert "Traceback (most recent call last)" in process.stderr
    assert "ncf_movielens.parameter_errors.ParameterError" in process.stderr


def test_an_unknown_node_is_refused_in_one_line_naming_every_node(project):
    code, output = refused(project, "--nodes=nope")
    assert code == 1
    assert "Traceback" not in output
    (line,) = [line for line in output.splitlines() if line.startswith("Error:")]
    assert line.startswith("Error: No node 'nope' in pipeline __default__; its nodes:")
    for node in register_pipelines()["__default__"].nodes:
        assert node.name in line


# --- In this process ---------------------------------------------------------------


def test_a_node_that_refuses_its_input_says_so_once(tmp_path, raw_files, caplog):
    broken = {**raw_files, "u.data": raw_files["u.data"] + b"1\t2\tx\t3\n"}
    project = make_project(tmp_path / "project", broken)
    bootstrap_project(project)
    with working_directory(project), pytest.raises(click.ClickException) as refusal:
        cli.run.main(["--nodes=parse_ratings"], standalone_mode=False)
    assert "rule 'integers'" in refusal.value.message
    assert "(rating 'x')" in refusal.value.message
    said = [  # kedro-viz's notice on sliced runs shows in the tests' verbose log
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and not r.name.startswith("kedro_viz")
    ]
    assert said == ["No nodes ran. Repeat the previous command to attempt a new run."]


def test_an_unknown_pipeline_is_refused_naming_every_pipeline(tmp_path, raw_files):
    project = make_project(tmp_path / "project", raw_files)
    bootstrap_project(project)
    with working_directory(project), pytest.raises(click.ClickException) as refusal:
        cli.run.main(["--pipelines=ncf,nope"], standalone_mode=False)
    known = ", ".join(sorted(register_pipelines()))
    assert refusal.value.message == f"No pipeline 'nope'; the pipelines: {known}."


def test_a_refusal_is_found_behind_kedros_dataset_error():
    fetch = FetchError("Could not get verified MovieLens files from any source")
    try:
        try:
            raise fetch
        except FetchError as error:
            raise DatasetError(f"Failed while loading data.\n{error}") from error
    except DatasetError as wrapped:
        assert cli.refusal_message(wrapped, {}) == str(fetch)


def test_an_error_raised_while_handling_a_refusal_keeps_its_traceback():
    try:
        try:
            raise FetchError("no source")
        except FetchError:
            raise KeyError("a bug in the handler") from None
    except KeyError as bug:
        assert cli.refusal_message(bug, {}) is None
    assert cli.refusal_message(ValueError("a bug"), {}) is None


def test_close_matches_point_to_the_nodes_and_where_to_see_all():
    valid = ["ncf.train_model", "ease.train_model", "parse_ratings", "split_ratings"]
    message = cli.unknown_nodes_message(["train_modle"], valid, ["__default__"])
    assert message == (
        "No node 'train_modle' in pipeline __default__. Did you mean "
        "ease.train_model, ncf.train_model? All 4 nodes: "
        "`kedro registry describe __default__`."
    )


def test_the_hooks_see_kedros_own_run_command(monkeypatch):
    # RunIntegrity takes the run lock as soon as it sees `kedro run`.
    seen = []
    monkeypatch.setattr(
        cli.kedro_run, "callback", lambda **_: seen.append(_started_by_kedro_run())
    )
    cli.run.main([], standalone_mode=False)
    assert seen == [True]
