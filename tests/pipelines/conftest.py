"""Fixtures of the pipeline tests: small train/test matrices, movie titles,
pipelines run by Kedro's ``SequentialRunner`` on an in-memory catalog, and one
fitted model per model of the study."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from kedro.io import AbstractDataset, DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner
from kedro.validation import ParameterValidator

from ncf_movielens.parameters import ReshapeOptions
from ncf_movielens.pipelines.data_engineering.nodes import matrix_to_long
from ncf_movielens.study import MODELS
from tests.support import fast_ncf, project_options, project_params

N_USERS, N_ITEMS, N_TEST = 30, 40, 3


@pytest.fixture(scope="session")
def matrices() -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(train, test), 30 users x 40 items: a quarter of the pairs in train and
    ``N_TEST`` other items per user in test, so every user is evaluated."""
    rng = np.random.default_rng(0)
    seen = rng.random((N_USERS, N_ITEMS)) < 0.25
    held_out = np.zeros_like(seen)
    for user, row in enumerate(seen):
        held_out[user, rng.choice(np.flatnonzero(~row), N_TEST, replace=False)] = True
    return (
        sp.csr_matrix(seen.astype(np.int8)),
        sp.csr_matrix(held_out.astype(np.int8)),
    )


@pytest.fixture(scope="session")
def movies() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": np.arange(1, N_ITEMS + 1),
            "title": [f"T{item}" for item in range(1, N_ITEMS + 1)],
        }
    )


def run_pipeline(
    pipeline: Pipeline, data: Mapping[str, Any], **overrides: Any
) -> dict[str, Any]:
    """Run ``pipeline`` with Kedro's ``SequentialRunner``; returns its outputs,
    loaded, as the nodes returned them.

    The catalog holds ``data`` (values, or datasets such as a
    ``MemoryDataset(model, copy_mode="assign")``) and each ``params:`` input as
    a run passes it: the project's YAML with ``overrides`` as ``--params``,
    converted by Kedro's own ``ParameterValidator`` into the typed objects the
    nodes declare.
    """
    params = ParameterValidator({"pipeline": pipeline}).validate_raw_params(
        project_params(**overrides)
    )
    catalog = DataCatalog(
        {
            **{
                name: MemoryDataset(
                    reduce(
                        lambda group, key: group[key],
                        name.removeprefix("params:").split("."),
                        params,
                    )
                )
                for name in pipeline.inputs()
                if name.startswith("params:")
            },
            # Kept as returned: a Keras model is not copied on every save.
            **{name: MemoryDataset(copy_mode="assign") for name in pipeline.outputs()},
            **{
                name: value
                if isinstance(value, AbstractDataset)
                else MemoryDataset(value)
                for name, value in data.items()
            },
        }
    )
    outputs = SequentialRunner().run(pipeline, catalog)
    return {name: dataset.load() for name, dataset in outputs.items()}


@pytest.fixture(scope="session")
def run() -> Callable[..., dict[str, Any]]:
    """``run_pipeline``: ``run(pipeline, data, **params_overrides)``."""
    return run_pipeline


@pytest.fixture(scope="session")
def fitted_models(matrices) -> dict[str, Any]:
    """Each model of the study fitted on the train matrix by its own training
    pipeline, by name (NCF small and briefly trained)."""
    # Here, not at the top: the registry imports TensorFlow, which the tests that
    # need no model (data_engineering's among them) should not wait for.
    from ncf_movielens.pipeline_registry import register_pipelines  # noqa: PLC0415

    train, _ = matrices
    table = matrix_to_long(train, project_options(ReshapeOptions, "reshape_options"))
    pipelines = register_pipelines()
    models = {}
    for model in MODELS:
        outputs = run_pipeline(
            pipelines[model.name],
            {"train_matrix": train, "model_input_table": table},
            ncf=fast_ncf(epochs=2, learning_rate=0.03),
            # A 30 x 40 matrix's factors shrink to nothing at regularisation
            # 10 (its top singular value is below it): fewer factors, more
            # weight on the interactions.
            ials={"model_options": {"factors": 8, "alpha": 10.0}},
        )
        models[model.name] = outputs[f"{model.name}.model"]
    return models


@pytest.fixture
def model_datasets(fitted_models) -> dict[str, MemoryDataset]:
    """The fitted models as the catalog entries ``<name>.model``."""
    return {
        f"{name}.model": MemoryDataset(model, copy_mode="assign")
        for name, model in fitted_models.items()
    }
