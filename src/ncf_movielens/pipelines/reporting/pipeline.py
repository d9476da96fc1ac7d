"""The comparison across the study's models (JSON, CSV, Markdown) and its
figure, from each model's metrics."""

from kedro.pipeline import Pipeline, node

from ncf_movielens.study import StudyModel

from .nodes import compare_models, plot_comparison


def create_pipeline(models: tuple[StudyModel, ...], **kwargs) -> Pipeline:
    metrics = [f"{model.name}_metrics" for model in models]
    seed_metrics = [
        f"{model.name}_seed_metrics" for model in models if model.stochastic
    ]
    return Pipeline(
        [
            node(
                compare_models,
                inputs=metrics + seed_metrics,
                outputs=[
                    "model_comparison",
                    "model_comparison_table",
                    "model_comparison_markdown",
                ],
                name="compare_models",
            ),
            node(
                plot_comparison,
                inputs=["ncf_training_history", *metrics],
                outputs="model_comparison_plot",
                name="plot_comparison",
            ),
        ],
        tags=["reporting"],
    )
