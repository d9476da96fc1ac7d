"""Most popular's node: count each item's train interactions
(``ncf_movielens.models.most_popular``)."""

from __future__ import annotations

import scipy.sparse as sp

from ncf_movielens.models.most_popular import MostPopular, fit_most_popular


def train_model(train_matrix: sp.csr_matrix) -> MostPopular:
    """The train interaction count of every item."""
    return fit_most_popular(train_matrix)
