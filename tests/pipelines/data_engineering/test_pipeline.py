"""The data engineering pipeline run by Kedro's ``SequentialRunner`` on an
in-memory catalog: synthetic raw files in, the project's parameters validated
by Kedro's own ``ParameterValidator`` as a run does, and its outputs checked
against the raw ratings."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro.validation import ParameterValidator, TypeExtractor

from ncf_movielens.movielens.movies import MoviesError
from ncf_movielens.parameters import (
    BinarizeOptions,
    ParseOptions,
    ReshapeOptions,
    SplitOptions,
)
from ncf_movielens.pipelines.data_engineering import create_pipeline
from ncf_movielens.synthetic import make_raw_files
from tests.support import project_params

N_USERS, N_ITEMS = 40, 70
TYPED = {
    "parse_options": ParseOptions,
    "split_options": SplitOptions,
    "binarize_options": BinarizeOptions,
    "reshape_options": ReshapeOptions,
}


@pytest.fixture(scope="module")
def raw() -> dict[str, bytes]:
    return make_raw_files(n_users=N_USERS, n_items=N_ITEMS, n_ratings=900, seed=5)


def catalog_for(raw: dict[str, bytes], env: str, **params: Any) -> DataCatalog:
    """The raw files, the parameters of a run in ``env`` with ``params`` given as
    ``--params``, and an empty dataset for each the pipeline writes."""
    pipeline = create_pipeline()
    values = ParameterValidator({"data_engineering": pipeline}).validate_raw_params(
        project_params(env, **params)
    )
    return DataCatalog(
        {
            "movielens_raw": MemoryDataset(raw),
            **{
                name: MemoryDataset(values[name.removeprefix("params:")])
                for name in pipeline.inputs()
                if name.startswith("params:")
            },
            **{name: MemoryDataset() for name in pipeline.all_outputs()},
        }
    )


def run(raw: dict[str, bytes], env: str) -> dict[str, Any]:
    """The pipeline's outputs with the parameters of a run in ``env``."""
    catalog = catalog_for(raw, env)
    SequentialRunner().run(create_pipeline(), catalog)
    return {name: catalog.load(name) for name in create_pipeline().outputs()}


def saved(catalog: DataCatalog) -> set[str]:
    return {name for name in create_pipeline().all_outputs() if catalog.exists(name)}


def pairs(users: np.ndarray, items: np.ndarray) -> set[tuple[int, int]]:
    return set(zip(users.tolist(), items.tolist(), strict=True))


def test_the_pipeline_wires_its_nodes_to_typed_parameters():
    pipeline = create_pipeline()
    assert {node.name for node in pipeline.nodes} == {
        "parse_ratings",
        "parse_movies",
        "split_ratings",
        "binarize_ratings",
        "reshape_to_long",
    }
    assert pipeline.inputs() == {
        "movielens_raw",
        "params:variant",
        *(f"params:{key}" for key in TYPED),
    }
    assert pipeline.outputs() == {"movies", "test_matrix", "model_input_table"}
    # Every rated item must have a movie row, so parse_movies reads the ratings.
    (parse_movies,) = pipeline.only_nodes("parse_movies").nodes
    assert parse_movies.inputs == ["movielens_raw", "ratings", "params:variant"]
    # Kedro validates and converts these groups before the nodes see them.
    extractor = TypeExtractor({"data_engineering": pipeline})
    assert extractor.extract_types_from_pipelines() == TYPED


@pytest.mark.parametrize(
    ("env", "mode"), [("base", "positives"), ("notebook", "all_pairs")]
)
def test_raw_files_become_a_disjoint_split_and_the_long_table(raw, env, mode):
    params = project_params(env)
    assert params["reshape_options"]["mode"] == mode
    outputs = run(raw, env)
    ratings = pd.read_csv(
        io.BytesIO(raw["u.data"]),
        sep="\t",
        names=["user_id", "item_id", "rating", "timestamp"],
    )
    liked = ratings[ratings["rating"] >= params["binarize_options"]["min_rating"]]

    test_matrix = outputs["test_matrix"]
    assert test_matrix.shape == (N_USERS, N_ITEMS)
    assert test_matrix.nnz > 0 and set(test_matrix.data) == {1}
    assert test_matrix.sum(axis=1).max() <= params["split_options"]["test_size"]

    table = outputs["model_input_table"]
    positives = table[table["interaction"] == 1]
    train = pairs(positives["user_id"].to_numpy(), positives["item_id"].to_numpy())
    test = pairs(*test_matrix.nonzero())
    assert not train & test
    assert train | test == pairs(
        liked["user_id"].to_numpy() - 1, liked["item_id"].to_numpy() - 1
    )
    assert len(table) == (N_USERS * N_ITEMS if mode == "all_pairs" else len(train))
    assert table[["user_id", "item_id"]].equals(
        table[["user_id", "item_id"]].sort_values(["user_id", "item_id"])
    )

    movies = outputs["movies"]
    assert movies["item_id"].tolist() == list(range(1, N_ITEMS + 1))
    assert (movies["genres"] != "").all()  # every synthetic movie has a genre


def test_rated_items_without_a_movie_row_stop_the_run_before_the_split(raw):
    lines = raw["u.item"].splitlines(keepends=True)
    catalog = catalog_for({**raw, "u.item": b"".join(lines[:-5])}, "base")
    with pytest.raises(
        MoviesError,
        match=r"^u\.item: 5 item id\(s\) rated in u\.data have no row.*"
        r"item_id 66, 67, 68, 69, 70$",
    ):
        SequentialRunner().run(create_pipeline(), catalog)
    assert saved(catalog) == {"ratings"}


def test_a_split_that_empties_train_is_refused_before_anything_is_saved(raw):
    catalog = catalog_for(raw, "base", split_options={"test_size": 1000})
    with pytest.raises(
        ValueError,
        match=r"^split_options\.test_size = 1000 with split_options\.strategy 'ua' "
        rf"leaves {N_USERS} of {N_USERS} users with no train rating",
    ):
        SequentialRunner().run(create_pipeline(), catalog)
    assert saved(catalog) == {"ratings", "movies"}
