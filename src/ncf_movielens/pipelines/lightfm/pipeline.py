"""Train LightFM on the train matrix (namespace ``lightfm``)."""

from kedro.pipeline import Pipeline, node

from .nodes import train_lightfm


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                train_lightfm,
                inputs=[
                    "train_matrix",
                    "params:model_options",
                    "params:training_options",
                ],
                outputs="model",
                name="train_model",
            )
        ],
        namespace="lightfm",
        inputs={"train_matrix"},
        tags=["lightfm", "training"],
    )
