"""The MLflow UI in a real (headless) browser: the tracking store that one
`kedro run` of the study leaves in ``data/10_tracking`` (SQLite ``mlflow.db``
and the ``artifacts/`` root), served by `mlflow server` from a copy, lists the
run in the ``ncf_movielens`` experiment, and the run's page shows NCF's
standard P@5 with the value the evaluation wrote to ``ncf_metrics.json``, and
the run's artifacts.

A second test does the same on a store made here with ``MlflowClient``, so
that a failure of the UI checks themselves shows apart from one of the
project's tracking; it also proves that the server reads only the copy (the
original is deleted once copied).

Needs Debian's Chromium at /usr/bin/chromium (`apt-get install -y chromium`;
.ci/run installs it) and the `playwright` Python package, which drives that
browser directly: `playwright install` is never needed. Without Chromium the
tests fail (errors at setup) rather than skip.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest

from .mlflow_support import assert_run_in_ui, mlflow_ui, tracking_uri
from .support import load_json
from .viz_support import chromium_context, screenshot, screenshot_on_failure

pytestmark = pytest.mark.browser

EXPERIMENT = "ncf_movielens"
#: ``<pipelines> · <env>``: a plain `kedro run` in the scratch project.
RUN_NAME = "__default__ · local"
#: NCF's P@5 under the standard protocol, as the tracking logs it.
METRIC = "ncf.standard.precision_at_5"
STORE = Path("data") / "10_tracking"
NCF_METRICS = Path("data") / "08_reporting" / "ml-100k" / "ncf_metrics.json"


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[object]:
    with chromium_context(tmp_path_factory.mktemp("chromium_profile")) as context:
        yield context


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mlflow_screenshots")


@pytest.fixture(scope="module")
def served(studied_project, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """The studied project's tracking store, copied and served: the server's
    base URL and the copy's folder."""
    store = studied_project / STORE
    assert (store / "mlflow.db").is_file(), (
        f"the studied project's run left no MLflow store in {store}"
    )
    workdir = tmp_path_factory.mktemp("mlflow_ui")
    with mlflow_ui(store, workdir) as base:
        yield base, workdir / "store"


@pytest.fixture(scope="module")
def ncf_p5(studied_project) -> float:
    """NCF's standard P@5 as the evaluation wrote it (the newest version)."""
    metrics = load_json(studied_project / NCF_METRICS)
    return metrics["protocols"]["standard"]["precision@5"]


def test_store_holds_the_run(served, ncf_p5):
    """The copy, read with MLflow's client: one finished run in the
    experiment, with the metric the evaluation wrote and some artifacts."""
    _, copy = served
    client = mlflow.MlflowClient(tracking_uri=tracking_uri(copy))
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None, f"no experiment {EXPERIMENT!r} in the store"
    runs = client.search_runs([experiment.experiment_id], max_results=10)
    names = [run.info.run_name for run in runs]
    assert len(runs) == 1, f"expected exactly one run in {EXPERIMENT!r}: {names}"
    (run,) = runs
    assert run.info.run_name == RUN_NAME
    assert run.info.status == "FINISHED", run.info.status
    assert run.data.metrics.get(METRIC) == ncf_p5, (
        f"{METRIC} = {run.data.metrics.get(METRIC)!r} in the store, "
        f"{ncf_p5!r} in {NCF_METRICS}"
    )
    assert client.list_artifacts(run.info.run_id), "the run logged no artifacts"


def test_ui_shows_run_and_metric(browser, served, ncf_p5, shots):
    base, copy = served
    client = mlflow.MlflowClient(tracking_uri=tracking_uri(copy))
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None, f"no experiment {EXPERIMENT!r} in the store"
    (run,) = client.search_runs([experiment.experiment_id], max_results=2)
    artifacts = [
        Path(item.path).name for item in client.list_artifacts(run.info.run_id)
    ]
    page = browser.new_page()
    try:
        with screenshot_on_failure(page, shots / "failure_mlflow_run.png"):
            run_id = assert_run_in_ui(
                page, base, EXPERIMENT, RUN_NAME, METRIC, ncf_p5, artifacts
            )
        assert run_id == run.info.run_id
        screenshot(page, shots / "mlflow_run.png")
    finally:
        page.close()


# --- the UI checks on a store made here ----------------------------------------

HAND_MADE_P5 = 0.23732767762460238


def _hand_made_store(store: Path) -> str:
    """A store like the project's: the experiment with its artifact root in
    ``store/artifacts``, one finished run with NCF's P@5 among 60 other
    metrics (more than the run page lists without a search) and a model file
    under ``models/``. Returns the run's id."""
    (store / "artifacts").mkdir(parents=True)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri(store))
    experiment_id = client.create_experiment(
        EXPERIMENT, artifact_location=(store / "artifacts").as_posix()
    )
    run_id = client.create_run(experiment_id, run_name=RUN_NAME).info.run_id
    client.log_metric(run_id, METRIC, HAND_MADE_P5)
    for i in range(60):
        client.log_metric(run_id, f"model_{i:02d}.standard.recall_at_5", i / 7)
    model = store.parent / "ncf_model.keras"
    model.write_bytes(b"not a model")
    client.log_artifact(run_id, str(model), "models")
    client.set_terminated(run_id)
    return run_id


def test_ui_checks_on_hand_made_store(browser, tmp_path, shots):
    original = tmp_path / "project" / STORE
    run_id = _hand_made_store(original)
    with mlflow_ui(original, tmp_path / "served") as base:
        shutil.rmtree(tmp_path / "project")  # the server must need only its copy
        page = browser.new_page()
        try:
            with screenshot_on_failure(page, shots / "failure_hand_made.png"):
                found = assert_run_in_ui(
                    page, base, EXPERIMENT, RUN_NAME, METRIC, HAND_MADE_P5, ["models"]
                )
        finally:
            page.close()
    assert found == run_id
