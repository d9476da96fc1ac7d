"""Fit EASE on the train matrix (namespace ``ease``)."""

from kedro.pipeline import Pipeline, node

from .nodes import fit_ease


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                fit_ease,
                inputs=["train_matrix", "params:model_options"],
                outputs="model",
                name="train_model",
            )
        ],
        namespace="ease",
        inputs={"train_matrix"},
        tags=["ease", "training"],
    )
