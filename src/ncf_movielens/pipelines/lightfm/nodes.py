"""LightFM's nodes: fit LightFM (``ncf_movielens.models.lightfm``) with the main
seed and with each extra seed."""

from __future__ import annotations

import scipy.sparse as sp

from ncf_movielens.models.lightfm import LightFMRecommender, fit_lightfm
from ncf_movielens.parameters import LightFMModelOptions, LightFMTrainingOptions
from ncf_movielens.study import extra_seeds


def train_model(
    train_matrix: sp.csr_matrix,
    model_options: LightFMModelOptions,
    training_options: LightFMTrainingOptions,
) -> LightFMRecommender:
    """LightFM fitted with ``training_options.seed``."""
    return fit_lightfm(train_matrix, model_options, training_options)


def train_other_seeds(
    train_matrix: sp.csr_matrix,
    model_options: LightFMModelOptions,
    training_options: LightFMTrainingOptions,
    seeds: int,
) -> dict[int, LightFMRecommender]:
    """LightFM fitted once per extra seed, by seed (none when ``seeds`` is 1)."""
    return {
        seed: fit_lightfm(
            train_matrix,
            model_options,
            training_options.model_copy(update={"seed": seed}),
        )
        for seed in extra_seeds(training_options.seed, seeds)
    }
