"""The comparison across the study's models (JSON, CSV, Markdown) and its
figure, from each model's metrics; the figure's title names the run."""

from kedro.pipeline import Pipeline, node

from ncf_movielens.study import StudyModel

from .nodes import (
    compare_models,
    compare_with_tuning,
    plot_comparison,
    summarise_tuning,
)


def create_pipeline(
    models: tuple[StudyModel, ...], tuned: tuple[str, ...] = (), **kwargs
) -> Pipeline:
    """The comparison of ``models``; with ``tuned`` (the names of the tuned
    base models), also each study's summary."""
    metrics = [f"{model.name}_metrics" for model in models]
    seed_metrics = [
        f"{model.name}_seed_metrics" for model in models if model.stochastic
    ]
    compare: list = [compare_models, metrics + seed_metrics]
    nodes = []
    if tuned:
        nodes.append(
            node(
                summarise_tuning,
                inputs=[f"{name}_best_parameters" for name in tuned],
                outputs="tuning_summary",
                name="summarise_tuning",
            )
        )
        compare = [compare_with_tuning, ["tuning_summary", *metrics, *seed_metrics]]
    return Pipeline(
        [
            *nodes,
            node(
                compare[0],
                inputs=compare[1],
                outputs=[
                    "model_comparison",
                    "model_comparison_table",
                    "model_comparison_markdown",
                ],
                name="compare_models",
            ),
            node(
                plot_comparison,
                # run_info: the run's save version and environment, which the
                # ProjectPaths hook puts in the catalog (no catalog.yml entry).
                inputs=["run_info", "ncf_training_history", *metrics],
                outputs="model_comparison_plot",
                name="plot_comparison",
            ),
        ],
        tags=["reporting"],
    )
