"""The reporting pipeline run by Kedro's runner: every model's metrics (and
extra-seed metrics) in, the comparison in three forms and the figure out."""

from __future__ import annotations

from matplotlib.figure import Figure

from ncf_movielens.pipelines.reporting import create_pipeline
from ncf_movielens.study import MODELS
from tests.support import run_metrics

OUTPUTS = {
    "model_comparison",
    "model_comparison_table",
    "model_comparison_markdown",
    "model_comparison_plot",
}


def test_the_pipeline_compares_every_model_in_the_studys_order(run):
    pipeline = create_pipeline(models=MODELS)
    stochastic = [model.name for model in MODELS if model.stochastic]
    assert pipeline.inputs() == {
        "run_info",  # put in the catalog by the ProjectPaths hook
        "ncf_training_history",
        *(f"{model.name}_metrics" for model in MODELS),
        *(f"{name}_seed_metrics" for name in stochastic),
    }
    assert pipeline.outputs() == OUTPUTS
    data = {
        "run_info": {"save_version": "2026-12-02T10.00.00.000Z", "env": "local"},
        "ncf_training_history": {"history": {"loss": [0.5], "val_loss": [0.6]}},
        **{
            f"{model.name}_metrics": run_metrics(model.label, 0.1 * index)
            for index, model in enumerate(MODELS, start=1)
        },
        **{f"{name}_seed_metrics": [] for name in stochastic},
    }
    lightfm = next(model for model in MODELS if model.name == "lightfm")
    data["lightfm_seed_metrics"] = [
        run_metrics(lightfm.label, 0.5, seed=43),
        run_metrics(lightfm.label, 0.6, seed=44),
    ]
    outputs = run(pipeline, data)
    assert outputs.keys() == OUTPUTS
    table = outputs["model_comparison_table"]
    assert table["model"].tolist() == [model.label for model in MODELS]
    assert dict(zip(table["model"], table["runs"], strict=True)) == {
        model.label: 3 if model is lightfm else 1 for model in MODELS
    }
    assert list(outputs["model_comparison"]["models"]) == table["model"].tolist()
    for model in MODELS:
        assert f"| {model.label} |" in outputs["model_comparison_markdown"]
    figure = outputs["model_comparison_plot"]
    assert isinstance(figure, Figure)
    assert figure.get_suptitle() == "Run 2026-12-02T10.00.00.000Z · env local"
    assert [line.get_label() for line in figure.axes[0].get_lines()] == [
        model.label for model in MODELS
    ]
