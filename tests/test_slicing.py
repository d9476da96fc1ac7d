"""The README's slicing commands, run as written after a full run of a synthetic
project: each creates exactly the versions it should, ``--params=seeds=3``
compares three runs of each stochastic model, and ``--load-versions`` really
loads the older version.

Each command runs once, in this process, through Kedro's own ``run`` command
(so it parses exactly as typed); one of them runs in a child ``kedro``
process, as pasted into a terminal, in a copy of the project of its own."""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ncf_movielens.study import MODELS

from .support import (
    all_versions,
    copy_project,
    kedro_cli,
    kedro_in_process,
    load_json,
    readme_commands,
    shell_words,
    version_file,
    versioned_outputs,
    versions,
)

DATA_ENGINEERING = {
    "ratings",
    "movies",
    "train_ratings",
    "test_ratings",
    "train_matrix",
    "test_matrix",
    "model_input_table",
}
REPORTS = {
    "model_comparison",
    "model_comparison_table",
    "model_comparison_markdown",
    "model_comparison_plot",
}


def _model(name: str, *, seeds: bool = False) -> set[str]:
    outputs = {f"{name}.model", f"{name}_metrics", f"{name}_recommendations"}
    extra = {f"{name}.other_seed_models", f"{name}_seed_metrics"} if seeds else set()
    return outputs | extra


EVERYTHING = (
    DATA_ENGINEERING
    | REPORTS
    | _model("ncf", seeds=True)
    | _model("lightfm", seeds=True)
    | _model("ials", seeds=True)
    | _model("most_popular")
    | _model("ease")
    | {"ncf_training_history"}
)
#: What each README slicing command must version, and nothing more.
EXPECTED = {
    "kedro run --pipelines=data_engineering": DATA_ENGINEERING,
    "kedro run --nodes=lightfm.train_model": {"lightfm.model"},
    "kedro run --from-nodes=ncf.train_model": (
        _model("ncf") | REPORTS | {"ncf_training_history"}
    ),
    "kedro run --to-nodes=binarize_ratings": (
        DATA_ENGINEERING - {"movies", "model_input_table"}
    ),
    "kedro run --tags=ease": _model("ease"),
    "kedro run --namespaces=lightfm": _model("lightfm", seeds=True),
    "kedro run --params=seeds=3": EVERYTHING,
}
#: The command that runs in a child process, exactly as pasted in a terminal.
AS_PASTED = "kedro run --namespaces=lightfm"
SEEDS = "kedro run --params=seeds=3"

#: A command's new versions: dataset name -> its new version folders.
Created = dict[str, set[str]]


@dataclass(frozen=True)
class Run:
    """The versions under a project's ``data/`` before and after a command."""

    project: Path
    before: dict[str, set[str]]
    after: dict[str, set[str]]

    def created(self, names: dict[str, str]) -> Created:
        for path, found in self.before.items():
            assert found <= self.after[path], f"a version of {path} was removed"
        return {
            names.get(path, path): found - self.before.get(path, set())
            for path, found in self.after.items()
            if found - self.before.get(path, set())
        }


@pytest.fixture(scope="module")
def project(studied_project, tmp_path_factory) -> Path:
    """The copy of the studied project that the in-process commands run in."""
    return copy_project(studied_project, tmp_path_factory.mktemp("slicing") / "p")


@pytest.fixture(scope="module")
def dataset_names(project) -> dict[str, str]:
    """Dataset name by path under ``data/``, from the project's catalog."""
    outputs = versioned_outputs(project)
    return {str(path.relative_to("data")): name for name, path in outputs.items()}


@pytest.fixture(scope="module")
def child_run(studied_project, tmp_path_factory) -> Iterator[Future[Run]]:
    """``AS_PASTED`` in a child ``kedro`` process, in a copy of the studied
    project of its own, started with the first command so that it runs while
    the other commands run in this process."""
    project = copy_project(studied_project, tmp_path_factory.mktemp("cli") / "p")

    def run() -> Run:
        before = all_versions(project / "data")
        kedro_cli(project, *shell_words(AS_PASTED, project)[1:])
        return Run(project, before, all_versions(project / "data"))

    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(run)


@pytest.fixture(scope="module")
def run_once(project, dataset_names, child_run) -> Callable[[str], Created]:
    """Runs a README command (the first time it is asked for) and returns the
    versions it created, by dataset name."""
    runs: dict[str, Run | Future[Run]] = {AS_PASTED: child_run}

    def run(command: str) -> Created:
        if command not in runs:
            before = all_versions(project / "data")
            kedro_in_process(project, command)
            runs[command] = Run(project, before, all_versions(project / "data"))
        found = runs[command]
        if isinstance(found, Future):
            found = runs[command] = found.result()
        return found.created(dataset_names)

    return run


