"""The project's hooks (``ncf_movielens.hooks``) where they act: bad parameters
refused by a real KedroSession before any node runs, and the ones the train
matrix refuses before any model trains (full and sliced runs), a model with a
NaN loss refused by a real runner before it is saved, and the comparison
printed last. Also a run on broken ratings, which must leave only whole files
behind."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import scipy.sparse as sp
import yaml
from kedro.framework.hooks.manager import _create_hook_manager
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.io import DataCatalog, MemoryDataset, Version
from kedro.runner import SequentialRunner
from kedro_datasets.json import JSONDataset
from kedro_datasets.tensorflow import TensorFlowModelDataset

from ncf_movielens import settings
from ncf_movielens.comparison import comparison_text
from ncf_movielens.hooks import (
    ComparisonReport,
    ParameterChecks,
    ProjectPaths,
    RunIntegrity,
)
from ncf_movielens.models.checks import DegenerateModelError
from ncf_movielens.movielens.ratings import RatingsError
from ncf_movielens.parameter_errors import ParameterError, validate_parameters
from ncf_movielens.parameters import NCFTrainingOptions
from ncf_movielens.pipelines import ncf, reporting
from ncf_movielens.pipelines.data_engineering.nodes import matrix_to_long
from ncf_movielens.pipelines.reporting import nodes as reporting_nodes
from ncf_movielens.pipelines.reporting.nodes import compare_models
from ncf_movielens.runs import RECORDS_DIR
from ncf_movielens.study import MODELS
from ncf_movielens.tracking import RunTracking
from tests.support import (
    VERSION,
    digests,
    fast_ncf,
    make_project,
    project_params,
    run_metrics,
    run_session,
    versions,
)

NCF = next(model for model in MODELS if model.name == "ncf")


def test_the_project_registers_its_hooks():
    assert [type(hook) for hook in settings.HOOKS] == [
        RunTracking,
        ParameterChecks,
        ComparisonReport,
        ProjectPaths,
        RunIntegrity,
    ]


# --- ParameterChecks: through a KedroSession, before any node runs -----------------


@pytest.fixture(scope="module")
def project(tmp_path_factory, raw_files) -> Path:
    return make_project(tmp_path_factory.mktemp("hooks") / "project", raw_files)


def refused_run(project: Path, params: dict) -> str:
    """The message of a session run that must be refused; data/ unchanged."""
    before = digests(project / "data")
    with pytest.raises(ParameterError) as error:
        run_session(project, params=params)
    assert digests(project / "data") == before  # nothing written, nothing changed
    return str(error.value)


def test_bad_params_are_refused_before_any_node_runs(project):
    message = refused_run(project, {"evaluation_options": {"top_k": 0}})
    assert message == (
        "Invalid parameters, refused before any node runs:\n"
        "  - evaluation_options.top_k = 0: Input should be greater than 0 "
        "(from the command line, --params)"
    )


def test_a_bad_file_value_is_refused_naming_the_file(project):
    local = project / "conf" / "local" / "parameters.yml"
    local.write_text(yaml.safe_dump({"lightfm": {"model_options": {"loss": "warpp"}}}))
    try:
        message = refused_run(project, {})
    finally:
        local.unlink()
    assert message.startswith("Invalid parameters, refused before any node runs:\n")
    assert "lightfm.model_options.loss = 'warpp'" in message
    assert message.endswith("(in conf/local/parameters.yml)")


def model_files(project: Path) -> list[Path]:
    """Every file a training node saved (any model, any version)."""
    return [p for p in (project / "data" / "06_models").rglob("*") if p.is_file()]


def test_the_train_matrix_refuses_cut_offs_above_its_items_before_training(
    tmp_path, raw_files
):
    """A full run: once binarize_ratings saves the train matrix (80 items) the
    run stops, with the key and its source, before any model trains."""
    project = make_project(tmp_path / "project", raw_files)
    with pytest.raises(ParameterError) as error:
        run_session(project, params={"evaluation_options": {"curve_k": 500}})
    assert str(error.value) == (
        "Invalid parameters for the train matrix (60 users x 80 items), refused "
        "before any training:\n"
        "  - evaluation_options.curve_k = 500: is above the 80 items of the train "
        "matrix (from the command line, --params)"
    )
    assert list((project / "data" / "03_primary").rglob("train_matrix.npz/*/*"))
    assert model_files(project) == []


def test_a_sliced_run_is_refused_before_training(tmp_path, raw_files):
    """``--pipelines=ncf`` loads the train matrix the data run saved: too many
    negatives for its users are refused then, naming the file in a
    conf/local/parameters/ folder that set them, before NCF trains."""
    project = make_project(tmp_path / "project", raw_files)
    run_session(project, pipeline_names=["data_engineering"])
    local = project / "conf" / "local" / "parameters" / "ncf.yml"
    local.parent.mkdir()
    local.write_text(yaml.safe_dump({"ncf": {"training_options": {"negatives": 79}}}))
    with pytest.raises(ParameterError) as error:
        run_session(project, pipeline_names=["ncf"])
    (line,) = str(error.value).splitlines()[1:]
    assert line.startswith("  - ncf.training_options.negatives = 79: is above ")
    assert line.endswith(" positives) (in conf/local/parameters/ncf.yml)")
    assert model_files(project) == []


def test_bad_ratings_leave_no_partial_file(tmp_path, raw_files):
    """A run on a broken u.data stops at parse_ratings (parse_movies takes its
    ratings, so it cannot run first): nothing in data/ changes."""
    broken = raw_files["u.data"] + b"3\t4\t9\t6\n"
    project = make_project(tmp_path / "project", {**raw_files, "u.data": broken})
    before = digests(project / "data")
    with pytest.raises(RatingsError, match=r"\(rating 9\)"):
        run_session(project)
    assert digests(project / "data") == before


# --- TrainingChecks: through a runner, before the model is saved -----------------


def train_ncf_node(tmp_path: Path, train: sp.csr_matrix, **training: Any) -> None:
    """Run the NCF training node with the project's hooks, saving the model and
    its history as the catalog does: versioned files under ``tmp_path``."""
    params = validate_parameters(project_params(ncf=fast_ncf(epochs=1, **training)))
    catalog = DataCatalog(
        {
            "model_input_table": MemoryDataset(
                matrix_to_long(train, params.reshape_options)
            ),
            "train_matrix": MemoryDataset(train),
            "params:ncf.model_options": MemoryDataset(params.ncf.model_options),
            "params:ncf.training_options": MemoryDataset(params.ncf.training_options),
            "ncf.model": TensorFlowModelDataset(
                filepath=str(tmp_path / "ncf_model.keras"), version=Version(None, None)
            ),
            "ncf_training_history": JSONDataset(
                filepath=str(tmp_path / "ncf_training_history.json"),
                version=Version(None, None),
            ),
        }
    )
    hook_manager = _create_hook_manager()
    for hook in settings.HOOKS:
        hook_manager.register(hook)
    pipeline = ncf.create_pipeline(model=NCF).only_nodes("ncf.train_model")
    SequentialRunner().run(pipeline, catalog, hook_manager=hook_manager)


@pytest.fixture(scope="module")
def train() -> sp.csr_matrix:
    matrix = sp.random(30, 40, density=0.2, format="csr", random_state=0)
    matrix.data[:] = 1
    return matrix.astype("int8")


def test_a_sane_model_is_saved(tmp_path, train):
    train_ncf_node(tmp_path, train)
    assert len(list(tmp_path.glob("ncf_model.keras/*/ncf_model.keras"))) == 1
    assert len(list(tmp_path.glob("ncf_training_history.json/*/*.json"))) == 1


def test_a_nan_loss_is_refused_before_the_model_is_saved(tmp_path, train):
    with pytest.raises(
        DegenerateModelError,
        match=r"^ncf: loss is nan at epoch 1 \(check: finite training losses\)$",
    ):
        train_ncf_node(tmp_path, train, learning_rate=1e30)  # the weights blow up
    assert list(tmp_path.iterdir()) == []  # no model, no history


# --- ComparisonReport --------------------------------------------------------------


def reported(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ncf_movielens"]


def test_the_comparison_is_logged_when_the_run_made_it(caplog):
    _, table, _ = compare_models(run_metrics("A", 0.3), run_metrics("B", 0.1))
    catalog = DataCatalog({"model_comparison_table": MemoryDataset(table)})
    with caplog.at_level("INFO"):
        ComparisonReport().after_pipeline_run(
            pipeline=reporting.create_pipeline(models=MODELS), catalog=catalog
        )
        assert reported(caplog) == [comparison_text(table)]
        caplog.clear()
        ComparisonReport().after_pipeline_run(
            pipeline=ncf.create_pipeline(model=NCF), catalog=DataCatalog()
        )
        assert reported(caplog) == []


# --- Named settings: a named environment that changes a model says so -------------


def test_an_environment_changing_a_model_without_settings_is_refused(
    tmp_path, raw_files
):
    """``--env=scratch`` changes NCF and names no settings: refused when the
    context exists, naming the environment, the model and the key; nothing
    is written, not even the run's record."""
    project = make_project(tmp_path / "project", raw_files)
    scratch = project / "conf" / "scratch"
    scratch.mkdir()
    (scratch / "parameters.yml").write_text(
        yaml.safe_dump({"ncf": {"model_options": {"latent_dim_mf": 4}}})
    )
    before = digests(project / "data")
    with pytest.raises(ParameterError) as error:
        run_session(project, env="scratch")
    assert digests(project / "data") == before
    assert not (project / RECORDS_DIR).exists()
    assert model_files(project) == []
    message = str(error.value)
    assert message.startswith("Environment 'scratch' changes the options of models")
    (line,) = message.splitlines()[1:]
    assert line.startswith(
        "  - ncf: ncf.model_options.latent_dim_mf = 4 instead of base's 16 "
        "(in conf/scratch/parameters.yml); add `ncf: settings: <name>`"
    )
    assert "conf/scratch" in line


