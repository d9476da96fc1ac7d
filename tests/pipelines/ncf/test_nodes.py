"""NCF's nodes: the extra seeds are seed + 1, seed + 2, ..., each model trained
exactly as the main one with its own seed."""

from __future__ import annotations

import numpy as np

from ncf_movielens.pipelines.data_engineering.nodes import matrix_to_long
from ncf_movielens.pipelines.ncf.nodes import (
    seed_options,
    train_model,
    train_other_seeds,
)
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
        seed_options(params.ncf.training_options, 43),
    )
    users = np.arange(train.shape[0])
    np.testing.assert_allclose(
        others[43].score_users(users, train.shape[1]),
        direct.score_users(users, train.shape[1]),
        atol=1e-6,
    )


def test_extra_seeds_log_beside_the_main_run(matrices, tmp_path):
    """The main run logs to the folder given (the hook names it by the save
    version); each extra seed to ``<folder>-seed<N>``, never into it."""
    train, _ = matrices
    main = tmp_path / "2026-12-02T10.00.00.000Z"
    params = ncf_params(epochs=1, tensorboard_log_dir=str(main))
    options = params.ncf.training_options
    assert seed_options(options, 43) == options.model_copy(
        update={"seed": 43, "tensorboard_log_dir": f"{main}-seed43"}
    )
    unlogged = options.model_copy(update={"tensorboard_log_dir": None})
    assert seed_options(unlogged, 44).tensorboard_log_dir is None
    table = matrix_to_long(train, params.reshape_options)
    train_other_seeds(table, train, params.ncf.model_options, options, seeds=3)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        f"{main.name}-seed43",
        f"{main.name}-seed44",
    ]
