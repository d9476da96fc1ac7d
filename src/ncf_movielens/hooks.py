"""Project hooks: checks that run around the pipeline rather than inside nodes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from kedro.config import MissingConfigException
from kedro.framework.cli.project import run as kedro_run_command
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.io.core import AbstractVersionedDataset, DatasetError, generate_timestamp
from kedro.pipeline import Pipeline

from ncf_movielens.parameter_errors import (
    SourceOf,
    check_against_data,
    check_named_settings,
    environment_parameters,
    parameter_sources,
    validate_parameters,
)
from ncf_movielens.parameters import Parameters
from ncf_movielens.runs import (
    LOCK_FILE,
    LineageError,
    ProjectLock,
    RunRecord,
    check_made_with,
    describe_process,
    parameter_value,
    remove_version,
)
from ncf_movielens.tuning.storage import resolve_storage

logger = logging.getLogger(__name__)


class ParameterChecks:
    """Refuses unknown keys, wrong types, impossible values and combinations
    that span groups as soon as the context exists, before any node runs, with
    a message naming the file (or ``--params``) that set each refused value.
    Kedro then converts each node's typed ``params:`` input itself. A named
    environment (``--env=notebook``) that changes a model's options must name
    its settings (``parameter_errors.check_named_settings``), so that every
    output's label says so.

    Once the run first saves or loads ``train_matrix``, which every training
    node takes, it refuses what the matrix's sizes make wrong (cut-offs above
    its items, too many negatives for its users or for memory) before any
    model trains, in full and in sliced runs alike."""

    def __init__(self) -> None:
        # This run's parameters and their sources, until train_matrix is checked.
        self._unchecked: tuple[Parameters, SourceOf] | None = None

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        self._unchecked = None
        loader = context.config_loader  # an OmegaConfigLoader (settings.py)
        try:
            params = loader["parameters"]  # runtime --params merged in
        except MissingConfigException:
            params = {}
        envs = list(
            dict.fromkeys([loader.base_env, loader.env or loader.default_run_env])
        )
        sources = parameter_sources(
            loader.conf_source,
            envs,
            loader.config_patterns["parameters"],
            runtime_params=loader.runtime_params,
            relative_to=context.project_path,
        )
        checked = validate_parameters(params, sources)
        env = loader.env or loader.default_run_env
        check_named_settings(
            env,
            environment_parameters(loader, loader.base_env),
            environment_parameters(loader, env),
            run=params,
            source_of=sources,
        )
        self._unchecked = (checked, sources)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        self._check_train_matrix(dataset_name, data)

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any) -> None:
        self._check_train_matrix(dataset_name, data)

    # A runner used later without a session has no parameters to check.
    @hook_impl
    def after_pipeline_run(self) -> None:
        self._unchecked = None

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._unchecked = None

    def _check_train_matrix(self, dataset_name: str, data: Any) -> None:
        if dataset_name != "train_matrix" or self._unchecked is None:
            return
        (params, sources), self._unchecked = self._unchecked, None  # once a run
        import scipy.sparse as sp  # noqa: PLC0415 - late, as in ComparisonReport

        matrix = sp.csr_matrix(data)
        check_against_data(
            params,
            *matrix.shape,
            max_user_positives=int(matrix.getnnz(axis=1).max(initial=0)),
            n_positives=matrix.nnz,
            source_of=sources,
        )


class ComparisonReport:
    """Prints the model comparison as the run's last lines, after Kedro's own
    closing messages, whenever the run produced it."""

    @hook_impl
    def after_pipeline_run(self, pipeline: Pipeline, catalog: DataCatalog) -> None:
        if "model_comparison_table" in pipeline.all_outputs():
            # pandas, imported late: `kedro run` takes its lock before it
            from ncf_movielens.comparison import comparison_text  # noqa: PLC0415

            table = catalog.load("model_comparison_table")
            logging.getLogger("ncf_movielens").info(comparison_text(table))


def _started_by_kedro_run() -> bool:
    """Whether this process is inside the ``kedro run`` command (the terminal,
    ``python -m ncf_movielens``), rather than ``kedro viz``, a notebook or
    another command that also creates a context."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.command is kedro_run_command


