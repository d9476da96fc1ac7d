"""Fixtures of the model tests: a small binary users x items train matrix."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp


@pytest.fixture(scope="session")
def train_matrix() -> sp.csr_matrix:
    """40 users x 50 items, 15% of the pairs are interactions (int8 ones)."""
    matrix = sp.random(
        40, 50, density=0.15, format="csr", random_state=np.random.default_rng(1)
    )
    matrix.data[:] = 1
    return matrix.astype(np.int8)
