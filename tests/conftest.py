"""Shared fixtures: small synthetic MovieLens data made by the tests (the
MovieLens terms forbid committing the real files), and one studied project that
every test needing a finished run starts from."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Every scratch project tracks its runs in its own store (data/10_tracking), never
# in a server or store the environment points at.
os.environ.pop("MLFLOW_TRACKING_URI", None)
# The verbose log (every node, load and save) for the tests, which read Kedro's
# lines; child runs inherit it, and tests/test_log.py, tests/test_cli.py drop it.
os.environ.setdefault(
    "KEDRO_LOGGING_CONFIG",
    str(Path(__file__).resolve().parents[1] / "conf" / "logging_verbose.yml"),
)

import pytest

from ncf_movielens.movielens.fetch import RawFiles
from ncf_movielens.synthetic import make_raw_files

from .support import FAST_PARAMS, copy_project, make_project, run_session


@pytest.fixture(scope="session")
def raw_files() -> RawFiles:
    # seed 1: every user has at least 12 ratings, so each keeps train ratings
    # after the ua split holds out 10 (MovieLens users have at least 20).
    return make_raw_files(n_users=60, n_items=80, n_ratings=1500, seed=1)


@pytest.fixture(scope="session")
def studied_project(tmp_path_factory, raw_files) -> Path:
    """A scratch project after one full run of the study on ``raw_files``, with
    ``FAST_PARAMS`` in its ``conf/local``. Shared by the whole test session:
    never run anything in it; take a copy (``study``, or ``copy_project``)."""
    root = tmp_path_factory.mktemp("studied") / "project"
    project = make_project(root, raw_files, params=FAST_PARAMS)
    run_session(project)
    return project


@pytest.fixture
def study(studied_project, tmp_path) -> Path:
    """A copy of the studied project of this test's own."""
    return copy_project(studied_project, tmp_path / "project")


@pytest.fixture(autouse=True)
def _no_mlflow_run_left_open():
    """A run that ends, however it ends, leaves no MLflow run open (the next
    run in this process would log into it)."""
    yield
    import mlflow  # noqa: PLC0415

    active = mlflow.active_run()
    while mlflow.active_run():
        mlflow.end_run("FAILED")
    assert active is None, f"MLflow run {active.info.run_id} left open"
