"""Reporting: the models side by side (JSON, a table, Markdown) and one figure
across models, from the evaluation's metrics."""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ncf_movielens.comparison import format_cell


def _runs(inputs: tuple[dict | list[dict], ...]) -> dict[str, list[dict[str, Any]]]:
    """Metrics per model label, one entry per run (seed); inputs are a model's
    main metrics or lists of its metrics over extra seeds."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for item in inputs:
        for metrics in item if isinstance(item, list) else [item]:
            runs.setdefault(metrics["model"], []).append(metrics)
    return runs


def _flat(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        f"{protocol}/{name}": value
        for protocol, values in metrics["protocols"].items()
        for name, value in values.items()
        if name not in ("description", "users", "users_sampled")
    }


def _markdown(
    summary: dict[str, dict[str, dict[str, float]]], protocols: dict[str, str]
) -> str:
    """One Markdown table per protocol, models as rows, metrics as columns."""
    lines = ["# Model comparison", ""]
    for protocol, description in protocols.items():
        columns = [
            key
            for key in next(iter(summary.values()))
            if key.startswith(f"{protocol}/")
        ]
        lines += [f"## Protocol `{protocol}`", "", description, ""]
        names = [key.split("/", 1)[1] for key in columns]
        lines.append("| model | runs | " + " | ".join(names) + " |")
        lines.append("|---|---|" + "---|" * len(names))
        for model, metrics in summary.items():
            runs = int(metrics[columns[0]]["runs"])
            cells = [
                format_cell(metrics[key]["mean"], metrics[key]["std"], runs)
                for key in columns
            ]
            lines.append(f"| {model} | {runs} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append("Runs > 1 show mean ± standard deviation over seeds.")
    return "\n".join(lines) + "\n"


def compare_models(
    *model_metrics: dict[str, Any] | list[dict[str, Any]],
) -> tuple[dict[str, Any], pd.DataFrame, str]:
    """Put every model side by side, averaging over seeds where a model ran with
    more than one.

    Returns the comparison as JSON-ready data, a table with models as rows and
    ``protocol/metric`` columns (plus ``<column> std`` columns when any model
    has several runs), and the same as Markdown, one table per protocol.
    """
    runs = _runs(model_metrics)
    protocols = {
        protocol: values["description"]
        for metrics_list in runs.values()
        for protocol, values in metrics_list[0]["protocols"].items()
    }
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for model, metrics_list in runs.items():
        rows = pd.DataFrame([_flat(metrics) for metrics in metrics_list])
        summary[model] = {
            key: {
                "mean": float(rows[key].mean()),
                "std": float(rows[key].std(ddof=1)) if len(rows) > 1 else 0.0,
                "runs": len(rows),
            }
            for key in rows.columns
        }
    table = pd.DataFrame(
        {
            model: {key: v["mean"] for key, v in m.items()}
            for model, m in summary.items()
        }
    ).T
    if any(len(metrics_list) > 1 for metrics_list in runs.values()):
        stds = pd.DataFrame(
            {
                model: {f"{k} std": v["std"] for k, v in m.items()}
                for model, m in summary.items()
            }
        ).T
        table = pd.concat([table, stds], axis=1)
    table.insert(0, "runs", [len(runs[model]) for model in table.index])
    table.index.name = "model"
    comparison = {"protocols": protocols, "models": summary}
    return comparison, table.reset_index(), _markdown(summary, protocols)


def summarise_tuning(*best_parameters: dict[str, Any]) -> dict[str, Any]:
    """Each study's objective, best validation score, trials, time and best
    values (the searched ones, and the epochs picked on validation), by
    study name."""
    summary = {}
    for best in best_parameters:
        chosen = dict(best["best_params"])
        if best["best_user_attrs"].get("epochs"):
            chosen["epochs"] = best["best_user_attrs"]["epochs"]
        summary[best["study"]] = {
            "objective": best["objective"],
            "best_value": best["best_value"],
            "best_trial": best["best_trial"],
            "trials": best["trials"],
            "seconds_this_run": best["seconds_this_run"],
            "seconds_all_trials": best["seconds_all_trials"],
            "best": chosen,
        }
    return summary


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def compare_with_tuning(
    tuning_summary: dict[str, Any], *model_metrics: dict[str, Any] | list[dict]
) -> tuple[dict[str, Any], pd.DataFrame, str]:
    """``compare_models``, with each study's best values and budget in the
    JSON and as a last Markdown section."""
    comparison, table, markdown = compare_models(*model_metrics)
    comparison["tuning"] = tuning_summary
    lines = [
        "## Tuning",
        "",
        "Each study chose its values on a validation split carved from train "
        "(never the test set); the tuned rows above are retrained on the whole "
        "train matrix with them.",
        "",
        "| study | validation | best trial | trials | seconds | best values |",
        "|---|---|---|---|---|---|",
    ]
    for study, entry in tuning_summary.items():
        trials = ", ".join(f"{n} {state}" for state, n in entry["trials"].items())
        best = ", ".join(f"{k}={_value(v)}" for k, v in entry["best"].items())
        lines.append(
            f"| {study} | {entry['objective']} {entry['best_value']:.4f} | "
            f"{entry['best_trial']} | {trials} | {entry['seconds_all_trials']:.0f} "
            f"| {best} |"
        )
    return comparison, table, markdown + "\n" + "\n".join(lines) + "\n"


def run_title(run_info: dict[str, Any]) -> str:
    """The run a figure comes from: ``run_info``'s save version (the run's
    timestamp, which names every versioned output it saved) and its
    configuration environment, e.g. "Run 2026-12-02T10.00.00.000Z · env notebook"."""
    version = run_info.get("save_version") or "(unsaved)"
    return f"Run {version} · env {run_info.get('env') or 'local'}"


def plot_comparison(
    run_info: dict[str, Any],
    ncf_training_history: dict[str, Any],
    *model_metrics: dict[str, Any],
) -> Figure:
    """Precision@k and recall@k for k = 1..curve_k (standard protocol), one
    line per model, and NCF's training curves, titled with the run
    (``run_info``: its ``save_version`` and ``env``)."""
    # A bare Figure, not pyplot: no global state, no display backend needed.
    figure = Figure(figsize=(15, 4.5))
    figure.suptitle(run_title(run_info))
    ax_p, ax_r, ax_loss = figure.subplots(1, 3)
    for metrics in model_metrics:
        curves = metrics["curves"]
        ax_p.plot(curves["k"], curves["precision"], marker=".", label=metrics["model"])
        ax_r.plot(curves["k"], curves["recall"], marker=".", label=metrics["model"])
    for axis, name in ((ax_p, "precision@k"), (ax_r, "recall@k")):
        axis.set(xlabel="k", ylabel=name, title=f"{name} (standard protocol)")
        axis.grid(alpha=0.3)
        axis.legend()
    history = ncf_training_history["history"]
    epochs = range(1, len(history["loss"]) + 1)
    ax_loss.plot(epochs, history["loss"], marker="o", label="loss")
    ax_loss.plot(epochs, history["val_loss"], marker="o", label="val_loss")
    ax_loss.set(xlabel="epoch", ylabel="binary cross-entropy", title="NCF training")
    ax_loss.grid(alpha=0.3)
    ax_loss.legend()
    for axis in (ax_p, ax_r, ax_loss):  # k and epochs are counts: no 2.5 ticks
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    return figure
