"""The same evaluation template for every model, each under the model's own
namespace; extra seeds for the stochastic models; then one comparison and one
figure across models."""

from kedro.pipeline import Pipeline, node

from .nodes import (
    compare_models,
    evaluate_lightfm_seeds,
    evaluate_model,
    evaluate_ncf_seeds,
    plot_comparison,
)

#: Models the study compares; each has a ``<name>.model`` catalog entry and
#: ``<name>.evaluation`` parameters, and its metrics land in ``<name>_metrics``.
MODELS = ("ncf", "lightfm", "most_popular", "ease")
#: Stochastic models rerun with ``seeds - 1`` extra seeds: (node function,
#: the data it trains on).
STOCHASTIC = {
    "ncf": (evaluate_ncf_seeds, ["model_input_table", "train_matrix", "test_matrix"]),
    "lightfm": (evaluate_lightfm_seeds, ["train_matrix", "test_matrix"]),
}


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


def _per_model(name: str) -> Pipeline:
    return Pipeline(
        evaluation_template(),
        namespace=name,
        inputs={"train_matrix", "test_matrix"},
        # Un-dotted so that the comparison node (outside every namespace)
        # can read them without Kedro's namespacing warning.
        outputs={"metrics": f"{name}_metrics"},
        parameters={"params:evaluation_options"},
        tags=[name],
    )


def _other_seeds(name: str) -> Pipeline:
    function, data = STOCHASTIC[name]
    template = Pipeline(
        [
            node(
                function,
                inputs=[
                    *data,
                    "params:model_options",
                    "params:training_options",
                    "params:evaluation_options",
                    "params:evaluation",
                    "params:seeds",
                ],
                outputs="seed_metrics",
                name="evaluate_other_seeds",
            )
        ]
    )
    return Pipeline(
        template,
        namespace=name,
        inputs=set(data),
        outputs={"seed_metrics": f"{name}_seed_metrics"},
        parameters={"params:evaluation_options", "params:seeds"},
        tags=[name, "training"],
    )


def create_pipeline(**kwargs) -> Pipeline:
    reports = Pipeline(
        [
            node(
                compare_models,
                inputs=[f"{name}_metrics" for name in MODELS]
                + [f"{name}_seed_metrics" for name in STOCHASTIC],
                outputs=[
                    "model_comparison",
                    "model_comparison_table",
                    "model_comparison_markdown",
                ],
                name="compare_models",
            ),
            node(
                plot_comparison,
                inputs=["ncf_training_history"]
                + [f"{name}_metrics" for name in MODELS],
                outputs="model_comparison_plot",
                name="plot_comparison",
            ),
        ],
        tags=["reporting"],
    )
    return Pipeline(
        [
            *(_per_model(name) for name in MODELS),
            *(_other_seeds(name) for name in STOCHASTIC),
            reports,
        ],
        tags=["evaluation"],
    )
