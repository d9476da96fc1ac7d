"""Run tracking: every ``kedro run`` is one MLflow run, through kedro-mlflow.

kedro-mlflow's ``MlflowHook`` (configured by ``conf/base/mlflow.yml``) opens
the run, points MLflow at the store and closes the run, failed or not; this
subclass of it, ``RunTracking``, registered in ``settings.py`` in its place,
adds what the study needs:

- the run is named ``<pipelines> · <env>`` and tagged with the Kedro save
  version (the name of every version folder the run writes), the git commit,
  the MovieLens variant, the env, the command line and the models' named
  settings;
- every parameter, flattened (``ncf.training_options.batch_size``), is logged
  once when the run starts (kedro-mlflow's per-node logging cannot flatten
  the typed parameters Kedro gives nodes);
- when a dataset is saved: each model's metrics under both protocols
  (``ncf.standard.precision_at_5``), NCF's per-epoch history as step metrics
  (``ncf.loss``, ``ncf.val_loss``), each Optuna trial as a child run (the best
  one tagged ``best_trial``), and, for catalog entries whose metadata names an
  ``mlflow: artifact_path``, the saved file as an artifact.

The store is local by default (``data/10_tracking/``: a SQLite database and an
artifact folder, git-ignored); ``MLFLOW_TRACKING_URI`` points a run at a
team's server instead.
"""

from __future__ import annotations

import logging
import math
import os
import shlex
import subprocess
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl
from omegaconf import OmegaConf

logger = logging.getLogger(__name__)

#: The local store, from the project folder (git-ignored).
STORE = Path("data") / "10_tracking"
#: MLflow's limits: characters of a parameter value, entries per log_batch.
MAX_PARAM_LENGTH = 6000
BATCH = 100
#: The tag a trial's child run gets when it is its study's best.
BEST_TRIAL_TAG = "best_trial"


def tracking_uri(project: Path) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the project's SQLite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or (
        f"sqlite:///{(Path(project) / STORE / 'mlflow.db').as_posix()}"
    )


def artifact_location(project: Path) -> str | None:
    """The local artifact folder, or None with a server (it decides)."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    return (Path(project) / STORE / "artifacts").as_posix()


def register_store_resolvers(project: Path) -> None:
    """``${tracking:uri}`` and ``${tracking:artifacts}`` for mlflow.yml."""
    project = Path(project)

    def resolve(key: str) -> str | None:
        if key == "uri":
            return tracking_uri(project)
        if key == "artifacts":
            return artifact_location(project)
        raise ValueError(f"${{tracking:{key}}}: use uri or artifacts")

    OmegaConf.register_resolver("tracking", resolve, replace=True)


def plain(value: Any) -> Any:
    """Parameters as plain dicts and lists: Kedro 1.7 gives the groups that
    typed nodes take as pydantic models (``model_dump``)."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def flat_parameters(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"ncf": {"training_options": {"batch_size": 1}}}`` as
    ``{"ncf.training_options.batch_size": "1"}``; lists stay whole, values
    past MLflow's length limit are cut."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flat_parameters(value, f"{name}."))
        else:
            flat[name] = str(value)[:MAX_PARAM_LENGTH]
    return flat


def metric_name(name: str) -> str:
    """MLflow's key for a metric: ``precision@5`` as ``precision_at_5``."""
    return name.replace("@", "_at_")


def _numbers(values: Mapping[str, Any]) -> Iterator[tuple[str, float]]:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            yield metric_name(key), float(value)


def model_metrics(model: str, metrics: Mapping[str, Any]) -> dict[str, float]:
    """``<model>.<protocol>.<metric>`` for one model's metrics JSON."""
    return {
        f"{model}.{protocol}.{key}": value
        for protocol, values in metrics.get("protocols", {}).items()
        for key, value in _numbers(values)
    }


