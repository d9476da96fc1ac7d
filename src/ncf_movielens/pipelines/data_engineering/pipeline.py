"""Raw MovieLens files -> ratings -> train/test split -> sparse matrices -> long
table for NCF."""

from kedro.pipeline import Pipeline, node

from .nodes import (
    binarize_ratings,
    matrix_to_long,
    parse_movies,
    parse_ratings,
    split_ratings,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                parse_ratings,
                inputs=["movielens_raw", "params:parse_options", "params:variant"],
                outputs="ratings",
                name="parse_ratings",
            ),
            node(
                parse_movies,
                # The ratings too: every rated item needs a movie row (a title).
                inputs=["movielens_raw", "ratings", "params:variant"],
                outputs="movies",
                name="parse_movies",
            ),
            node(
                split_ratings,
                inputs=["ratings", "params:split_options"],
                outputs=["train_ratings", "test_ratings"],
                name="split_ratings",
            ),
            node(
                binarize_ratings,
                inputs=["train_ratings", "test_ratings", "params:binarize_options"],
                outputs=["train_matrix", "test_matrix"],
                name="binarize_ratings",
            ),
            node(
                matrix_to_long,
                inputs=["train_matrix", "params:reshape_options"],
                outputs="model_input_table",
                name="reshape_to_long",
            ),
        ],
        tags=["data"],
    )
