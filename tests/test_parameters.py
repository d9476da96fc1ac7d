"""The parameter schema (``ncf_movielens.parameters``): the project's own YAML
passes it, a bad value is refused with its dotted key and the place that set it
(``ncf_movielens.parameter_errors``), and Kedro's typed-parameter validation
converts each node's options to the schema's classes.

The cases run through Kedro's ``OmegaConfigLoader`` as a run loads them; the
session-level refusal (before any node runs) is in ``test_hooks.py``."""

from __future__ import annotations

import shutil
import tracemalloc
from functools import reduce
from pathlib import Path
from typing import Any

import pytest
import scipy.sparse as sp
import yaml
from kedro.config import OmegaConfigLoader
from kedro.validation import ParameterValidator, TypeExtractor
from kedro.validation.exceptions import ParameterValidationError

from ncf_movielens.models import neumf
from ncf_movielens.parameter_errors import (
    ParameterError,
    check_against_data,
    check_named_settings,
    environment_parameters,
    parameter_sources,
    validate_parameters,
)
from ncf_movielens.parameters import (
    KERAS_ACTIVATIONS,
    SAMPLED_ROW_BYTES,
    NCFTrainingOptions,
    Parameters,
    sampling_memory_bound,
)
from ncf_movielens.pipeline_registry import register_pipelines
from ncf_movielens.settings import CONFIG_LOADER_ARGS
from ncf_movielens.study import MODELS
from tests.support import PROJECT, project_params


@pytest.mark.parametrize("env", ["base", "notebook"])
def test_the_project_parameters_pass_the_schema(env):
    """Every key of conf/base (and conf/notebook on top) is known to the schema, of
    the right type and value: a key added to conf/ without its field fails here."""
    params = validate_parameters(project_params(env))
    assert isinstance(params, Parameters)


