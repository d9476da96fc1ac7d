"""NCF's nodes: the extra seeds are seed + 1, seed + 2, ..., each model trained
exactly as the main one with its own seed."""

from __future__ import annotations

import numpy as np

from ncf_movielens.pipelines.data_engineering.nodes import matrix_to_long
from ncf_movielens.pipelines.ncf.nodes import train_model, train_other_seeds
from tests.support import ncf_params


def test_extra_seeds_train_as_the_main_run_with_their_seed(matrices):
    train, _ = matrices
    params = ncf_params(epochs=1)
    table = matrix_to_long(train, params.reshape_options)
    options = params.ncf.model_options, params.ncf.training_options
    assert params.ncf.training_options.seed == 42
    assert train_other_seeds(table, train, *options, seeds=1) == {}
    others = train_other_seeds(table, train, *options, seeds=2)
    assert list(others) == [43]
    direct, _ = train_model(
        table,
        train,
        params.ncf.model_options,
        params.ncf.training_options.model_copy(update={"seed": 43}),
    )
    users = np.arange(train.shape[0])
    np.testing.assert_allclose(
        others[43].score_users(users, train.shape[1]),
        direct.score_users(users, train.shape[1]),
        atol=1e-6,
    )
