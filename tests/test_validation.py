"""Bad inputs are refused with a message that names the problem: raw ratings at
parse time, parameters before any node runs (through a real KedroSession on a
synthetic project, leaving data/ untouched), and degenerate models."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import yaml
from kedro.config import OmegaConfigLoader
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.pipeline import node

from ncf_movielens.hooks import TrainingChecks
from ncf_movielens.pipelines.data_engineering.nodes import parse_ratings
from ncf_movielens.pipelines.evaluation.nodes import evaluate_model
from ncf_movielens.settings import CONFIG_LOADER_ARGS
from ncf_movielens.validation import (
    DegenerateModelError,
    ParameterError,
    RatingsError,
    check_finite_history,
    validate_parameters,
)

from .test_pipeline_run import PROJECT, _digests, make_project

GOOD_ROWS = ["1\t1\t5\t881250949", "1\t2\t3\t881250950", "2\t1\t1\t881250951"]


def u_data(*extra: str) -> bytes:
    """Three good rows, then ``extra`` rows: the bad one is on line 4."""
    return ("\n".join([*GOOD_ROWS, *extra]) + "\n").encode()


# (u.data bytes, fragments the message must contain). Line numbers are 1-based.
BAD_RATINGS = {
    "too few fields": (u_data("3\t4\t5"), ["u.data", "line 4", "'fields'"]),
    "too many fields": (u_data("3\t4\t5\t6\t7"), ["line 4 (5 fields)", "'fields'"]),
    "non-integer id": (u_data("3\tx\t5\t6"), ["line 4 (item_id 'x')", "'integers'"]),
    "fractional rating": (u_data("3\t4\t3.5\t6"), ["line 4 (rating '3.5')"]),
    "user id 0": (u_data("0\t4\t5\t6"), ["line 4 (user_id 0)", "'positive_ids'"]),
    "negative item id": (u_data("3\t-4\t5\t6"), ["line 4 (item_id -4)"]),
    "rating above scale": (u_data("3\t4\t6\t6"), ["line 4 (rating 6)", "1..5"]),
    "rating 0": (u_data("3\t4\t0\t6"), ["line 4 (rating 0)", "'rating_scale'"]),
    "negative timestamp": (u_data("3\t4\t5\t-6"), ["line 4", "'timestamp'"]),
    "duplicate pair": (
        u_data("1\t2\t4\t881250999"),
        ["user 1, item 2 on lines 2, 4", "'duplicates'", "keep_first"],
    ),
    "empty file": (b"", ["u.data: no rows", "'non_empty'"]),
    "blank lines only": (b"\n\n", ["u.data: no rows", "'non_empty'"]),
}


@pytest.mark.parametrize("case", list(BAD_RATINGS))
def test_bad_ratings_are_refused_at_parse_time(case):
    content, fragments = BAD_RATINGS[case]
    with pytest.raises(RatingsError) as error:
        parse_ratings({"u.data": content})
    for fragment in fragments:
        assert fragment in str(error.value)


def test_many_bad_lines_are_summarised():
    rows = [f"1\t{item}\t9\t881250949" for item in range(1, 21)]
    with pytest.raises(
        RatingsError, match=r"20 row\(s\).*line 5 \(rating 9\) and 15 more"
    ):
        parse_ratings({"u.data": ("\n".join(rows) + "\n").encode()})


@pytest.mark.parametrize(
    ("policy", "kept_rating"), [("keep_first", 3), ("keep_last", 4)]
)
def test_duplicate_policy_keeps_one_rating(policy, kept_rating):
    ratings = parse_ratings(
        {"u.data": u_data("1\t2\t4\t881250999")}, {"duplicates": policy}
    )
    assert len(ratings) == 3
    pair = ratings[(ratings["user_id"] == 1) & (ratings["item_id"] == 2)]
    assert pair["rating"].tolist() == [kept_rating]


def test_good_ratings_parse_as_before(raw_files):
    ratings = parse_ratings(raw_files)
    assert list(ratings.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert (ratings.dtypes == "int64").all()
    assert len(ratings) == raw_files["u.data"].count(b"\n")


# (runtime --params, conf/local/parameters.yml, fragments the message must contain)
BAD_PARAMETERS = {
    "min_rating above the scale": (
        {"binarize_options": {"min_rating": 6.0}},
        None,
        [
            "binarize_options.min_rating: 6.0 is above the rating scale's maximum 5",
            "(from the command line, --params)",
        ],
    ),
    "top_k 0": (
        {"evaluation_options": {"top_k": 0}},
        None,
        ["evaluation_options.top_k = 0", "greater than 0", "command line"],
    ),
    "a negative cut-off": (
        {"evaluation_options": {"ks": [5, -10]}},
        None,
        ["evaluation_options.ks[1] = -10", "(from the command line, --params)"],
    ),
    "validation split 1": (
        {"ncf": {"training_options": {"validation_split": 1.0}}},
        None,
        ["ncf.training_options.validation_split = 1.0", "less than 1"],
    ),
    "validation split 0": (
        {"ncf": {"training_options": {"validation_split": 0.0}}},
        None,
        ["ncf.training_options.validation_split = 0.0", "greater than 0"],
    ),
    "unknown loss": (
        {"lightfm": {"model_options": {"loss": "hinge"}}},
        None,
        ["lightfm.model_options.loss = 'hinge'", "'warp', 'bpr'"],
    ),
    "unknown split strategy": (
        {"split_options": {"strategy": "kfold"}},
        None,
        ["split_options.strategy = 'kfold'", "'ua', 'ub', 'temporal' or 'random'"],
    ),
    "unknown key": (
        {"ncf": {"training_options": {"epoch": 5}}},
        None,
        ["ncf.training_options.epoch = 5: unknown key", "command line"],
    ),
    "wrong type": (
        {"ncf": {"training_options": {"epochs": "ten"}}},
        None,
        ["ncf.training_options.epochs = 'ten'", "valid integer"],
    ),
    "one reg per dense layer": (
        {"ncf": {"model_options": {"reg_layers": [0.01]}}},
        None,
        ["ncf.model_options.reg_layers: has 1 entries but dense_layers has 2"],
    ),
    "unknown activation": (
        {"ncf": {"model_options": {"activation_dense": "relux"}}},
        None,
        ["ncf.model_options.activation_dense = 'relux'", "not a Keras activation"],
    ),
    "unknown duplicates policy": (
        {"parse_options": {"duplicates": "drop"}},
        None,
        ["parse_options.duplicates = 'drop'", "'keep_first'"],
    ),
    "two models with one label": (
        {"ease": {"evaluation": {"label": "Most popular"}}},
        None,
        ["most_popular.evaluation.label: 'Most popular' is also ease.evaluation.label"],
    ),
    "zero seeds": ({"seeds": 0}, None, ["seeds = 0", "greater than 0"]),
    "a dense-cell limit of zero": (
        {"reshape_options": {"max_dense_cells": 0}},
        None,
        ["reshape_options.max_dense_cells = 0", "greater than 0"],
    ),
    "all_pairs training on the positives table": (
        {
            "ncf": {"training_options": {"sampling": "all_pairs"}},
            "reshape_options": {"mode": "positives"},
        },
        None,
        ["ncf.training_options.sampling: is 'all_pairs' but reshape_options.mode"],
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
}


@pytest.mark.parametrize("env", ["base", "seed"])
def test_the_project_parameters_pass_the_schema(env):
    """A key added to conf/ without its schema in validation.py fails here."""
    loader = OmegaConfigLoader(
        str(PROJECT / "conf"),
        base_env="base",
        env=env,
        merge_strategy=CONFIG_LOADER_ARGS["merge_strategy"],
    )
    validate_parameters(loader["parameters"])


@pytest.fixture(scope="module")
def project(tmp_path_factory, raw_files):
    return make_project(tmp_path_factory.mktemp("validation"), raw_files)


@pytest.mark.parametrize("case", list(BAD_PARAMETERS))
def test_bad_parameters_are_refused_before_any_node_runs(case, project, monkeypatch):
    runtime_params, local_params, fragments = BAD_PARAMETERS[case]
    local = project / "conf" / "local" / "parameters.yml"
    if local_params:
        local.write_text(yaml.safe_dump(local_params))
    monkeypatch.chdir(project)
    before = _digests(project / "data")
    try:
        bootstrap_project(project)
        with pytest.raises(ParameterError) as error:
            with KedroSession.create(
                project_path=project, runtime_params=runtime_params
            ) as session:
                session.run()
    finally:
        local.unlink(missing_ok=True)
    message = str(error.value)
    assert message.startswith("Invalid parameters, refused before any node runs")
    for fragment in fragments:
        assert fragment in message
    assert _digests(project / "data") == before  # nothing written, nothing changed


def test_bad_ratings_leave_no_partial_file(tmp_path, raw_files, monkeypatch):
    """A run on a broken u.data stops at parse_ratings: every file it wrote is a
    whole version (parse_movies may run first), and nothing else changes."""
    project = make_project(tmp_path, {**raw_files, "u.data": u_data("3\t4\t9\t6")})
    monkeypatch.chdir(project)
    bootstrap_project(project)
    before = _digests(project / "data")
    with pytest.raises(RatingsError, match=r"line 4 \(rating 9\)"):
        with KedroSession.create(project_path=project) as session:
            session.run()
    after = _digests(project / "data")
    assert {path: after[path] for path in before} == before
    for path in set(after) - set(before):
        assert path.startswith("02_intermediate/movies.parquet/"), path
        pd.read_parquet(project / "data" / path)  # a whole file, not a partial one


def test_nan_loss_is_refused_before_the_model_is_saved():
    history = {"history": {"loss": [0.6, math.nan], "val_loss": [0.6, 0.5]}}
    with pytest.raises(DegenerateModelError, match=r"ncf: loss is nan at epoch 2"):
        check_finite_history("ncf", history)
    check_finite_history("ncf", {"history": {"loss": [0.6, 0.5], "auc": [math.nan]}})

    train = node(
        lambda: None,
        None,
        ["ncf.model", "ncf_training_history"],
        name="train_model",
        namespace="ncf",
    )
    with pytest.raises(DegenerateModelError, match=r"ncf: .*finite training losses"):
        TrainingChecks().after_node_run(
            node=train,
            outputs={"ncf.model": object(), "ncf_training_history": history},
        )


class _Fixed:
    """A model whose scores are given."""

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores

    def score_users(self, users: np.ndarray, n_items: int) -> np.ndarray:
        return self.scores[users]


def test_identical_top_k_for_every_user_is_refused():
    n_users, n_items = 5, 8
    options = {
        "top_k": 3,
        "ks": [3],
        "curve_k": 3,
        "min_score_std": 0.01,
        "batch_size": 2,
    }
    test = sp.csr_matrix(np.eye(n_users, n_items))
    popularity = np.tile(np.arange(n_items, dtype=np.float32), (n_users, 1))
    empty = sp.csr_matrix((n_users, n_items))
    with pytest.raises(
        DegenerateModelError, match=r"NCF: every user gets the same top-3"
    ):
        evaluate_model(_Fixed(popularity), empty, test, options, {"label": "NCF"})

    # The same scores pass once users have seen different popular items ...
    seen = sp.csr_matrix(([1], ([3], [7])), shape=(n_users, n_items))
    evaluate_model(_Fixed(popularity), seen, test, options, {"label": "Most popular"})
    # ... and so do personal scores.
    personal = np.random.default_rng(0).random((n_users, n_items)).astype(np.float32)
    evaluate_model(_Fixed(personal), empty, test, options, {"label": "LightFM"})
