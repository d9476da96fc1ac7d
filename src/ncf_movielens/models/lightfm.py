"""LightFM (Kula, 2015; WARP loss by default) on the binary train matrix, as
in the notebook, wrapped so that it scores users like every model of the study."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from lightfm import LightFM

from ncf_movielens.parameters import LightFMModelOptions, LightFMTrainingOptions

logger = logging.getLogger(__name__)


@dataclass
class LightFMRecommender:
    """A fitted ``lightfm.LightFM`` without side features."""

    model: LightFM

    def score_users(self, users: np.ndarray, n_items: int) -> np.ndarray:
        """The sum ``LightFM.predict`` computes, as one matrix product per
        batch: shape ``(len(users), n_items)``, float32."""
        user_bias, user_embedding = self.model.get_user_representations()
        item_bias, item_embedding = self.model.get_item_representations()
        scores = user_embedding[users] @ item_embedding[:n_items].T
        scores += user_bias[users, None] + item_bias[None, :n_items]
        return scores.astype(np.float32, copy=False)


def fit_lightfm(
    train_matrix: sp.csr_matrix,
    model_options: LightFMModelOptions,
    training_options: LightFMTrainingOptions,
    epoch_end: Callable[[int, LightFMRecommender], bool] | None = None,
) -> LightFMRecommender:
    """Fit LightFM on the users x items interactions (no side features).

    ``epoch_end``, if given, runs after every epoch with (epochs done, the
    model so far) and stops the fit when it returns True."""
    model = LightFM(
        no_components=model_options.no_components,
        loss=model_options.loss,
        learning_rate=model_options.learning_rate,
        item_alpha=model_options.item_alpha,
        user_alpha=model_options.user_alpha,
        random_state=training_options.seed,
    )
    logger.info(
        "Training LightFM (%s, %d components) for %d epochs on %d interactions",
        model_options.loss,
        model_options.no_components,
        training_options.epochs,
        train_matrix.nnz,
    )
    interactions = sp.coo_matrix(train_matrix, dtype="float32")
    if epoch_end is None:
        model.fit(
            interactions,
            epochs=training_options.epochs,
            num_threads=training_options.num_threads,
        )
        return LightFMRecommender(model)
    # fit() is a reset and then fit_partial() over every epoch: the same
    # epochs, one call at a time.
    model._reset_state()
    recommender = LightFMRecommender(model)
    for epoch in range(1, training_options.epochs + 1):
        model.fit_partial(
            interactions, epochs=1, num_threads=training_options.num_threads
        )
        if epoch_end(epoch, recommender):
            break
    return recommender
