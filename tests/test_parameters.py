"""The parameter schema (``ncf_movielens.parameters``): the project's own YAML
passes it, a bad value is refused with its dotted key and the place that set it
(``ncf_movielens.parameter_errors``), and Kedro's typed-parameter validation
converts each node's options to the schema's classes.

The cases run through Kedro's ``OmegaConfigLoader`` as a run loads them; the
session-level refusal (before any node runs) is in ``test_hooks.py``."""

from __future__ import annotations

import shutil
from functools import reduce
from pathlib import Path
from typing import Any

import pytest
import yaml
from kedro.config import OmegaConfigLoader
from kedro.validation import ParameterValidator, TypeExtractor
from kedro.validation.exceptions import ParameterValidationError

from ncf_movielens.parameter_errors import (
    ParameterError,
    parameter_sources,
    validate_parameters,
)
from ncf_movielens.parameters import NCFTrainingOptions, Parameters
from ncf_movielens.pipeline_registry import register_pipelines
from ncf_movielens.settings import CONFIG_LOADER_ARGS
from tests.support import PROJECT, project_params


@pytest.mark.parametrize("env", ["base", "seed"])
def test_the_project_parameters_pass_the_schema(env):
    """Every key of conf/base (and conf/seed on top) is known to the schema, of
    the right type and value: a key added to conf/ without its field fails here."""
    params = validate_parameters(project_params(env))
    assert isinstance(params, Parameters)


def test_the_seed_environment_changes_only_what_it_sets():
    base, seed = project_params("base"), project_params("seed")
    assert seed["ncf"]["training_options"]["sampling"] == "all_pairs"
    assert seed["reshape_options"]["mode"] == "all_pairs"
    # Soft merge: a key conf/seed does not set keeps conf/base's value.
    assert (
        seed["ncf"]["training_options"]["seed"]
        == base["ncf"]["training_options"]["seed"]
    )
    assert seed["evaluation_options"] == base["evaluation_options"]


