"""LightFM (``ncf_movielens.models.lightfm``): the wrapper scores as
``LightFM.predict`` does, follows its seed, and reloads from a pickle."""

from __future__ import annotations

from typing import Any

import numpy as np
from kedro_datasets.pickle import PickleDataset

from ncf_movielens.models.lightfm import LightFMRecommender, fit_lightfm
from ncf_movielens.parameter_errors import validate_parameters
from ncf_movielens.parameters import LightFMParameters
from tests.support import project_params


def lightfm_params(**training: Any) -> LightFMParameters:
    """The YAML's LightFM options, 5 epochs and ``training`` changes."""
    changes = {"training_options": {"epochs": 5, **training}}
    return validate_parameters(project_params(lightfm=changes)).lightfm


def fit(train_matrix, **training: Any) -> LightFMRecommender:
    params = lightfm_params(**training)
    return fit_lightfm(train_matrix, params.model_options, params.training_options)


def test_scores_are_lightfm_predict(train_matrix):
    model = fit(train_matrix)
    n_users, n_items = train_matrix.shape
    scores = model.score_users(np.arange(n_users), n_items)
    users = np.repeat(np.arange(n_users), n_items).astype(np.int32)
    items = np.tile(np.arange(n_items), n_users).astype(np.int32)
    assert scores.dtype == np.float32
    np.testing.assert_allclose(
        scores,
        model.model.predict(users, items).reshape(n_users, n_items),
        rtol=1e-5,
        atol=1e-5,
    )


def test_the_seed_decides_the_model(train_matrix):
    users = np.arange(train_matrix.shape[0])
    n_items = train_matrix.shape[1]
    first = fit(train_matrix, seed=3).score_users(users, n_items)
    np.testing.assert_array_equal(
        fit(train_matrix, seed=3).score_users(users, n_items), first
    )
    assert not np.allclose(fit(train_matrix, seed=4).score_users(users, n_items), first)


def test_pickled_model_reloads_with_the_same_scores(train_matrix, tmp_path):
    model = fit(train_matrix)
    dataset = PickleDataset(filepath=str(tmp_path / "lightfm.pkl"))
    dataset.save(model)
    reloaded = dataset.load()
    assert type(reloaded) is LightFMRecommender
    users = np.arange(train_matrix.shape[0])
    np.testing.assert_array_equal(
        reloaded.score_users(users, train_matrix.shape[1]),
        model.score_users(users, train_matrix.shape[1]),
    )
