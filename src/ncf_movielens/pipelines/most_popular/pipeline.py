"""Fit the most-popular baseline on the train matrix (namespace ``most_popular``)."""

from kedro.pipeline import Pipeline, node

from .nodes import fit_most_popular


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                fit_most_popular,
                inputs="train_matrix",
                outputs="model",
                name="train_model",
            )
        ],
        namespace="most_popular",
        inputs={"train_matrix"},
        tags=["most_popular", "training"],
    )