def test_readme_lists_every_slicing_flag():
    commands = readme_commands("Slicing")
    assert set(commands) == set(EXPECTED)
    assert AS_PASTED in commands
    for flag in (
        "--pipelines",
        "--nodes",
        "--from-nodes",
        "--to-nodes",
        "--tags",
        "--namespaces",
    ):
        assert any(f"{flag}=" in command for command in commands), flag


@pytest.mark.slow
@pytest.mark.parametrize("command", list(EXPECTED))
def test_slice_creates_exactly_its_versions(run_once, command):
    created = run_once(command)
    assert set(created) == EXPECTED[command]
    assert all(len(found) == 1 for found in created.values()), created


@pytest.mark.slow
def test_a_child_process_writes_the_same_metrics(run_once, child_run, studied_project):
    """The terminal's `kedro run` and the in-process one agree to the byte
    (same seed, same data): the child retrained LightFM and measured it."""
    (version,) = run_once(AS_PASTED)["lightfm_metrics"]
    folder = Path("data/08_reporting/ml-100k/lightfm_metrics.json")
    child = version_file(child_run.result().project / folder, version)
    assert child.read_bytes() == version_file(studied_project / folder).read_bytes()


@pytest.mark.slow
def test_three_seeds_are_compared(run_once, project):
    """With ``seeds=3`` the stochastic models run with seeds 42, 43 and 44: each
    extra seed's metrics are stored, and the comparison shows the mean and
    standard deviation over the three runs (one run for the others)."""
    created = run_once(SEEDS)
    reporting = project / "data" / "08_reporting" / "ml-100k"

    def written(name: str, file: str) -> Any:
        """The version of ``name`` that the seeds=3 run wrote."""
        (version,) = created[name]
        return load_json(reporting / file, version)

    comparison = written("model_comparison", "model_comparison.json")
    for model in MODELS:
        row = comparison["models"][model.label]
        runs = [written(f"{model.name}_metrics", f"{model.name}_metrics.json")]
        if model.stochastic:
            runs += written(
                f"{model.name}_seed_metrics", f"{model.name}_seed_metrics.json"
            )
            assert [run.get("seed") for run in runs] == [None, 43, 44], model.name
        assert {run["model"] for run in runs} == {model.label}
        assert {cell["runs"] for cell in row.values()} == {len(runs)}, model.name
        assert len(runs) == (3 if model.stochastic else 1), model.name
        for key, cell in row.items():
            protocol, metric = key.split("/")
            values = [run["protocols"][protocol][metric] for run in runs]
            assert cell["mean"] == pytest.approx(statistics.mean(values)), key
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            assert cell["std"] == pytest.approx(std), key
        if model.stochastic:
            aucs = {run["protocols"]["standard"]["auc"] for run in runs}
            assert len(aucs) == 3, f"{model.name}: the three seeds made one model"


@pytest.mark.slow
def test_load_versions_pins_an_older_model(project):
    (command,) = [
        c for c in readme_commands("Outputs and versions") if "--load-versions" in c
    ]
    models = project / "data/06_models/ml-100k/lightfm_model.pkl"
    metrics = project / "data/08_reporting/ml-100k/lightfm_metrics.json"
    first = load_json(metrics, versions(metrics)[0])  # the full run's model
    kedro_in_process(
        project,
        "kedro run --nodes=lightfm.train_model --params=lightfm.training_options.epochs=1",
    )
    oldest, *_, newest = versions(models)
    if "$(" not in command:  # a timestamp for example's sake: pin the oldest
        command = re.sub(r"lightfm\.model:\S+", f"lightfm.model:{oldest}", command)
    kedro_in_process(project, command)
    # The oldest model is the full run's: its metrics come back unchanged, and
    # differ from the newest (one-epoch) model's.
    assert load_json(metrics)["protocols"] == first["protocols"]
    # The newest model was made with one epoch: evaluating it needs that
    # setting too (a run refuses inputs made with other parameters).
    kedro_in_process(
        project,
        "kedro run --nodes=lightfm.evaluate_model "
        "--params=lightfm.training_options.epochs=1",
    )
    assert load_json(metrics)["protocols"] != first["protocols"], newest
