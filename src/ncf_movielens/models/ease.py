"""EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019):
an item-item weight matrix with a closed-form solution,

    G = X^T X + lambda I,  P = G^-1,  B = -P / diag(P) (column-wise),  diag(B) = 0,

and a user's scores are their train row times B."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ncf_movielens.parameters import EASEModelOptions

logger = logging.getLogger(__name__)


@dataclass
class EASE:
    """The item-item weights ``B`` (items x items, float32, zero diagonal) and the
    train matrix whose rows the scores are computed from."""

    weights: np.ndarray
    train_matrix: sp.csr_matrix

    def score_users(self, users: np.ndarray, n_items: int) -> np.ndarray:
        """``X[users] @ B``, shape ``(len(users), n_items)``, float32."""
        rows = self.train_matrix[users].astype(np.float32)
        return np.asarray(rows @ self.weights[:, :n_items], dtype=np.float32)


def fit_ease(train_matrix: sp.csr_matrix, model_options: EASEModelOptions) -> EASE:
    """Solve EASE in closed form on the binary users x items train matrix."""
    n_items = train_matrix.shape[1]
    max_items = model_options.max_items
    if n_items > max_items:
        raise ValueError(
            f"EASE builds a dense {n_items} x {n_items} Gram matrix "
            f"(~{n_items**2 * 8 / 1e9:.1f} GB in float64), but the train matrix has "
            f"{n_items} items, more than ease.model_options.max_items = {max_items}. "
            "Raise ease.model_options.max_items if the memory is there."
        )
    l2 = model_options.l2
    start = time.perf_counter()
    X = sp.csr_matrix(train_matrix, dtype=np.float64)  # int8 X^T X would overflow
    gram = (X.T @ X).toarray()
    gram[np.diag_indices(n_items)] += l2
    inverse = np.linalg.inv(gram)
    weights = inverse / -np.diag(inverse)  # column j divided by -P[j, j]
    weights[np.diag_indices(n_items)] = 0.0
    elapsed = time.perf_counter() - start
    logger.info(
        "Fitted EASE (lambda %g) on %d interactions, %d items in %.2f s",
        l2,
        train_matrix.nnz,
        n_items,
        elapsed,
    )
    return EASE(
        weights=weights.astype(np.float32),
        train_matrix=sp.csr_matrix(train_matrix),
    )
