"""Fit the most-popular baseline on the train matrix (namespace ``most_popular``)."""

from kedro.pipeline import Pipeline, node

from ncf_movielens.study import StudyModel

from .nodes import train_model


def create_pipeline(model: StudyModel, **kwargs) -> Pipeline:
    return Pipeline(
        [node(train_model, inputs="train_matrix", outputs="model", name="train_model")],
        namespace=model.name,
        inputs={"train_matrix"},
        tags=[model.name, "training"],
    )
