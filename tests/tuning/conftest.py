"""Fixtures of the tuning tests: a train matrix with structure to find, its
fit/validation split, and the project's own tuning settings."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from ncf_movielens.parameters import (
    StudyOptions,
    TuningParameters,
    ValidationOptions,
)
from ncf_movielens.tuning.validation import split_validation
from tests.support import project_params


@pytest.fixture(scope="session")
def structured_train() -> sp.csr_matrix:
    """60 users x 40 items in two taste groups (each likes its own half of the
    items, with some noise), int8 ones."""
    rng = np.random.default_rng(7)
    group = np.arange(60) % 2
    likes = rng.random((60, 40)) < np.where(
        (np.arange(40)[None, :] < 20) == (group[:, None] == 0), 0.45, 0.05
    )
    return sp.csr_matrix(likes.astype(np.int8))


@pytest.fixture(scope="session")
def validation_options() -> ValidationOptions:
    return ValidationOptions.model_validate(project_params()["validation_options"])


@pytest.fixture(scope="session")
def split(structured_train, validation_options):
    return split_validation(structured_train, validation_options)


@pytest.fixture(scope="session")
def tuning_params() -> TuningParameters:
    return TuningParameters.model_validate(project_params()["tuning"])


@pytest.fixture
def study_options(tuning_params, tmp_path) -> StudyOptions:
    """The project's study settings, a few trials, in a SQLite file of the test."""
    return tuning_params.study.model_copy(
        update={
            "storage": f"sqlite:///{tmp_path / 'optuna.db'}",
            "n_trials": 4,
            "timeout": None,
        }
    )
