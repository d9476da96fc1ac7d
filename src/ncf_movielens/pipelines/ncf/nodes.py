"""NCF's nodes: train NeuMF (``ncf_movielens.models.neumf``) with the main seed
and with each extra seed. TensorFlow is imported when a node runs, not when the
pipeline is built: commands that train nothing (the recommend pipeline, kedro
viz, a refused run) start without it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import scipy.sparse as sp

from ncf_movielens.models import Recommender
from ncf_movielens.parameters import NCFModelOptions, NCFTrainingOptions
from ncf_movielens.study import extra_seeds


def train_model(
    model_input_table: pd.DataFrame,
    train_matrix: sp.csr_matrix,
    model_options: NCFModelOptions,
    training_options: NCFTrainingOptions,
) -> tuple[Recommender, dict[str, Any]]:
    """NeuMF trained with ``training_options.seed``, and its training history."""
    from ncf_movielens.models.neumf import train_neumf  # noqa: PLC0415 - see above

    return train_neumf(model_input_table, train_matrix, model_options, training_options)


def train_other_seeds(
    model_input_table: pd.DataFrame,
    train_matrix: sp.csr_matrix,
    model_options: NCFModelOptions,
    training_options: NCFTrainingOptions,
    seeds: int,
) -> dict[int, Recommender]:
    """NeuMF trained once per extra seed, by seed (none when ``seeds`` is 1);
    each writes its TensorBoard logs beside the main run's, in
    ``<tensorboard_log_dir>-seed<N>``, never into the main run's folder."""
    from ncf_movielens.models.neumf import train_neumf  # noqa: PLC0415 - see above

    return {
        seed: train_neumf(
            model_input_table,
            train_matrix,
            model_options,
            seed_options(training_options, seed),
        )[0]
        for seed in extra_seeds(training_options.seed, seeds)
    }


def seed_options(options: NCFTrainingOptions, seed: int) -> NCFTrainingOptions:
    """``options`` for the extra-seed run with ``seed``: that seed, and its own
    TensorBoard folder, ``<tensorboard_log_dir>-seed<seed>`` (none without one)."""
    log_dir = options.tensorboard_log_dir
    return options.model_copy(
        update={
            "seed": seed,
            "tensorboard_log_dir": f"{Path(log_dir)}-seed{seed}" if log_dir else None,
        }
    )
