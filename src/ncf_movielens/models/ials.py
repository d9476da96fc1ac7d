"""iALS: implicit-feedback ALS (Hu, Koren and Volinsky, "Collaborative Filtering
for Implicit Feedback Datasets", ICDM 2008) from the ``implicit`` package, on the
binary train matrix, wrapped so that it scores users like every model of the
study.

It minimises, over user factors ``x_u`` and item factors ``y_i``,

    sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + regularization (|X|^2 + |Y|^2),

with ``p_ui`` 1 for an interaction and 0 elsewhere. ``implicit`` (0.7) takes the
confidence of an interaction straight from the matrix times ``alpha``,
``c_ui = alpha * r_ui`` (``implicit.cpu.als.AlternatingLeastSquares.fit``), and
gives every other pair ``c_ui = 1``. On the binary matrix an interaction weighs
``alpha``: the paper's ``1 + alpha * r_ui`` is implicit's ``alpha`` set to
``1 + alpha``, and ``alpha`` 1 weighs interactions as much as missing pairs."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import threadpoolctl
from implicit.cpu.als import AlternatingLeastSquares

from ncf_movielens.parameters import IALSModelOptions, IALSTrainingOptions

logger = logging.getLogger(__name__)


@dataclass
class IALSRecommender:
    """The factors of a fitted ``implicit`` ALS model (float32), without the model
    itself, so that a pickle loads without ``implicit``'s classes."""

    user_factors: np.ndarray
    item_factors: np.ndarray

    def score_users(self, users: np.ndarray, n_items: int) -> np.ndarray:
        """The dot products ``implicit`` ranks by, as one matrix product per
        batch: shape ``(len(users), n_items)``, float32."""
        scores = self.user_factors[users] @ self.item_factors[:n_items].T
        return scores.astype(np.float32, copy=False)


def fit_ials(
    train_matrix: sp.csr_matrix,
    model_options: IALSModelOptions,
    training_options: IALSTrainingOptions,
) -> IALSRecommender:
    """Fit implicit's CPU ALS (conjugate-gradient solver) on the users x items
    interactions, seeded by ``training_options.seed``.

    The solver runs on ``num_threads`` threads of its own; BLAS is held to one
    thread meanwhile, as ``implicit`` asks (``implicit.utils.check_blas_config``
    warns otherwise: a BLAS thread pool slows its many small calls down). Each
    user's (item's) solve depends only on the other side's factors, so the factors
    are the same for any ``num_threads``."""
    # BLAS limited before the model is built: its constructor checks the pools.
    with threadpoolctl.threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=model_options.factors,
            regularization=model_options.regularization,
            alpha=model_options.alpha,
            iterations=model_options.iterations,
            calculate_training_loss=False,
            num_threads=training_options.num_threads,
            random_state=training_options.seed,
        )
        start = time.perf_counter()
        model.fit(sp.csr_matrix(train_matrix, dtype=np.float32), show_progress=False)
        elapsed = time.perf_counter() - start
    logger.info(
        "Fitted iALS (%d factors, reg %g, alpha %g, %d iterations) on %d "
        "interactions in %.2f s",
        model_options.factors,
        model_options.regularization,
        model_options.alpha,
        model_options.iterations,
        train_matrix.nnz,
        elapsed,
    )
    return IALSRecommender(
        user_factors=np.array(model.user_factors, dtype=np.float32),
        item_factors=np.array(model.item_factors, dtype=np.float32),
    )
