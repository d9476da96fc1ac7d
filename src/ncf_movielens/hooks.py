"""Project hooks: checks that run around the pipeline rather than inside nodes."""

from __future__ import annotations

import logging
from typing import Any

from kedro.config import MissingConfigException
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node

from ncf_movielens.comparison import comparison_text
from ncf_movielens.models.checks import check_finite_history
from ncf_movielens.parameter_errors import parameter_sources, validate_parameters


class ParameterChecks:
    """Refuses unknown keys, wrong types, impossible values and combinations
    that span groups as soon as the context exists, before any node runs, with
    a message naming the file (or ``--params``) that set each refused value.
    Kedro then converts each node's typed ``params:`` input itself."""

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
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
        validate_parameters(params, sources)


class TrainingChecks:
    """Refuses a training history with a NaN or infinite loss before the node's
    outputs (the model among them) are saved."""

    @hook_impl
    def after_node_run(self, node: Node, outputs: dict[str, Any]) -> None:
        for name, data in outputs.items():
            if name.endswith("training_history") and isinstance(data, dict):
                check_finite_history(node.namespace or node.name, data)


class ComparisonReport:
    """Prints the model comparison as the run's last lines, after Kedro's own
    closing messages, whenever the run produced it."""

    @hook_impl
    def after_pipeline_run(self, pipeline: Pipeline, catalog: DataCatalog) -> None:
        if "model_comparison_table" in pipeline.all_outputs():
            table = catalog.load("model_comparison_table")
            logging.getLogger("ncf_movielens").info(comparison_text(table))