# (runtime --params, conf/local/parameters.yml, fragments the message must contain)
BAD_PARAMETERS: dict[str, tuple[dict[str, Any], dict[str, Any], list[str]]] = {
    "min_rating above the scale": (
        {"binarize_options": {"min_rating": 6.0}},
        {},
        [
            "binarize_options.min_rating: 6.0 is above the rating scale's maximum 5",
            "(from the command line, --params)",
        ],
    ),
    "a rating scale that is not [min, max]": (
        {"parse_options": {"rating_scale": [5, 1]}},
        {},
        ["parse_options.rating_scale: [5, 1] is not [min, max]", "--params"],
    ),
    "top_k 0": (
        {"evaluation_options": {"top_k": 0}},
        {},
        ["evaluation_options.top_k = 0", "greater than 0", "command line"],
    ),
    "a negative cut-off": (
        {"evaluation_options": {"ks": [5, -10]}},
        {},
        ["evaluation_options.ks[1] = -10", "(from the command line, --params)"],
    ),
    "validation split 1": (
        {"ncf": {"training_options": {"validation_split": 1.0}}},
        {},
        ["ncf.training_options.validation_split = 1.0", "less than 1"],
    ),
    "validation split 0": (
        {"ncf": {"training_options": {"validation_split": 0.0}}},
        {},
        ["ncf.training_options.validation_split = 0.0", "greater than 0"],
    ),
    "unknown sampling": (
        {"ncf": {"training_options": {"sampling": "some"}}},
        {},
        ["ncf.training_options.sampling = 'some'", "'all_pairs' or 'negative'"],
    ),
    "an unknown NCF metric": (
        {"ncf": {"training_options": {"metrics": ["auc", "f1"]}}},
        {},
        ["ncf.training_options.metrics[1] = 'f1'", "'auc'"],
    ),
    "unknown loss": (
        {"lightfm": {"model_options": {"loss": "hinge"}}},
        {},
        ["lightfm.model_options.loss = 'hinge'", "'warp', 'bpr'"],
    ),
    "unknown split strategy": (
        {"split_options": {"strategy": "kfold"}},
        {},
        ["split_options.strategy = 'kfold'", "'ua', 'ub', 'temporal' or 'random'"],
    ),
    "unknown key": (
        {"ncf": {"training_options": {"epoch": 5}}},
        {},
        ["ncf.training_options.epoch = 5: unknown key", "command line"],
    ),
    "wrong type": (
        {"ncf": {"training_options": {"epochs": "ten"}}},
        {},
        ["ncf.training_options.epochs = 'ten'", "valid integer"],
    ),
    "a float for an integer (strict)": (
        {"ncf": {"training_options": {"epochs": 5.0}}},
        {},
        ["ncf.training_options.epochs = 5.0", "valid integer"],
    ),
    "one reg per dense layer": (
        {"ncf": {"model_options": {"reg_layers": [0.01]}}},
        {},
        ["ncf.model_options.reg_layers: has 1 entries but dense_layers has 2"],
    ),
    "unknown activation": (
        {"ncf": {"model_options": {"activation_dense": "relux"}}},
        {},
        ["ncf.model_options.activation_dense = 'relux'", "not a Keras activation"],
    ),
    "unknown duplicates policy": (
        {"parse_options": {"duplicates": "drop"}},
        {},
        ["parse_options.duplicates = 'drop'", "'keep_first'"],
    ),
    "zero seeds": ({"seeds": 0}, {}, ["seeds = 0", "greater than 0"]),
    "a pair limit of zero": (
        {"reshape_options": {"max_pairs": 0}},
        {},
        ["reshape_options.max_pairs = 0", "greater than 0"],
    ),
    "all_pairs training on the positives table": (
        {
            "ncf": {"training_options": {"sampling": "all_pairs"}},
            "reshape_options": {"mode": "positives"},
        },
        {},
        ["ncf.training_options.sampling: is 'all_pairs' but reshape_options.mode"],
    ),
    "showing more than is stored": (
        {"recommend": {"top_k": 20}},
        {},
        ["recommend.top_k: 20 is above stored_top_k 10", "--params"],
    ),
    "an unknown MovieLens variant": (
        {"variant": "ml-3m"},
        {},
        ["variant = 'ml-3m'", "ml-25m", "(from the command line, --params)"],
    ),
    "an unknown loss in the run env's file": (
        {},
        {"lightfm": {"model_options": {"loss": "warpp"}}},
        ["lightfm.model_options.loss", "warpp", "(in conf/local/parameters.yml)"],
    ),
    "a file value, reported with its file": (
        {},
        {"binarize_options": {"min_rating": "3"}},
        [
            "binarize_options.min_rating = '3'",
            "valid number",
            "(in conf/local/parameters.yml)",
        ],
    ),
    "--params wins over the file that it overrides": (
        {"evaluation_options": {"curve_k": 0}},
        {"evaluation_options": {"curve_k": -1}},
        ["evaluation_options.curve_k = 0", "(from the command line, --params)"],
    ),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project's conf/ with an empty conf/local for the cases."""
    root = tmp_path_factory.mktemp("parameters")
    shutil.copytree(
        PROJECT / "conf", root / "conf", ignore=shutil.ignore_patterns("local")
    )
    (root / "conf" / "local").mkdir()
    return root


def refusal(project: Path, runtime_params: dict, local_params: dict) -> str:
    """The message refusing the parameters of a run in ``local`` with
    ``runtime_params`` as ``--params`` and ``local_params`` in
    conf/local/parameters.yml, loaded as the project's settings load them."""
    local = project / "conf" / "local" / "parameters.yml"
    if local_params:
        local.write_text(yaml.safe_dump(local_params))
    try:
        loader = OmegaConfigLoader(
            str(project / "conf"),
            env="local",
            runtime_params=runtime_params,
            **CONFIG_LOADER_ARGS,
        )
        sources = parameter_sources(
            loader.conf_source,
            ["base", "local"],
            loader.config_patterns["parameters"],
            runtime_params=runtime_params,
            relative_to=project,
        )
        with pytest.raises(ParameterError) as error:
            validate_parameters(loader["parameters"], sources)
    finally:
        local.unlink(missing_ok=True)
    return str(error.value)


@pytest.mark.parametrize("case", list(BAD_PARAMETERS))
def test_bad_parameters_are_refused_with_key_and_source(case, project):
    runtime_params, local_params, fragments = BAD_PARAMETERS[case]
    message = refusal(project, runtime_params, local_params)
    assert message.startswith("Invalid parameters, refused before any node runs:\n")
    for fragment in fragments:
        assert fragment in message
    assert len(message.splitlines()) == 2  # one line per refused value


def test_every_refused_value_is_listed():
    with pytest.raises(ParameterError) as error:
        validate_parameters(project_params(seeds=0, evaluation_options={"top_k": 0}))
    lines = str(error.value).splitlines()[1:]
    assert [line.split(" = ")[0] for line in lines] == [
        "  - evaluation_options.top_k",
        "  - seeds",
    ]


def test_a_missing_key_names_the_file_of_its_group():
    params = project_params()
    del params["ncf"]["training_options"]["epochs"]
    patterns = OmegaConfigLoader(str(PROJECT / "conf")).config_patterns["parameters"]
    sources = parameter_sources(
        PROJECT / "conf", ["base"], patterns, relative_to=PROJECT
    )
    with pytest.raises(ParameterError) as error:
        validate_parameters(params, sources)
    assert (
        "  - ncf.training_options.epochs: missing key "
        "(in conf/base/parameters_ncf.yml)" in str(error.value)
    )


# --- Kedro's own typed parameters -------------------------------------------------


def test_kedro_converts_every_nodes_options_to_the_schemas_classes():
    """Kedro passes each typed ``params:`` input as the class its node declares,
    the very class ``Parameters`` checks that group with."""
    pipelines = register_pipelines()
    requirements = TypeExtractor(pipelines).extract_types_from_pipelines()
    assert {
        "parse_options",
        "split_options",
        "binarize_options",
        "reshape_options",
        "evaluation_options",
        "ncf.model_options",
        "ncf.training_options",
        "lightfm.model_options",
        "lightfm.training_options",
        "ease.model_options",
        "recommend",
    } <= set(requirements)
    raw = project_params()
    params = ParameterValidator(pipelines).validate_raw_params(raw)
    schema = validate_parameters(raw)
    assert isinstance(params["ncf"]["training_options"], NCFTrainingOptions)
    for key, expected in requirements.items():
        value = reduce(lambda group, name: group[name], key.split("."), params)
        assert isinstance(value, expected), key
        assert value == reduce(getattr, key.split("."), schema), key


def test_kedro_refuses_a_bad_typed_value():
    validator = ParameterValidator(register_pipelines())
    with pytest.raises(ParameterValidationError, match=r"ncf\.training_options"):
        validator.validate_raw_params(
            project_params(ncf={"training_options": {"epochs": 0}})
        )
