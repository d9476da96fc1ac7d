"""The project's own datasets: versioned sparse matrices and their kedro-viz
preview, and model files that are refused, by path, when damaged."""

from __future__ import annotations

import base64
import zipfile
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from kedro.io.core import DatasetError, Version

from ncf_movielens.datasets import (
    KerasModelDataset,
    PickleModelDataset,
    RoundedCSVDataset,
    SparseMatrixDataset,
    matrix_summary,
)


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


# --- Model files: a damaged one is refused with its versioned path --------------


SAVE = Version(None, "2026-01-01T00.00.00.000Z")


def saved_keras_model(tmp_path: Path) -> Path:
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    KerasModelDataset(filepath=str(tmp_path / "m.keras"), version=SAVE).save(model)
    (path,) = tmp_path.glob("m.keras/*/m.keras")
    return path


def load_latest(dataset_class: type, path: Path) -> object:
    return dataset_class(
        filepath=str(path.parent.parent), version=Version(None, None)
    ).load()


def test_a_whole_keras_model_loads(tmp_path):
    path = saved_keras_model(tmp_path)
    assert load_latest(KerasModelDataset, path).count_params() == 3


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.999])
def test_a_truncated_keras_model_is_refused_with_its_path(tmp_path, keep):
    path = saved_keras_model(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(DatasetError, match="damaged or truncated") as error:
        load_latest(KerasModelDataset, path)
    assert str(path) in str(error.value)


def test_a_keras_model_with_a_damaged_member_is_refused(tmp_path):
    path = saved_keras_model(tmp_path)
    with zipfile.ZipFile(path) as archive:
        member = archive.getinfo("model.weights.h5")
    # Stored, not compressed; its bytes follow a 30-byte header and its name.
    start = member.header_offset + 30 + len(member.filename)
    data = bytearray(path.read_bytes())
    data[start + member.file_size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="model.weights.h5 fails its CRC check"):
        load_latest(KerasModelDataset, path)


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.999])
def test_a_truncated_pickle_is_refused_with_its_path(tmp_path, keep):
    PickleModelDataset(filepath=str(tmp_path / "m.pkl"), version=SAVE).save(
        {"weights": np.arange(1000.0)}
    )
    (path,) = tmp_path.glob("m.pkl/*/m.pkl")
    assert load_latest(PickleModelDataset, path)["weights"].sum() == 499_500
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(DatasetError, match="damaged or truncated") as error:
        load_latest(PickleModelDataset, path)
    assert str(path) in str(error.value)


def test_the_comparison_preview_rounds_floats_and_the_file_keeps_them(tmp_path):
    path = tmp_path / "table.csv"
    dataset = RoundedCSVDataset(filepath=str(path), save_args={"index": False})
    dataset.save(pd.DataFrame({"model": ["A"], "runs": [1], "p@5": [0.123456789]}))
    preview = dataset.preview(nrows=5)
    assert preview["columns"] == ["model", "runs", "p@5"]
    assert preview["data"] == [["A", 1, 0.1235]]
    assert "0.123456789" in path.read_text()