def seed_metrics(model: str, runs: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """``<model>.seed_<seed>.<protocol>.<metric>`` for the extra-seed runs."""
    return {
        key: value
        for run in runs
        for key, value in model_metrics(f"{model}.seed_{run['seed']}", run).items()
    }


def history_steps(
    model: str, record: Mapping[str, Any]
) -> list[tuple[str, float, int]]:
    """``(<model>.<key>, value, epoch)`` of a training history, epochs from 1:
    loss, val_loss and the other Keras metrics, and rows_per_second."""
    series = dict(record.get("history", {}))
    if record.get("rows_per_second"):
        series["rows_per_second"] = record["rows_per_second"]
    return [
        (f"{model}.{metric_name(key)}", float(value), epoch)
        for key, values in series.items()
        for epoch, value in enumerate(values, start=1)
        if isinstance(value, int | float) and math.isfinite(value)
    ]


def trial_records(trials: Any) -> list[dict[str, Any]]:
    """Each row of a study's trials table (Optuna's ``trials_dataframe``) as
    ``{"number", "state", "value", "params", "attrs"}``; ``best`` marks the
    highest-valued complete trial (the studies maximise)."""
    records = []
    for row in trials.to_dict(orient="records"):
        value = row.get("value")
        finite = isinstance(value, int | float) and math.isfinite(value)
        records.append(
            {
                "number": int(row["number"]),
                "state": str(row.get("state")),
                "value": float(value) if finite else None,
                "duration": row.get("duration"),
                "params": {
                    key.removeprefix("params_"): row[key]
                    for key in row
                    if key.startswith("params_")
                },
                "attrs": {
                    key.removeprefix("user_attrs_"): row[key]
                    for key in row
                    if key.startswith("user_attrs_")
                },
                "best": False,
            }
        )
    complete = [
        r for r in records if r["state"] == "COMPLETE" and r["value"] is not None
    ]
    if complete:
        max(complete, key=lambda r: r["value"])["best"] = True
    return records


def uses_kedro_mlflow_datasets(conf_catalog: Mapping[str, Any]) -> bool:
    """Whether a catalog entry (or dataset factory) is one of kedro-mlflow's."""
    return any(
        isinstance(entry, Mapping) and "Mlflow" in str(entry.get("type", ""))
        for entry in conf_catalog.values()
    )


def run_name(pipelines: Iterable[str] | None, env: str) -> str:
    """``__default__ · local``, ``tuning · notebook``, ``data_engineering+ncf · local``."""
    return f"{'+'.join(pipelines or ['__default__'])} · {env}"


def _git(project: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout.strip()


def git_commit(project: Path) -> str | None:
    """The checkout's commit, ``-dirty`` when files differ from it; None
    outside git."""
    try:
        commit = _git(project, "rev-parse", "HEAD")
        status = _git(project, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if status else commit


def settings_of(params: Mapping[str, Any]) -> str:
    """``ncf: notebook`` for the models whose parameters name their settings
    (``<model>.settings``), ``default`` when none does."""
    named = [
        f"{group}: {value['settings']}"
        for group, value in params.items()
        if isinstance(value, Mapping) and value.get("settings")
    ]
    return ", ".join(named) or "default"


def run_tags(
    *,
    save_version: str,
    env: str,
    params: Mapping[str, Any],
    project: Path,
    argv: Iterable[str],
) -> dict[str, str]:
    tags = {
        "kedro_save_version": save_version,
        "kedro_env": env,
        "variant": str(params.get("variant", "")),
        "settings": settings_of(params),
        "command_line": shlex.join(
            [Path(next(iter(argv), "kedro")).name, *list(argv)[1:]]
        ),
    }
    commit = git_commit(project)
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


#: What MLflow says, once per process, when kedro-mlflow's pipeline model class
#: is defined (this project logs no pipeline models).
PREDICT_HINTS_WARNING = "Add type hints to the `predict` method"


def _mlflow_hook_class() -> type:
    """kedro-mlflow's hook class, imported without MLflow's warning about its
    pipeline model: MLflow raises it under a filter of its own (``once``), so
    a warnings filter cannot drop it, only the display."""
    # MLflow's own INFO lines (the store's tables on a first run) in its own
    # format: quiet unless asked for (MLFLOW_LOGGING_LEVEL=INFO).
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    with warnings.catch_warnings():  # restores showwarning on exit
        show = warnings.showwarning

        def shown_unless_predict_hints(message: Warning | str, *args: Any) -> None:
            if PREDICT_HINTS_WARNING not in str(message):
                show(message, *args)

        warnings.showwarning = shown_unless_predict_hints
        from kedro_mlflow.framework.hooks.mlflow_hook import (  # noqa: PLC0415
            MlflowHook,
        )

    return MlflowHook


class RunTracking(_mlflow_hook_class()):
    """kedro-mlflow's hook, with the study's names, tags and logs (above)."""

    def __init__(self) -> None:
        super().__init__()
        self._project = Path.cwd()
        self._env = "local"
        self._params: Mapping[str, Any] = {}
        self._save_version = ""
        self._catalog: Any = None

    # -- kedro-mlflow's hooks, wrapped ---------------------------------------
    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self._project = Path(context.project_path)
        self._env = context.env or "local"
        register_store_resolvers(self._project)
        # mlflow.set_tracking_uri (kedro-mlflow calls it here) also exports
        # MLFLOW_TRACKING_URI; left so, the next session in this process would
        # take this project's store for the user's server.
        before = os.environ.get("MLFLOW_TRACKING_URI")
        try:
            super().after_context_created(context)
        finally:
            if before is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                os.environ["MLFLOW_TRACKING_URI"] = before

    @hook_impl
    def after_catalog_created(
        self,
        catalog: Any,
        conf_catalog: dict[str, Any],
        conf_creds: dict[str, Any],
        parameters: dict[str, Any],
        save_version: str,
        load_versions: dict[str, str],
    ) -> None:
        self._save_version = save_version
        self._catalog = catalog
        # The parameters this run's catalog holds (reading context.params
        # instead would load and validate them all once more).
        self._params = plain(parameters.get("parameters", {}))
        # kedro-mlflow names its metric datasets here, and to find them it
        # builds every dataset of the catalog; this catalog has none of them
        # (the study logs its metrics from this hook), so a run builds only
        # the datasets it uses unless an entry is one of kedro-mlflow's.
        if uses_kedro_mlflow_datasets(conf_catalog):
            super().after_catalog_created(
                catalog,
                conf_catalog,
                conf_creds,
                parameters,
                save_version,
                load_versions,
            )

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Any, catalog: Any
    ) -> None:
        run = self.mlflow_config.tracking.run
        if run.name is None:
            run.name = run_name(run_params.get("pipeline_names"), self._env)
        super().before_pipeline_run(run_params, pipeline, catalog)
        self._catalog = catalog
        if not self._is_mlflow_enabled or self.run_id is None:
            return
        try:
            self._log_run_start()
        except Exception:
            # Kedro calls on_pipeline_error only for the runner's errors.
            import mlflow  # noqa: PLC0415

            mlflow.end_run("FAILED")
            self.run_id = None
            raise
        logger.info(
            "MLflow run %s (%s) in %s",
            self.run_id,
            run.name,
            self.mlflow_config.server.mlflow_tracking_uri,
        )

    def _log_run_start(self) -> None:
        """The run's tags and its parameters, flattened."""
        from mlflow.entities import Param, RunTag  # noqa: PLC0415

        tags = run_tags(
            save_version=self._save_version,
            env=self._env,
            params=self._params,
            project=self._project,
            argv=sys.argv,
        )
        params = flat_parameters(self._params)
        client = self._client
        items = [Param(key, value) for key, value in params.items()]
        for start in range(0, len(items), BATCH):
            client.log_batch(self.run_id, params=items[start : start + BATCH])
        client.log_batch(
            self.run_id, tags=[RunTag(key, value) for key, value in tags.items()]
        )

    @hook_impl
    def before_node_run(
        self, node: Any, catalog: Any, inputs: dict[str, Any], is_async: bool
    ) -> None:
        # The parameters went in whole when the run started.
        inputs = {
            key: value
            for key, value in inputs.items()
            if not key.startswith("params:") and key != "parameters"
        }
        super().before_node_run(node, catalog, inputs, is_async)

    # settings.HOOKS are one instance per process: a session, or a runner used
    # without one, after this run must not reopen it (kedro-mlflow reopens
    # ``run_id`` before every node).
    @hook_impl
    def after_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Any, catalog: Any
    ) -> None:
        try:
            super().after_pipeline_run(run_params, pipeline, catalog)
        finally:
            self.run_id = None

    @hook_impl
    def on_pipeline_error(
        self, error: Exception, run_params: dict[str, Any], pipeline: Any, catalog: Any
    ) -> None:
        try:
            super().on_pipeline_error(error, run_params, pipeline, catalog)
        finally:
            self.run_id = None

    # -- what the study logs ------------------------------------------------------
    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        if not self._is_mlflow_enabled or self.run_id is None:
            return
        self._log_values(dataset_name, data)
        path = self._artifact_path(dataset_name)
        if path is not None:
            self._log_artifact(dataset_name, path)

    @property
    def _client(self) -> Any:
        return self.mlflow_config.server._mlflow_client

    def _log_values(self, name: str, data: Any) -> None:
        from mlflow.entities import Metric  # noqa: PLC0415

        now = int(time.time() * 1000)
        if name.endswith("_seed_metrics") and isinstance(data, list):
            values = seed_metrics(name.removesuffix("_seed_metrics"), data)
            steps = [(key, value, 0) for key, value in values.items()]
        elif name.endswith("_metrics") and isinstance(data, Mapping):
            values = model_metrics(name.removesuffix("_metrics"), data)
            steps = [(key, value, 0) for key, value in values.items()]
        elif name.endswith("_training_history") and isinstance(data, Mapping):
            steps = history_steps(name.removesuffix("_training_history"), data)
        elif name.endswith("_trials") and hasattr(data, "to_dict"):
            self._log_trials(name.removesuffix("_trials"), data)
            return
        else:
            return
        metrics = [Metric(key, value, now, step) for key, value, step in steps]
        for start in range(0, len(metrics), BATCH):
            self._client.log_batch(self.run_id, metrics=metrics[start : start + BATCH])

    def _log_trials(self, model: str, trials: Any) -> None:
        """Each trial a child run of this run: its parameters, its validation
        value (the study's metric), its state; the best tagged."""
        from mlflow.entities import Metric, Param, RunTag  # noqa: PLC0415
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID  # noqa: PLC0415

        study = self._params.get("tuning", {}).get("study", {})
        objective = f"validation.{study.get('metric', 'value')}_at_{study.get('k', '')}"
        experiment = self.mlflow_config.tracking.experiment._experiment.experiment_id
        now = int(time.time() * 1000)
        for record in trial_records(trials):
            tags = {
                MLFLOW_PARENT_RUN_ID: self.run_id,
                "model": model,
                "trial": str(record["number"]),
                "state": record["state"],
                "kedro_save_version": self._save_version,
            }
            if record["best"]:
                tags[BEST_TRIAL_TAG] = "true"
            child = self._client.create_run(
                experiment,
                run_name=f"{model} trial {record['number']}",
                tags=tags,
            )
            metrics = []
            if record["value"] is not None:
                metrics.append(Metric(objective, record["value"], now, 0))
            duration = record["duration"]
            if isinstance(duration, int | float) and math.isfinite(duration):
                metrics.append(Metric("duration_seconds", float(duration), now, 0))
            self._client.log_batch(
                child.info.run_id,
                metrics=metrics,
                params=[
                    Param(key, str(value)[:MAX_PARAM_LENGTH])
                    for key, value in record["params"].items()
                ],
                tags=[
                    RunTag(f"user_attr.{key}", str(value)[:MAX_PARAM_LENGTH])
                    for key, value in record["attrs"].items()
                ],
            )
            status = "FINISHED" if record["state"] == "COMPLETE" else "KILLED"
            if record["state"] == "FAIL":
                status = "FAILED"
            self._client.set_terminated(child.info.run_id, status)

    def _artifact_path(self, name: str) -> str | None:
        metadata = getattr(self._dataset(name), "metadata", None) or {}
        mlflow_meta = metadata.get("mlflow") or {}
        return mlflow_meta.get("artifact_path")

    def _dataset(self, name: str) -> Any:
        if self._catalog is None:
            return None
        try:
            return self._catalog.get(name)
        except Exception:  # a dataset we cannot see is not logged
            return None

    def _log_artifact(self, name: str, artifact_path: str) -> None:
        dataset = self._dataset(name)
        local = saved_file(dataset, self._save_version)
        if local is None or not local.exists():
            logger.warning("MLflow: %s has no file to log as an artifact", name)
            return
        self._client.log_artifact(self.run_id, str(local), artifact_path)


def saved_file(dataset: Any, save_version: str) -> Path | None:
    """The local file a (versioned) file dataset has just saved."""
    if dataset is None or not hasattr(dataset, "_filepath"):
        return None
    if getattr(dataset, "_version", None) is not None:
        return Path(str(dataset._get_versioned_path(save_version)))
    return Path(str(dataset._filepath))
