"""LightFM (WARP by default) on the binary train matrix, as in the seed."""

from __future__ import annotations

import logging
from typing import Any

import scipy.sparse as sp
from lightfm import LightFM

logger = logging.getLogger(__name__)


def train_lightfm(
    train_matrix: sp.csr_matrix,
    model_options: dict[str, Any],
    training_options: dict[str, Any],
) -> LightFM:
    """Fit LightFM on the users x items interactions (no side features)."""
    model = LightFM(
        no_components=model_options["no_components"],
        loss=model_options["loss"],
        learning_rate=model_options["learning_rate"],
        random_state=training_options["seed"],
    )
    logger.info(
        "Training LightFM (%s, %d components) for %d epochs on %d interactions",
        model_options["loss"],
        model_options["no_components"],
        training_options["epochs"],
        train_matrix.nnz,
    )
    model.fit(
        sp.coo_matrix(train_matrix, dtype="float32"),
        epochs=training_options["epochs"],
        num_threads=training_options["num_threads"],
    )
    return model
