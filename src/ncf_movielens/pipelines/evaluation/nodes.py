"""Evaluation: score each model in user batches and measure it under both
protocols (``ncf_movielens.metrics``); nothing here trains."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from ncf_movielens.metrics import (
    NOTEBOOK_DESCRIPTION,
    STANDARD_DESCRIPTION,
    evaluate_scores,
)
from ncf_movielens.models import Recommender
from ncf_movielens.models.checks import DegenerateModelError
from ncf_movielens.parameters import EvaluationOptions
from ncf_movielens.scoring import iter_user_batches
from ncf_movielens.study import labelled

logger = logging.getLogger(__name__)


def evaluated_users(n_users: int, max_users: int | None, seed: int = 0) -> np.ndarray:
    """All users, or a fixed random sample of ``max_users`` of them (the same
    for every model) when the catalogue is too large to score everyone."""
    if not max_users or max_users >= n_users:
        return np.arange(n_users)
    return np.sort(
        np.random.default_rng(seed).choice(n_users, max_users, replace=False)
    )


def measure(
    model: Recommender,
    train_matrix: sp.csr_matrix,
    test_matrix: sp.csr_matrix,
    options: EvaluationOptions,
    label: str,
) -> dict[str, Any]:
    """Metrics of one model under the ``notebook`` and ``standard`` protocols.

    Raises ``DegenerateModelError``, naming the model and the check, when the
    scores are not finite, when their standard deviation is below
    ``min_score_std`` (the notebook's sanity check), or when every user gets the
    same top-k items once their train items are removed.
    """
    n_users, n_items = train_matrix.shape
    users = evaluated_users(n_users, options.max_users)
    evaluator = evaluate_scores(
        iter_user_batches(model, users, n_items, options.batch_size),
        train_matrix,
        test_matrix,
        ks=options.ks,
        curve_k=options.curve_k,
        notebook_k=options.top_k,
    )
    summary = evaluator.score_summary()
    if not all(np.isfinite(value) for value in summary.values()):
        raise DegenerateModelError(
            f"{label}: scores contain NaN or infinity ({summary}) (check: finite scores)"
        )
    if summary["std"] < options.min_score_std:
        raise DegenerateModelError(
            f"{label}: predictions have a standard deviation of {summary['std']:.2e}, "
            f"below {options.min_score_std} (the notebook's sanity check)"
        )
    shared = evaluator.shared_top_k()
    if shared is not None:
        raise DegenerateModelError(
            f"{label}: every user gets the same top-{options.top_k} "
            f"items {[item + 1 for item in shared]} (check: top-k lists differ "
            "between users, train items removed)"
        )
    metrics = {
        "model": label,
        "protocols": {
            "notebook": {
                "description": NOTEBOOK_DESCRIPTION,
                **evaluator.notebook_metrics(),
            },
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
        "%s: notebook P@%d %.4f, standard P@%d %.4f",
        label,
        options.top_k,
        metrics["protocols"]["notebook"][f"precision@{options.top_k}"],
        options.top_k,
        metrics["protocols"]["standard"][f"precision@{options.top_k}"],
    )
    return metrics


def evaluate_model_as(label: str) -> Callable[..., dict[str, Any]]:
    """The node that measures the model labelled ``label`` (the study declares
    labels in ``ncf_movielens.study``), with its named ``settings`` if any."""

    def evaluate_model(
        model: Recommender,
        train_matrix: sp.csr_matrix,
        test_matrix: sp.csr_matrix,
        evaluation_options: EvaluationOptions,
        settings: str | None = None,
    ) -> dict[str, Any]:
        """Metrics of the model under the ``notebook`` and ``standard``
        protocols, under its label (``"<label>, <settings> settings"`` with
        named settings)."""
        return measure(
            model,
            train_matrix,
            test_matrix,
            evaluation_options,
            labelled(label, settings),
        )

    return evaluate_model


def evaluate_other_seeds_as(label: str) -> Callable[..., list[dict[str, Any]]]:
    """The node that measures the extra-seed runs of the model labelled
    ``label``, with its named ``settings`` if any."""

    def evaluate_other_seeds(
        other_seed_models: dict[int, Recommender],
        train_matrix: sp.csr_matrix,
        test_matrix: sp.csr_matrix,
        evaluation_options: EvaluationOptions,
        settings: str | None = None,
    ) -> list[dict[str, Any]]:
        """Metrics of each extra-seed model, with its seed (empty when the run
        has one seed), under the main run's label."""
        name = labelled(label, settings)
        results = []
        for seed, model in other_seed_models.items():
            logger.info("%s: evaluating the run with random seed %d", name, seed)
            metrics = measure(
                model, train_matrix, test_matrix, evaluation_options, name
            )
            results.append({**metrics, "seed": seed})
        return results

    return evaluate_other_seeds
