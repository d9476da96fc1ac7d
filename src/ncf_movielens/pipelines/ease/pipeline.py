"""Fit EASE on the train matrix (namespace ``ease``)."""

from kedro.pipeline import Pipeline, node

from ncf_movielens.study import StudyModel

from .nodes import train_model

#: The option input of the training node: the model's parameters, or (for the
#: tuned model) a dataset of its namespace that a node before it makes.
PARAMETERS = ("params:model_options",)


def create_pipeline(
    model: StudyModel, options: tuple[str, ...] = PARAMETERS, **kwargs
) -> Pipeline:
    return Pipeline(
        [
            node(
                train_model,
                inputs=["train_matrix", *options],
                outputs="model",
                name="train_model",
            )
        ],
        namespace=model.name,
        inputs={"train_matrix"},
        tags=[model.name, "training"],
    )
