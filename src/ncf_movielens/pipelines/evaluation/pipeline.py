"""The same evaluation template for every model, each under the model's own
namespace, then one comparison across models."""

from kedro.pipeline import Pipeline, node

from .nodes import compare_models, evaluate_model

#: Models the study compares; each has a ``<name>.model`` catalog entry and
#: ``<name>.evaluation`` parameters, and its metrics land in ``<name>_metrics``.
MODELS = ("ncf", "lightfm", "most_popular", "ease")


def evaluation_template() -> Pipeline:
    return Pipeline(
        [
            node(
                evaluate_model,
                inputs=[
                    "model",
                    "train_matrix",
                    "test_matrix",
                    "params:evaluation_options",
                    "params:evaluation",
                ],
                outputs="metrics",
                name="evaluate_model",
            )
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    per_model = [
        Pipeline(
            evaluation_template(),
            namespace=name,
            inputs={"train_matrix", "test_matrix"},
            # Un-dotted so that the comparison node (outside every namespace)
            # can read them without Kedro's namespacing warning.
            outputs={"metrics": f"{name}_metrics"},
            parameters={"params:evaluation_options"},
            tags=[name],
        )
        for name in MODELS
    ]
    comparison = Pipeline(
        [
            node(
                compare_models,
                inputs=[f"{name}_metrics" for name in MODELS],
                outputs=["model_comparison", "model_comparison_table"],
                name="compare_models",
                tags=["reporting"],
            )
        ]
    )
    return Pipeline([*per_model, comparison], tags=["evaluation"])
