"""iALS's nodes: fit iALS (``ncf_movielens.models.ials``) with the main seed and
with each extra seed."""

from __future__ import annotations

import scipy.sparse as sp

from ncf_movielens.models.ials import IALSRecommender, fit_ials
from ncf_movielens.parameters import IALSModelOptions, IALSTrainingOptions
from ncf_movielens.study import extra_seeds


def train_model(
    train_matrix: sp.csr_matrix,
    model_options: IALSModelOptions,
    training_options: IALSTrainingOptions,
) -> IALSRecommender:
    """iALS fitted with ``training_options.seed``."""
    return fit_ials(train_matrix, model_options, training_options)


def train_other_seeds(
    train_matrix: sp.csr_matrix,
    model_options: IALSModelOptions,
    training_options: IALSTrainingOptions,
    seeds: int,
) -> dict[int, IALSRecommender]:
    """iALS fitted once per extra seed, by seed (none when ``seeds`` is 1)."""
    return {
        seed: fit_ials(
            train_matrix,
            model_options,
            training_options.model_copy(update={"seed": seed}),
        )
        for seed in extra_seeds(training_options.seed, seeds)
    }
