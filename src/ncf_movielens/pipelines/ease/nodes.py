"""EASE's node: fit EASE (``ncf_movielens.models.ease``) in closed form."""

from __future__ import annotations

import scipy.sparse as sp

from ncf_movielens.models.ease import EASE, fit_ease
from ncf_movielens.parameters import EASEModelOptions


def train_model(train_matrix: sp.csr_matrix, model_options: EASEModelOptions) -> EASE:
    """EASE's item-item weights for the train matrix."""
    return fit_ease(train_matrix, model_options)