# --- ProjectPaths: run_info, and TensorBoard folders named by the save version ------


RUN_VERSION = "2026-12-02T10.00.00.000Z"


def paths_hook(project: Path, env: str | None = None) -> tuple[ProjectPaths, Any]:
    """A ProjectPaths hook after a session's context and catalog exist."""
    hook = ProjectPaths()
    loader = SimpleNamespace(default_run_env="local")
    hook.after_context_created(
        context=SimpleNamespace(project_path=project, env=env, config_loader=loader)
    )
    catalog = DataCatalog()
    hook.after_catalog_created(catalog=catalog, save_version=RUN_VERSION)
    return hook, catalog


@pytest.mark.parametrize(("env", "shown"), [(None, "local"), ("notebook", "notebook")])
def test_the_catalog_holds_the_runs_version_and_environment(tmp_path, env, shown):
    _, catalog = paths_hook(tmp_path, env)
    assert catalog.load("run_info") == {"save_version": RUN_VERSION, "env": shown}


def test_a_context_puts_run_info_in_its_catalog(project):
    """Through Kedro: a context's catalog has ``run_info`` with the run's
    environment (no --env: settings.py's default run environment, local)."""
    bootstrap_project(project)
    for env, shown in ((None, "local"), ("notebook", "notebook")):
        with KedroSession.create(project_path=project, env=env) as session:
            catalog = session.load_context().catalog  # no run: no save version
        assert catalog.load("run_info") == {"save_version": None, "env": shown}