class RunIntegrity:
    """One run at a time; a record of each finished save; a refusal, before
    any node runs, of stored inputs made with other parameters; and the removal
    of a version whose save failed."""

    def __init__(self) -> None:
        self._lock: ProjectLock | None = None
        self._forget()

    def _forget(self) -> None:
        # No catalog outside a session's run (a runner used on its own): the
        # hook then does nothing.
        self._catalog: Any = None
        self._made: dict[str, Mapping[str, Any]] = {}  # by this run, by dataset
        self._stored: dict[str, tuple[str, Mapping[str, Any]]] = {}  # loaded
        self._pending: dict[str, Path] = {}  # saves begun, not finished

    # The lock: taken as soon as `kedro run` has a context (before the
    # pipelines, and TensorFlow with them, are imported), else when a session
    # starts its run; released when the run ends.
    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self._release()  # an earlier session of this process has ended
        self._project = Path(context.project_path)
        # As written in the YAML and --params (context.params holds the
        # typed objects Kedro converted them to).
        self._params = context.config_loader["parameters"]
        if _started_by_kedro_run():
            self._acquire()

    @hook_impl
    def after_catalog_created(self, catalog: Any, save_version: str) -> None:
        self._forget()
        self._catalog = catalog
        self._save_version = save_version
        self._record = RunRecord(self._project, save_version, {})

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any) -> None:
        if not (self._lock and self._lock.held):
            self._acquire()
        self._record.content.update(
            command=" ".join(sys.argv),
            env=run_params.get("env"),
            runtime_params=run_params.get("runtime_params") or {},
            parameters=self._params,
        )
        refused = []
        for name in sorted(pipeline.inputs()):
            try:
                self._entry_of(name)
            except LineageError as error:
                refused.append(f"  - {error}")
        if refused:
            self._release()
            raise LineageError(
                "Stored inputs that this run must not use, refused before any "
                "node runs:\n" + "\n".join(refused)
            )

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        for name in node.inputs:
            self._entry_of(name)

    @hook_impl
    def before_dataset_saved(self, dataset_name: str) -> None:
        dataset = self._versioned(dataset_name)
        if dataset is not None:
            path = dataset._get_versioned_path(self._save_version)
            self._pending[dataset_name] = Path(str(path)).parent

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, node: Any) -> None:
        if self._pending.pop(dataset_name, None) is None:
            return  # not versioned: memory, or the raw files
        parameters = {
            name.removeprefix("params:"): parameter_value(
                self._params, name.removeprefix("params:")
            )
            for name in node.inputs
            if name.startswith("params:")
        }
        inputs = {}
        for name in node.inputs:
            found = self._entry_of(name)
            if found:
                inputs[name], entry = found
                parameters.update(entry["parameters"])
        entry = {
            "node": node.name,
            "inputs": inputs,
            "node_parameters": sorted(
                name.removeprefix("params:")
                for name in node.inputs
                if name.startswith("params:")
            ),
            "parameters": parameters,
        }
        self._record.add(dataset_name, entry)
        self._made[dataset_name] = entry

    @hook_impl
    def on_pipeline_error(self) -> None:
        for name, version_dir in self._pending.items():
            if remove_version(version_dir):
                logger.warning(
                    "Removed %s's unfinished version %s (%s), so no later run loads it",
                    name,
                    self._save_version,
                    version_dir,
                )
        self._release()
        self._forget()

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._release()
        self._forget()

    # --- helpers

    def _acquire(self) -> None:
        self._lock = ProjectLock(self._project / LOCK_FILE)
        self._lock.acquire(describe_process(sys.argv))

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def _versioned(self, name: str) -> AbstractVersionedDataset | None:
        if self._catalog is None or name.startswith("params:") or name == "parameters":
            return None
        dataset = self._catalog.get(name)
        if isinstance(dataset, AbstractVersionedDataset) and dataset._version:
            return dataset
        return None

    def _entry_of(self, name: str) -> tuple[str, Mapping[str, Any]] | None:
        """(version, record entry) of the version of ``name`` that this run
        loads, once checked; None when it is not versioned or not stored."""
        dataset = self._versioned(name)
        if dataset is None:
            return None
        try:
            version = dataset.resolve_load_version()
        except DatasetError:
            return None  # no version yet: Kedro's own load error says so
        if name in self._made:
            if version != self._save_version:
                raise LineageError(
                    f"{name!r}: this run saved version {self._save_version}, "
                    f"but the newest on disk is {version}; another process "
                    "wrote it. Refusing to mix their outputs."
                )
            return version, self._made[name]
        if name not in self._stored or self._stored[name][0] != version:
            self._stored[name] = (
                version,
                check_made_with(self._project, name, version, self._params),
            )
        return self._stored[name]


class ProjectPaths:
    """Relative paths in parameters (NCF's ``tensorboard_log_dir``, the
    tuning's SQLite or journal ``storage``) resolved
    from the project folder, as Kedro resolves the catalog's, never from the
    working directory: a run started in a subfolder writes under the
    project's ``data/``.

    Each run's TensorBoard logs go to a folder named by its save version,
    ``<project>/<tensorboard_log_dir>/<save_version>`` (the timestamp that
    names every versioned output of the run; its extra seeds add
    ``-seed<N>``), and the run's ``run_info`` (save version and
    configuration environment), which titles the comparison figure, is put
    in the catalog."""

    def __init__(self) -> None:
        self._project: Path | None = None
        self._env = "local"
        self._save_version: str | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self._project = Path(context.project_path)
        # No --env: the default run environment, settings.CONFIG_LOADER_ARGS'.
        loader = context.config_loader
        self._env = context.env or getattr(loader, "default_run_env", "") or "local"
        self._save_version = None

    @hook_impl
    def after_catalog_created(self, catalog: Any, save_version: str | None) -> None:
        self._save_version = save_version
        catalog["run_info"] = {"save_version": save_version, "env": self._env}

    # A runner used later without a session gets its own version (below).
    @hook_impl
    def after_pipeline_run(self) -> None:
        self._save_version = None

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._save_version = None

    @hook_impl
    def before_node_run(self, inputs: dict[str, Any]) -> dict[str, Any] | None:
        changed = {}
        for name, value in inputs.items():
            log_dir = _get(value, "tensorboard_log_dir")
            if log_dir:
                changed[name] = _with(
                    value, "tensorboard_log_dir", self._log_dir(log_dir)
                )
            storage = _get(value, "storage")  # the tuning's Optuna storage
            if isinstance(storage, str):
                resolved = resolve_storage(storage, self._project)
                if resolved != storage:
                    changed[name] = _with(value, "storage", resolved)
        return changed or None

    def _log_dir(self, log_dir: str) -> str:
        """``log_dir`` from the project folder, with the run's save version; a
        runner used without a session (no catalog, no version) gets a new
        timestamp of Kedro's, as a session would."""
        path = Path(log_dir)
        if not path.is_absolute() and self._project is not None:
            path = self._project / path
        return str(path / (self._save_version or generate_timestamp()))


def _get(value: Any, key: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(key)
    return getattr(value, key, None) if hasattr(value, "model_copy") else None


def _with(value: Any, key: str, new: Any) -> Any:
    if isinstance(value, Mapping):
        return {**value, key: new}
    return value.model_copy(update={key: new})