def test_the_notebook_environment_changes_only_what_it_sets():
    base, notebook = project_params("base"), project_params("notebook")
    assert notebook["ncf"]["training_options"]["sampling"] == "all_pairs"
    assert notebook["reshape_options"]["mode"] == "all_pairs"
    # Soft merge: a key conf/notebook does not set keeps conf/base's value.
    assert (
        notebook["ncf"]["training_options"]["seed"]
        == base["ncf"]["training_options"]["seed"]
    )
    assert notebook["evaluation_options"] == base["evaluation_options"]


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
    "min_rating below the scale": (
        {"binarize_options": {"min_rating": -1}},
        {},
        [
            "binarize_options.min_rating: -1.0 is below the rating scale's minimum 1",
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
    "a top_k that is not a cut-off": (
        {"evaluation_options": {"top_k": 7}},
        {},
        ["evaluation_options.top_k: 7 is not one of ks [5, 10]", "--params"],
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
    "a search space naming a field the model lacks": (
        {},
        {
            "tuning": {
                "ncf": {
                    "space": {
                        "model_options": {
                            "latent_dims": {
                                "type": "int",
                                "low": 1,
                                "high": 2,
                                "log": False,
                            }
                        }
                    }
                }
            }
        },
        [
            "tuning.ncf.space.model_options.latent_dims",
            "ncf's model_options has no field 'latent_dims'",
            "(in conf/local/parameters.yml)",
        ],
    ),
    "an unknown kind of dimension": (
        {},
        {
            "tuning": {
                "ease": {
                    "space": {
                        "model_options": {
                            "l2": {"type": "uniform", "low": 1, "high": 2}
                        }
                    }
                }
            }
        },
        ["tuning.ease.space.model_options.l2", "uniform", "conf/local/parameters.yml"],
    ),
    "a heartbeat slower than its grace period": (
        {"tuning": {"study": {"heartbeat_interval": 60}}},
        {},
        [
            "tuning.study.grace_period: 30 must be above heartbeat_interval 60",
            "(in conf/base/parameters_tuning.yml)",
        ],
    ),
    "a validation share of 1": (
        {"validation_options": {"share": 1.0}},
        {},
        ["validation_options.share = 1.0", "less than 1", "--params"],
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


def refusal(
    project: Path,
    runtime_params: dict,
    local_params: dict,
    local_file: str = "parameters.yml",
) -> str:
    """The message refusing the parameters of a run in ``local`` with
    ``runtime_params`` as ``--params`` and ``local_params`` in
    conf/local/``local_file``, loaded as the project's settings load them."""
    local = project / "conf" / "local" / local_file
    if local_params:
        local.parent.mkdir(parents=True, exist_ok=True)
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
        for folder in local.relative_to(project / "conf" / "local").parents[:-1]:
            (project / "conf" / "local" / folder).rmdir()
    return str(error.value)


@pytest.mark.parametrize("case", list(BAD_PARAMETERS))
def test_bad_parameters_are_refused_with_key_and_source(case, project):
    runtime_params, local_params, fragments = BAD_PARAMETERS[case]
    message = refusal(project, runtime_params, local_params)
    assert message.startswith("Invalid parameters, refused before any node runs:\n")
    for fragment in fragments:
        assert fragment in message
    assert len(message.splitlines()) == 2  # one line per refused value


@pytest.mark.parametrize(
    "local_file",
    # Kedro's patterns: parameters*, parameters*/** and **/parameters*
    ["parameters/ncf.yml", "parameters/models/ncf.yaml", "models/parameters_ncf.yml"],
)
def test_a_value_from_a_parameters_folder_names_that_file(project, local_file):
    """A file below conf/local holds top-level keys like parameters_ncf.yml,
    and a value it sets is reported from it, not from conf/base."""
    bad = {"ncf": {"training_options": {"epochs": 0}}}
    message = refusal(project, {}, bad, local_file)
    assert message.splitlines()[1] == (
        "  - ncf.training_options.epochs = 0: Input should be greater than 0 "
        f"(in conf/local/{local_file})"
    )


# --- Named settings: an environment that changes a model names its settings -----


def test_every_model_with_named_settings_has_a_settings_key():
    base, notebook = project_params("base"), project_params("notebook")
    for model in MODELS:
        if model.named_settings:
            assert base[model.name]["settings"] is None, model.name
    assert notebook["ncf"]["settings"] == "notebook"
    assert validate_parameters(notebook).ncf.settings == "notebook"


@pytest.mark.parametrize("name", ["Notebook", "1st", "note book", ""])
def test_a_settings_name_is_short_and_lowercase(name):
    with pytest.raises(ParameterError, match=r"ncf\.settings = .*should match"):
        validate_parameters(project_params(ncf={"settings": name}))


def loader_for(project: Path, env: str, **runtime_params: Any) -> OmegaConfigLoader:
    return OmegaConfigLoader(
        str(project / "conf"),
        env=env,
        runtime_params=runtime_params,
        **CONFIG_LOADER_ARGS,
    )


def named_check(project: Path, env: str, **runtime_params: Any) -> None:
    """``check_named_settings`` as the ParameterChecks hook calls it."""
    loader = loader_for(project, env, **runtime_params)
    check_named_settings(
        env,
        environment_parameters(loader, "base"),
        environment_parameters(loader, env),
        run=loader["parameters"],
        source_of=parameter_sources(
            loader.conf_source,
            ["base", env],
            loader.config_patterns["parameters"],
            runtime_params=runtime_params,
            relative_to=project,
        ),
    )


@pytest.fixture
def scratch_env(project):
    """conf/scratch in the copy of conf/, removed after the test."""
    env = project / "conf" / "scratch"
    env.mkdir()
    yield env
    shutil.rmtree(env)


def test_base_alone_is_base(project):
    loader = loader_for(project, "notebook")
    assert environment_parameters(loader, "base") == project_params("base")
    assert environment_parameters(loader, "notebook") == project_params("notebook")


def test_the_notebook_environment_names_its_settings(project):
    named_check(project, "notebook")  # ncf.settings: notebook


def test_an_environment_that_changes_a_model_must_name_its_settings(
    project, scratch_env
):
    (scratch_env / "parameters_ncf.yml").write_text(
        yaml.safe_dump({"ncf": {"training_options": {"epochs": 3, "batch_size": 8}}})
    )
    with pytest.raises(ParameterError) as error:
        named_check(project, "scratch")
    assert str(error.value) == (
        "Environment 'scratch' changes the options of models without naming their "
        "settings, refused before any node runs:\n"
        "  - ncf: ncf.training_options.epochs = 3 instead of base's 20 (in "
        "conf/scratch/parameters_ncf.yml); add `ncf: settings: <name>` (e.g. "
        "`settings: scratch`) to a parameters file in conf/scratch, so that every "
        'output labels the model "NCF (NeuMF), <name> settings"'
    )


def test_every_changed_model_is_named(project, scratch_env):
    (scratch_env / "parameters.yml").write_text(
        yaml.safe_dump(
            {
                "ease": {"model_options": {"l2": 10.0}},
                "ials": {"model_options": {"factors": 8}},
                "lightfm": {"settings": "small"},  # named: accepted
                "seeds": 3,  # not a model's option
            }
        )
    )
    with pytest.raises(ParameterError) as error:
        named_check(project, "scratch")
    lines = str(error.value).splitlines()[1:]
    assert [line.split(" = ")[0] for line in lines] == [
        "  - ials: ials.model_options.factors",
        "  - ease: ease.model_options.l2",
    ]


def test_named_settings_are_accepted_from_the_environment_or_params(
    project, scratch_env
):
    changed = {"training_options": {"epochs": 3}}
    (scratch_env / "parameters.yml").write_text(yaml.safe_dump({"ncf": changed}))
    named_check(project, "scratch", ncf={"settings": "short"})
    (scratch_env / "parameters.yml").write_text(
        yaml.safe_dump({"ncf": {**changed, "settings": "short"}})
    )
    named_check(project, "scratch")


def test_local_params_and_log_folders_need_no_settings(project, scratch_env):
    """conf/local and --params are the user's own overrides (the MLflow run
    records every parameter), and where TensorBoard writes changes no model."""
    ncf = {"ncf": {"training_options": {"epochs": 3}}}
    local = project / "conf" / "local" / "parameters.yml"
    local.write_text(yaml.safe_dump(ncf))
    try:
        named_check(project, "local")
    finally:
        local.unlink()
    named_check(project, "notebook", **ncf)
    (scratch_env / "parameters.yml").write_text(
        yaml.safe_dump({"ncf": {"training_options": {"tensorboard_log_dir": "logs"}}})
    )
    named_check(project, "scratch")


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


# --- The rules that need the train matrix -----------------------------------------

#: ml-100k's train matrix (943 users, 1,682 items) as sizes, roughly
ML_100K = {"n_users": 943, "n_items": 1682, "max_user_positives": 600}


def base_sources():
    patterns = OmegaConfigLoader(str(PROJECT / "conf")).config_patterns["parameters"]
    return parameter_sources(PROJECT / "conf", ["base"], patterns, relative_to=PROJECT)


def data_refusal(params: dict, **sizes: int) -> list[str]:
    """The lines refusing ``params`` for a train matrix of ``sizes``."""
    with pytest.raises(ParameterError) as error:
        check_against_data(
            validate_parameters(params), **sizes, source_of=base_sources()
        )
    first, *lines = str(error.value).splitlines()
    assert first.endswith("items), refused before any training:")
    return lines


def test_the_project_parameters_fit_ml_100k():
    check_against_data(
        validate_parameters(project_params()), **ML_100K, n_positives=80_000
    )


def test_cut_offs_above_the_items_are_refused():
    """A cut-off above the items crashed the evaluation (ks) or reported recall
    0 beyond the last item (curve_k); a user id above the users has no lists."""
    lines = data_refusal(
        project_params(recommend={"user_id": 51}),
        n_users=50,
        n_items=8,
        max_user_positives=3,
        n_positives=100,
    )
    evaluation = "is above the 8 items of the train matrix"
    assert lines == [
        f"  - evaluation_options.ks[1] = 10: {evaluation} "
        "(in conf/base/parameters_evaluation.yml)",
        f"  - evaluation_options.curve_k = 20: {evaluation} "
        "(in conf/base/parameters_evaluation.yml)",
        f"  - recommend.stored_top_k = 10: {evaluation} "
        "(in conf/base/parameters_recommend.yml)",
        "  - recommend.user_id = 51: is above the 50 users of the train matrix "
        "(in conf/base/parameters_recommend.yml)",
    ]


def test_more_negatives_than_a_user_has_unobserved_items_are_refused():
    negatives = {"ncf": {"training_options": {"negatives": 1700}}}
    lines = data_refusal(project_params(**negatives), **ML_100K, n_positives=80_000)
    assert lines == [
        "  - ncf.training_options.negatives = 1700: is above 1,082, the items left "
        "to draw negatives from for the user with the most positives "
        "(1,682 items - 600 positives) (in conf/base/parameters_ncf.yml)"
    ]
    just_fits = {"ncf": {"training_options": {"negatives": 1082}}}
    check_against_data(
        validate_parameters(project_params(**just_fits)), **ML_100K, n_positives=1
    )


def test_negatives_are_not_checked_without_negative_sampling():
    all_pairs = project_params(
        reshape_options={"mode": "all_pairs"},
        ncf={"training_options": {"sampling": "all_pairs", "negatives": 1700}},
    )
    check_against_data(validate_parameters(all_pairs), **ML_100K, n_positives=80_000)


def test_sampled_rows_beyond_memory_are_refused():
    """negatives=1e9 died in NumPy ("Unable to allocate 244. TiB"), naming no
    parameter; the default bound is half of this machine's memory."""
    huge = project_params(ncf={"training_options": {"negatives": 10**9}})
    lines = data_refusal(huge, **ML_100K, n_positives=80_000)
    assert len(lines) == 2  # too many for the items, and for the memory
    assert lines[1].startswith(
        "  - ncf.training_options.negatives = 1000000000: 80,000 positives x "
        "(1 + negatives) = 80,000,000,080,000 sampled rows take about "
        "1,920,000.0 GB (24 bytes a row), above the bound of "
    )
    assert lines[1].endswith(
        f" {sampling_memory_bound() / 1e9:,.1f} GB, half of this machine's memory "
        "(in conf/base/parameters_ncf.yml)"
    )
    # 1,000 positives x (1 + 4) rows of SAMPLED_ROW_BYTES each, at the bound
    params = validate_parameters(project_params())
    at_bound = 1000 * 5 * SAMPLED_ROW_BYTES
    check_against_data(params, **ML_100K, n_positives=1000, memory_bound=at_bound)
    with pytest.raises(ParameterError, match=r"negatives = 4: 1,000 positives"):
        check_against_data(
            params, **ML_100K, n_positives=1000, memory_bound=at_bound - 1
        )


def test_the_row_size_is_what_the_sampler_holds(monkeypatch):
    """SAMPLED_ROW_BYTES is NegativeSampler's peak memory per row, within 10%
    (it also keeps a sorted copy of the positives): the memory rule keeps up
    with a change of the sampler's dtypes."""
    # Large runs check membership in chunks of a few MB: so does this small one.
    monkeypatch.setattr(neumf, "_CHUNK", 1 << 10)
    matrix = sp.random(300, 400, density=0.05, format="csr", random_state=0)
    coo = matrix.tocoo()
    rows = matrix.nnz * (1 + 40)
    tracemalloc.start()
    try:
        neumf.NegativeSampler(coo.row, coo.col, matrix, 40, 256, seed=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert SAMPLED_ROW_BYTES * 0.9 <= peak / rows <= SAMPLED_ROW_BYTES * 1.1


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


def test_the_activation_list_is_keras_own():
    import keras  # noqa: PLC0415

    public = {name for name in dir(keras.activations) if not name.startswith("_")}
    assert KERAS_ACTIVATIONS == public - {"get", "serialize", "deserialize"}
    for name in KERAS_ACTIVATIONS:
        assert callable(keras.activations.get(name))
