"""Evaluation: score each model in user batches, compute both protocols' metrics,
and put the models side by side."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from matplotlib.figure import Figure

from ncf_movielens.metrics import (
    SEED_DESCRIPTION,
    STANDARD_DESCRIPTION,
    evaluate_scores,
)
from ncf_movielens.pipelines.lightfm.nodes import train_lightfm
from ncf_movielens.pipelines.ncf.nodes import train_ncf
from ncf_movielens.scoring import iter_user_batches
from ncf_movielens.validation import DegenerateModelError

logger = logging.getLogger(__name__)


def evaluated_users(n_users: int, max_users: int | None, seed: int = 0) -> np.ndarray:
    """All users, or a fixed random sample of ``max_users`` of them (the same
    for every model) when the catalogue is too large to score everyone."""
    if not max_users or max_users >= n_users:
        return np.arange(n_users)
    return np.sort(
        np.random.default_rng(seed).choice(n_users, max_users, replace=False)
    )


def evaluate_model(
    model: Any,
    train_matrix: sp.csr_matrix,
    test_matrix: sp.csr_matrix,
    evaluation_options: dict[str, Any],
    model_evaluation: dict[str, Any],
) -> dict[str, Any]:
    """Metrics of one model under the ``seed`` and ``standard`` protocols.

    Raises ``DegenerateModelError``, naming the model and the check, when the
    scores are not finite, when their standard deviation is below
    ``min_score_std`` (the seed's sanity check), or when every user gets the
    same top-k items once their train items are removed.
    """
    label = model_evaluation["label"]
    n_users, n_items = train_matrix.shape
    users = evaluated_users(n_users, evaluation_options.get("max_users"))
    evaluator = evaluate_scores(
        iter_user_batches(model, users, n_items, evaluation_options["batch_size"]),
        train_matrix,
        test_matrix,
        ks=evaluation_options["ks"],
        curve_k=evaluation_options["curve_k"],
        seed_k=evaluation_options["top_k"],
    )
    summary = evaluator.score_summary()
    if not all(np.isfinite(value) for value in summary.values()):
        raise DegenerateModelError(
            f"{label}: scores contain NaN or infinity ({summary}) (check: finite scores)"
        )
    if summary["std"] < evaluation_options["min_score_std"]:
        raise DegenerateModelError(
            f"{label}: predictions have a standard deviation of {summary['std']:.2e}, "
            f"below {evaluation_options['min_score_std']} (the seed's sanity check)"
        )
    shared = evaluator.shared_top_k()
    if shared is not None:
        raise DegenerateModelError(
            f"{label}: every user gets the same top-{evaluation_options['top_k']} "
            f"items {[item + 1 for item in shared]} (check: top-k lists differ "
            "between users, train items removed)"
        )
    metrics = {
        "model": label,
        "protocols": {
            "seed": {"description": SEED_DESCRIPTION, **evaluator.seed_metrics()},
            "standard": {
                "description": STANDARD_DESCRIPTION,
                "users_sampled": len(users) < n_users,
                "users": evaluator.users_evaluated,
                **evaluator.standard_metrics(),
            },
        },
        "curves": evaluator.curves(),
        "scores": summary,
    }
    logger.info(
        "%s: seed P@%d %.4f, standard P@%d %.4f",
        label,
        evaluation_options["top_k"],
        metrics["protocols"]["seed"][f"precision@{evaluation_options['top_k']}"],
        evaluation_options["top_k"],
        metrics["protocols"]["standard"][f"precision@{evaluation_options['top_k']}"],
    )
    return metrics


def _extra_seeds(seed: int, seeds: int) -> list[int]:
    """The seeds after the main run's: ``seed + 1 .. seed + seeds - 1``."""
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    return [seed + offset for offset in range(1, seeds)]


def _metrics_over_seeds(
    fit: Callable[[int], Any],
    seed: int,
    seeds: int,
    train_matrix: sp.csr_matrix,
    test_matrix: sp.csr_matrix,
    evaluation_options: dict[str, Any],
    evaluation: dict[str, Any],
) -> list[dict[str, Any]]:
    """Metrics of ``fit(seed)`` for each extra seed (none when ``seeds`` is 1)."""
    results = []
    for extra in _extra_seeds(seed, seeds):
        logger.info("%s: extra run with seed %d", evaluation["label"], extra)
        metrics = evaluate_model(
            fit(extra), train_matrix, test_matrix, evaluation_options, evaluation
        )
        results.append({**metrics, "seed": extra})
    return results


def evaluate_ncf_seeds(
    model_input_table: pd.DataFrame,
    train_matrix: sp.csr_matrix,
    test_matrix: sp.csr_matrix,
    model_options: dict[str, Any],
    training_options: dict[str, Any],
    evaluation_options: dict[str, Any],
    evaluation: dict[str, Any],
    seeds: int,
) -> list[dict[str, Any]]:
    """NCF retrained and evaluated with each extra seed (none when ``seeds`` is 1)."""

    def fit(seed: int) -> Any:
        options = {**training_options, "seed": seed}
        return train_ncf(model_input_table, train_matrix, model_options, options)[0]

    return _metrics_over_seeds(
        fit, training_options["seed"], seeds, train_matrix, test_matrix,
        evaluation_options, evaluation,
    )  # fmt: skip


def evaluate_lightfm_seeds(
    train_matrix: sp.csr_matrix,
    test_matrix: sp.csr_matrix,
    model_options: dict[str, Any],
    training_options: dict[str, Any],
    evaluation_options: dict[str, Any],
    evaluation: dict[str, Any],
    seeds: int,
) -> list[dict[str, Any]]:
    """LightFM refitted and evaluated with each extra seed (none when ``seeds`` is 1)."""

    def fit(seed: int) -> Any:
        return train_lightfm(
            train_matrix, model_options, {**training_options, "seed": seed}
        )

    return _metrics_over_seeds(
        fit, training_options["seed"], seeds, train_matrix, test_matrix,
        evaluation_options, evaluation,
    )  # fmt: skip


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


def _cell(mean: float, std: float, runs: int) -> str:
    return f"{mean:.4f} ± {std:.4f}" if runs > 1 else f"{mean:.4f}"


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
                _cell(metrics[key]["mean"], metrics[key]["std"], runs)
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


def comparison_text(table: pd.DataFrame) -> str:
    """The comparison table for a terminal: one block per protocol, one column
    per model (models as rows would be far wider than a terminal), cells as
    ``mean ± std`` where a model ran with several seeds."""
    table = table.set_index("model")
    means = [c for c in table.columns if "/" in c and not c.endswith(" std")]
    cells = pd.DataFrame(index=table.index, columns=means, dtype=object)
    for column in means:
        for model in table.index:
            runs = int(table.loc[model, "runs"])
            std = table[f"{column} std"][model] if runs > 1 else 0.0
            cells.loc[model, column] = _cell(table.loc[model, column], std, runs)
    blocks = []
    for protocol in dict.fromkeys(c.split("/")[0] for c in means):
        view = cells[[c for c in means if c.startswith(f"{protocol}/")]]
        runs = "/".join(str(int(n)) for n in table["runs"])
        blocks.append(
            f"Protocol {protocol!r} (runs per model: {runs})\n" + view.T.to_string()
        )
    return "Model comparison\n" + "\n\n".join(blocks)


def plot_comparison(
    ncf_training_history: dict[str, Any], *model_metrics: dict[str, Any]
) -> Figure:
    """Precision@k and recall@k for k = 1..curve_k (standard protocol), one
    line per model, and NCF's training curves."""
    # A bare Figure, not pyplot: no global state, no display backend needed.
    figure = Figure(figsize=(15, 4.5))
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
    figure.tight_layout()
    return figure