def ncf_training(log_dir: str | None) -> NCFTrainingOptions:
    """The project's NCF training options, logging to ``log_dir``."""
    options = project_params()["ncf"]["training_options"]
    return NCFTrainingOptions.model_validate(
        {**options, "tensorboard_log_dir": log_dir}
    )


def test_tensorboard_folders_are_named_by_the_save_version(tmp_path):
    hook, _ = paths_hook(tmp_path)
    inputs = {
        "params:ncf.training_options": ncf_training("data/logs"),
        "params:other.training_options": ncf_training("/elsewhere/logs"),
        "params:off.training_options": ncf_training(None),
        "params:raw": {"tensorboard_log_dir": "data/raw_logs"},
    }
    changed = hook.before_node_run(inputs=inputs)
    assert changed.keys() == {
        "params:ncf.training_options",
        "params:other.training_options",
        "params:raw",
    }
    log_dir = changed["params:ncf.training_options"].tensorboard_log_dir
    assert log_dir == str(tmp_path / "data" / "logs" / RUN_VERSION)
    assert changed["params:other.training_options"].tensorboard_log_dir == (
        f"/elsewhere/logs/{RUN_VERSION}"
    )
    assert changed["params:raw"]["tensorboard_log_dir"] == str(
        tmp_path / "data" / "raw_logs" / RUN_VERSION
    )


def test_a_runner_without_a_session_gets_a_version_of_its_own(tmp_path):
    hook, _ = paths_hook(tmp_path)
    hook.after_pipeline_run()  # the session's run ended
    changed = hook.before_node_run(inputs={"options": ncf_training(str(tmp_path))})
    folder = Path(changed["options"].tensorboard_log_dir)
    assert folder.parent == tmp_path
    assert VERSION.match(folder.name) and folder.name != RUN_VERSION


@pytest.mark.slow
def test_a_runs_tensorboard_logs_are_in_its_save_versions_folder(study):
    """``--pipelines=ncf --params=seeds=2``: the main run logs to
    ``ncf_tensorboard/<save version>``, the version its model is saved
    under, and the extra seed beside it, in ``<save version>-seed43``."""
    logs = study / "data/07_model_output/ml-100k/ncf_tensorboard"
    models = study / "data/06_models/ml-100k/ncf_model.keras"
    before_logs = set(logs.iterdir()) if logs.is_dir() else set()
    before = set(versions(models))
    run_session(study, params={"seeds": 2}, pipeline_names=["ncf"])
    (version,) = set(versions(models)) - before
    assert {path.name for path in set(logs.iterdir()) - before_logs} == {
        version,
        f"{version}-seed43",
    }
    for folder in (version, f"{version}-seed43"):
        assert list((logs / folder).rglob("events.out.tfevents.*")), folder


@pytest.mark.slow
def test_the_figure_is_titled_with_the_runs_save_version(study, monkeypatch):
    """``--pipelines=reporting``: the figure's title names the version it is
    saved under and the environment (local: no --env)."""
    titles = []
    title = reporting_nodes.run_title
    monkeypatch.setattr(
        reporting_nodes,
        "run_title",
        lambda info: titles.append(title(info)) or titles[-1],
    )
    plots = study / "data/08_reporting/ml-100k/model_comparison.png"
    before = set(versions(plots))
    run_session(study, pipeline_names=["reporting"])
    (version,) = set(versions(plots)) - before
    assert titles == [f"Run {version} · env local"]
