"""Search spaces from the YAML: suggestions, list choices, refusals, and the
options a trial trains with."""

from __future__ import annotations

import optuna
import pytest
from pydantic import ValidationError

from ncf_movielens.parameters import (
    TUNABLE_OPTIONS,
    NCFModelOptions,
    NCFTrainingOptions,
)
from ncf_movielens.tuning import space as spaces
from ncf_movielens.tuning.objectives import _trial_options
from tests.support import project_params


@pytest.fixture
def ncf_options():
    ncf = project_params()["ncf"]
    return {
        "model_options": NCFModelOptions.model_validate(ncf["model_options"]),
        "training_options": NCFTrainingOptions.model_validate(ncf["training_options"]),
    }


def test_every_model_space_names_real_fields(tuning_params):
    for model, types in TUNABLE_OPTIONS.items():
        tuning = getattr(tuning_params, model)
        fields = {group: kind.model_construct() for group, kind in types.items()}
        spaces.check_space(tuning.space, fields, model)
        assert tuning.space, model


def test_an_unknown_field_is_refused_by_name(tuning_params, ncf_options):
    space = {
        "model_options": {
            "latent_dims": tuning_params.ncf.space["model_options"]["latent_dim_mf"]
        }
    }
    with pytest.raises(
        spaces.SpaceError, match=r"tuning\.ncf\.space\.model_options\.latent_dims"
    ):
        spaces.check_space(space, ncf_options, "ncf")


def test_a_list_choice_is_suggested_as_json_and_comes_back_a_list(tuning_params):
    space = tuning_params.ncf.space
    trial = optuna.trial.FixedTrial(
        {
            "latent_dim_mf": 64,
            "latent_dim_mlp": 8,
            "dense_layers": "[32, 16, 8]",
            "reg_mf": 1e-5,
            "reg_mlp": 1e-6,
            "reg_layers": 1e-4,
            "learning_rate": 3e-3,
            "negatives": 16,
            "batch_size": 8192,
        }
    )
    changes = spaces.suggest(trial, space)
    assert changes["model_options"]["dense_layers"] == [32, 16, 8]
    assert changes["training_options"]["batch_size"] == 8192
    assert spaces.changes_of(trial.params, space) == changes


def test_a_trial_trains_with_fixed_values_and_one_reg_per_layer(
    tuning_params, ncf_options
):
    changes = {"model_options": {"dense_layers": [32, 16, 8], "reg_layers": 1e-4}}
    options = _trial_options("ncf", ncf_options, tuning_params.ncf, changes)
    assert options["model_options"].dense_layers == [32, 16, 8]
    assert options["model_options"].reg_layers == [1e-4] * 3
    fixed = tuning_params.ncf.fixed["training_options"]
    assert options["training_options"].epochs == fixed["epochs"]
    assert options["training_options"].validation_split == 0.0


def test_a_change_that_breaks_the_schema_is_refused(ncf_options):
    with pytest.raises(ValidationError, match="batch_size"):
        spaces.apply(ncf_options, {"training_options": {"batch_size": 0}})


def test_trial_zero_is_the_defaults_where_the_space_holds_them(
    tuning_params, ncf_options
):
    params = spaces.in_space(ncf_options, tuning_params.ncf.space)
    defaults = ncf_options["model_options"]
    assert params["latent_dim_mf"] == defaults.latent_dim_mf
    assert params["dense_layers"] == "[8, 4]"
    assert params["negatives"] == ncf_options["training_options"].negatives
    assert "reg_mf" not in params  # 0.0 is outside the log range: sampled instead
