"""Evaluation: score each model in user batches, compute both protocols' metrics,
and put the models side by side."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ncf_movielens.metrics import (
    SEED_DESCRIPTION,
    STANDARD_DESCRIPTION,
    evaluate_scores,
)
from ncf_movielens.scoring import iter_user_batches

logger = logging.getLogger(__name__)


class DegenerateModelError(ValueError):
    """A model's scores cannot be ranked meaningfully."""


def evaluate_model(
    model: Any,
    train_matrix: sp.csr_matrix,
    test_matrix: sp.csr_matrix,
    evaluation_options: dict[str, Any],
    model_evaluation: dict[str, Any],
) -> dict[str, Any]:
    """Metrics of one model under the ``seed`` and ``standard`` protocols.

    Raises ``DegenerateModelError`` when the scores are not finite or their
    standard deviation is below ``min_score_std`` (the seed's sanity check).
    """
    label = model_evaluation["label"]
    n_users, n_items = train_matrix.shape
    evaluator = evaluate_scores(
        iter_user_batches(model, n_users, n_items, evaluation_options["batch_size"]),
        train_matrix,
        test_matrix,
        ks=evaluation_options["ks"],
        curve_k=evaluation_options["curve_k"],
        seed_k=evaluation_options["top_k"],
    )
    summary = evaluator.score_summary()
    if not all(np.isfinite(value) for value in summary.values()):
        raise DegenerateModelError(
            f"{label}: scores contain NaN or infinity ({summary})"
        )
    if summary["std"] < evaluation_options["min_score_std"]:
        raise DegenerateModelError(
            f"{label}: predictions have a standard deviation of {summary['std']:.2e}, "
            f"below {evaluation_options['min_score_std']} (the seed's sanity check)"
        )
    metrics = {
        "model": label,
        "protocols": {
            "seed": {"description": SEED_DESCRIPTION, **evaluator.seed_metrics()},
            "standard": {
                "description": STANDARD_DESCRIPTION,
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


def compare_models(
    *model_metrics: dict[str, Any],
) -> tuple[dict[str, Any], pd.DataFrame]:
    """One row per model, one column per ``protocol/metric``; logs the table."""
    rows = {}
    for metrics in model_metrics:
        row = {}
        for protocol, values in metrics["protocols"].items():
            for name, value in values.items():
                if name not in ("description", "users"):
                    row[f"{protocol}/{name}"] = value
        rows[metrics["model"]] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    protocols = {
        protocol: values["description"]
        for metrics in model_metrics
        for protocol, values in metrics["protocols"].items()
    }
    logger.info(
        "Model comparison (one column per model)\n%s\nProtocols:\n%s",
        table.T.round(4).to_string(),
        "\n".join(f"  {text}" for text in protocols.values()),
    )
    comparison = {
        "protocols": protocols,
        "models": {name: row for name, row in rows.items()},
    }
    return comparison, table.reset_index()
