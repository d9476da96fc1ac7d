"""Reporting's nodes: the comparison (JSON, table, Markdown) with mean and std
over seeds, its terminal text, and the figure."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from ncf_movielens.comparison import comparison_text
from ncf_movielens.pipelines.reporting.nodes import compare_models, plot_comparison
from tests.support import run_metrics

RUN = {"save_version": "2026-12-02T10.00.00.000Z", "env": "local"}


def test_compare_single_runs_has_no_std_columns():
    comparison, table, markdown = compare_models(
        run_metrics("A", 0.3), run_metrics("B", 0.1), []
    )
    assert table.columns.tolist() == [
        "model",
        "runs",
        "notebook/precision@5",
        "standard/precision@5",
    ]
    assert table["model"].tolist() == ["A", "B"]
    assert table["runs"].tolist() == [1, 1]
    assert table["standard/precision@5"].tolist() == pytest.approx([0.3, 0.1])
    assert comparison["protocols"] == {
        "notebook": "notebook: d",
        "standard": "standard: d",
    }
    assert comparison["models"]["B"]["notebook/precision@5"] == {
        "mean": pytest.approx(0.05),
        "std": 0.0,
        "runs": 1,
    }
    assert "## Protocol `notebook`" in markdown and "## Protocol `standard`" in markdown
    assert "| A | 1 | 0.3000 |" in markdown


def test_compare_reports_mean_and_std_over_seeds():
    runs = [
        run_metrics("A", 0.2),
        [run_metrics("A", 0.4, seed=43), run_metrics("A", 0.3, seed=44)],
        run_metrics("B", 0.1),
    ]
    comparison, table, markdown = compare_models(*runs)
    a = comparison["models"]["A"]["standard/precision@5"]
    assert a == {
        "mean": pytest.approx(0.3),
        "std": pytest.approx(np.std([0.2, 0.4, 0.3], ddof=1)),
        "runs": 3,
    }
    rows = table.set_index("model")
    assert rows["runs"].to_dict() == {"A": 3, "B": 1}
    assert rows.loc["A", "standard/precision@5 std"] == pytest.approx(a["std"])
    assert rows.loc["B", "standard/precision@5 std"] == 0.0
    # One table per protocol; runs > 1 show mean ± std.
    assert "| A | 3 | 0.1500 ± 0.0500 |" in markdown
    assert "| A | 3 | 0.3000 ± 0.1000 |" in markdown
    assert "| B | 1 | 0.1000 |" in markdown


def test_plot_has_curves_and_training_panels():
    history = {"history": {"loss": [0.5, 0.3], "val_loss": [0.6, 0.4]}}
    figure = plot_comparison(RUN, history, run_metrics("A", 0.3), run_metrics("B", 0.1))
    assert isinstance(figure, Figure)
    precision, recall, training = figure.axes
    for axis in (precision, recall):
        assert [line.get_label() for line in axis.get_lines()] == ["A", "B"]
    assert precision.get_lines()[0].get_ydata().tolist() == [0.3, 0.3]
    assert [line.get_label() for line in training.get_lines()] == ["loss", "val_loss"]
    assert training.get_lines()[1].get_ydata().tolist() == [0.6, 0.4]


def test_comparison_text_has_one_block_per_protocol():
    _, table, _ = compare_models(run_metrics("A", 0.3), run_metrics("B", 0.1))
    text = comparison_text(table)
    assert text.startswith("Model comparison\nProtocol 'notebook'\n")
    assert "Protocol 'standard'" in text
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("model"))
    assert header.split()[1:] == ["A", "B"]
    # Rows name the metric without repeating the protocol, after the runs.
    assert lines[lines.index(header) + 1].split() == ["runs", "(seeds)", "1", "1"]
    assert not any(line.startswith(("notebook/", "standard/")) for line in lines)
    _, table, _ = compare_models(
        [run_metrics("A", 0.2), run_metrics("A", 0.4)], run_metrics("B", 0.1)
    )
    text = comparison_text(table)
    assert "0.3000 ± 0.1414" in text
    runs = next(line for line in text.splitlines() if line.startswith("runs"))
    assert runs.split()[2:] == ["2", "1"]


def test_plot_ticks_are_whole_numbers():
    history = {"history": {"loss": [0.5, 0.3, 0.2], "val_loss": [0.6, 0.4, 0.3]}}
    figure = plot_comparison(RUN, history, run_metrics("A", 0.3))
    figure.canvas.draw()
    for axis in figure.axes:
        ticks = [
            t
            for t in axis.get_xticks()
            if axis.get_xlim()[0] <= t <= axis.get_xlim()[1]
        ]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_the_figure_is_titled_with_its_run():
    """The save version that names the run's outputs, and its environment."""
    history = {"history": {"loss": [0.5], "val_loss": [0.6]}}
    run = {"save_version": "2026-12-02T10.00.00.000Z", "env": "notebook"}
    figure = plot_comparison(run, history, run_metrics("A", 0.3))
    assert figure.get_suptitle() == "Run 2026-12-02T10.00.00.000Z · env notebook"
