"""Train NeuMF on the long user x item table (namespace ``ncf``)."""

from kedro.pipeline import Pipeline, node

from .nodes import train_ncf


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                train_ncf,
                inputs=[
                    "model_input_table",
                    "train_matrix",
                    "params:model_options",
                    "params:training_options",
                ],
                outputs=["model", "training_history"],
                name="train_model",
            )
        ],
        namespace="ncf",
        inputs={"model_input_table", "train_matrix"},
        # Un-dotted: the report outside this namespace plots it.
        outputs={"training_history": "ncf_training_history"},
        tags=["ncf", "training"],
    )
