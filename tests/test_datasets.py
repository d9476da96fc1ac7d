"""The project's own datasets: versioned sparse matrices and their kedro-viz
preview."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import scipy.sparse as sp
from kedro.io.core import DatasetError, Version

from ncf_movielens.datasets import SparseMatrixDataset, matrix_summary


@pytest.fixture
def matrix() -> sp.csr_matrix:
    return sp.random(
        300, 500, density=0.05, format="csr", random_state=0, dtype=np.float32
    )


def test_versions_round_trip_and_never_overwrite(tmp_path, matrix):
    path = str(tmp_path / "m.npz")
    first = SparseMatrixDataset(
        filepath=path, version=Version(None, "2026-01-01T00.00.00.000Z")
    )
    first.save(matrix)
    second = SparseMatrixDataset(
        filepath=path, version=Version(None, "2026-01-02T00.00.00.000Z")
    )
    second.save(matrix * 2)
    latest = SparseMatrixDataset(filepath=path, version=Version(None, None)).load()
    older = SparseMatrixDataset(
        filepath=path, version=Version("2026-01-01T00.00.00.000Z", None)
    ).load()
    assert sp.isspmatrix_csr(latest)
    assert (latest != matrix * 2).nnz == 0 and (older != matrix).nnz == 0
    with pytest.raises(DatasetError, match="must not exist"):
        first.save(matrix)


def test_only_sparse_matrices_are_saved(tmp_path):
    with pytest.raises(DatasetError, match="scipy sparse"):
        SparseMatrixDataset(filepath=str(tmp_path / "m.npz")).save(np.eye(3))


def test_preview_is_a_png_titled_with_the_summary(tmp_path, matrix):
    dataset = SparseMatrixDataset(filepath=str(tmp_path / "m.npz"))
    dataset.save(matrix)
    png = base64.b64decode(dataset.preview())
    assert png.startswith(b"\x89PNG")
    assert matrix_summary(matrix) == {
        "shape": [300, 500],
        "nnz": matrix.nnz,
        "density": pytest.approx(matrix.nnz / 150_000),
        "dtype": "float32",
    }
