"""No node builds a dense users x items array above the cells limit: the default
study runs through a KedroSession with a tiny limit while every dense
allocation that could hold users x items values is watched, and the seed's
all-pairs table is refused with an error that names its parameter."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from ncf_movielens import scoring
from ncf_movielens.pipelines.data_engineering.nodes import matrix_to_long
from ncf_movielens.synthetic import make_raw_files

from .test_pipeline_run import FAST_PARAMS, make_project

N_USERS, N_ITEMS, N_RATINGS = 150, 100, 6000  # 15,000 cells, 40 ratings a user
MAX_CELLS = 2000
#: numpy constructors that could make a users x items array in a node.
ALLOCATORS = (
    "zeros",
    "empty",
    "ones",
    "full",
    "zeros_like",
    "empty_like",
    "ones_like",
    "full_like",
    "tile",
)
SPARSE = (
    sp.csr_matrix,
    sp.csc_matrix,
    sp.coo_matrix,
    sp.lil_matrix,
    sp.dok_matrix,
    sp.csr_array,
    sp.csc_array,
    sp.coo_array,
)


def users_by_items(shape: tuple[int, ...]) -> bool:
    """Whether an array of ``shape`` breaks the limit: a block with an items axis
    above ``MAX_CELLS`` cells, or a flat array as long as the whole users x
    items matrix (the all-pairs table). EASE's items x items Gram matrix is
    allowed (``ease.model_options.max_items`` guards it)."""
    size = int(np.prod(shape))
    if tuple(shape) == (N_ITEMS, N_ITEMS):
        return False
    if len(shape) == 1:
        return size >= N_USERS * N_ITEMS
    return N_ITEMS in shape and size > MAX_CELLS


class Spy:
    """Records the shape of every array the wrapped callables return."""

    def __init__(self) -> None:
        self.shapes: list[tuple[str, tuple[int, ...]]] = []

    def wrap(self, name: str, function):
        @functools.wraps(function)
        def spied(*args, **kwargs):
            out = function(*args, **kwargs)
            if hasattr(out, "shape"):
                self.shapes.append((name, tuple(out.shape)))
            return out

        return spied

    def breaches(self) -> list[tuple[str, tuple[int, ...]]]:
        return [(name, shape) for name, shape in self.shapes if users_by_items(shape)]

    def of(self, name: str) -> list[tuple[int, ...]]:
        return [shape for seen, shape in self.shapes if seen == name]


@pytest.fixture
def spy(monkeypatch) -> Spy:
    spy = Spy()
    for name in ALLOCATORS:
        monkeypatch.setattr(np, name, spy.wrap(f"np.{name}", getattr(np, name)))
    for cls in SPARSE:
        for method in ("toarray", "todense"):
            spied = spy.wrap(f"{cls.__name__}.{method}", getattr(cls, method))
            monkeypatch.setattr(cls, method, spied)
    monkeypatch.setattr(
        scoring, "score_users", spy.wrap("score_users", scoring.score_users)
    )
    monkeypatch.setattr(scoring, "MAX_DENSE_CELLS", MAX_CELLS)
    return spy


@pytest.mark.slow
def test_default_study_stays_below_the_cells_limit(tmp_path, monkeypatch, spy):
    raw = make_raw_files(N_USERS, N_ITEMS, N_RATINGS, seed=0)
    project = make_project(tmp_path, raw)
    monkeypatch.chdir(project)
    bootstrap_project(project)
    with KedroSession.create(
        project_path=project, runtime_params=FAST_PARAMS
    ) as session:
        session.run()

    scored = spy.of("score_users")
    # Every model is scored for evaluation and for recommendations, each in
    # batches of MAX_CELLS // N_ITEMS users instead of evaluation_options' 512.
    assert len(scored) >= 2 * 4 * (N_USERS // (MAX_CELLS // N_ITEMS))
    assert max(rows * items for rows, items in scored) <= MAX_CELLS
    assert {items for _, items in scored} == {N_ITEMS}
    # The spy saw EASE's Gram matrix, allowed as items x items.
    assert any(
        name.endswith(".toarray") and shape == (N_ITEMS, N_ITEMS)
        for name, shape in spy.shapes
    )
    assert spy.breaches() == []
    assert any((Path("data/08_reporting/model_comparison.md")).iterdir())


def test_spy_catches_a_dense_users_by_items_array(spy):
    matrix = sp.random(N_USERS, N_ITEMS, density=0.1, format="csr")
    matrix.toarray()
    np.zeros((N_USERS, N_ITEMS), dtype=np.float32)
    assert {name for name, _ in spy.breaches()} == {"csr_matrix.toarray", "np.zeros"}


def test_all_pairs_table_is_refused_above_the_cells_limit():
    matrix = sp.random(N_USERS, N_ITEMS, density=0.1, format="csr", random_state=0)
    options = {"mode": "all_pairs", "max_dense_cells": MAX_CELLS}
    with pytest.raises(ValueError, match=r"reshape_options\.max_dense_cells") as info:
        matrix_to_long(matrix, options)
    assert "15,000 cells" in str(info.value)
    assert "2,000" in str(info.value)

    table = matrix_to_long(matrix, {**options, "max_dense_cells": N_USERS * N_ITEMS})
    assert len(table) == N_USERS * N_ITEMS
    assert len(matrix_to_long(matrix, {"mode": "positives"})) == matrix.nnz


def test_default_limit_admits_the_seed_table():
    matrix = sp.random(943, 1682, density=0.05, format="csr", random_state=0)
    assert len(matrix_to_long(matrix, {"mode": "all_pairs"})) == 943 * 1682


@pytest.mark.parametrize(
    ("n_items", "batch_size", "max_cells", "expected"),
    [
        (100, 512, 2000, 20),  # the cells limit shrinks the batch
        (100, 8, 2000, 8),  # batch_size already within it
        (5000, 512, 2000, 1),  # one user's row is the smallest batch
    ],
)
def test_user_batches_shrink_to_the_cells_limit(
    n_items, batch_size, max_cells, expected
):
    sizes = []
    model = type("Flat", (), {"score_users": lambda self, u, n: np.ones((len(u), n))})()
    for users, scores in scoring.iter_user_batches(
        model, 45, n_items, batch_size, max_cells=max_cells
    ):
        assert scores.shape == (len(users), n_items)
        sizes.append(len(users))
    assert sizes[0] == min(expected, 45)
    assert sum(sizes) == 45
