"""No node builds a dense users x items array above the scores limit: the
default study runs through a KedroSession with a tiny limit while every dense
allocation that could hold users x items values is watched, and the notebook's
all-pairs table is refused with an error that names its parameter."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import scipy.sparse as sp

from ncf_movielens import scoring
from ncf_movielens.models.ease import EASE
from ncf_movielens.models.ials import IALSRecommender
from ncf_movielens.models.lightfm import LightFMRecommender
from ncf_movielens.models.most_popular import MostPopular
from ncf_movielens.models.neumf import NeuMF
from ncf_movielens.parameters import ReshapeOptions
from ncf_movielens.pipelines.data_engineering.nodes import matrix_to_long
from ncf_movielens.study import MODELS
from ncf_movielens.synthetic import make_raw_files

from .support import FAST_PARAMS, load_json, make_project, project_options, run_session

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
#: Every model class of the study: each scores users itself.
RECOMMENDERS = (NeuMF, LightFMRecommender, IALSRecommender, MostPopular, EASE)


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
            # Object arrays are text tables (pandas building the movies table,
            # items x fields), never scores.
            if hasattr(out, "shape") and getattr(out, "dtype", None) != np.dtype(
                object
            ):
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
    for cls in RECOMMENDERS:
        spied = spy.wrap("score_users", cls.score_users)
        monkeypatch.setattr(cls, "score_users", spied)
    monkeypatch.setattr(scoring, "MAX_SCORES_PER_BATCH", MAX_CELLS)
    return spy


@pytest.mark.slow
def test_default_study_stays_below_the_scores_limit(tmp_path, spy):
    raw = make_raw_files(N_USERS, N_ITEMS, N_RATINGS, seed=0)
    project = make_project(tmp_path / "project", raw)
    run_session(project, params=FAST_PARAMS)

    scored = spy.of("score_users")
    # Every model is scored for evaluation and for recommendations, each in
    # batches of MAX_CELLS // N_ITEMS users instead of evaluation_options' 512.
    batches = -(-N_USERS // (MAX_CELLS // N_ITEMS))
    assert len(scored) == 2 * len(MODELS) * batches
    assert max(rows * items for rows, items in scored) <= MAX_CELLS
    assert {items for _, items in scored} == {N_ITEMS}
    # The spy saw EASE's Gram matrix, allowed as items x items.
    assert any(
        name.endswith(".toarray") and shape == (N_ITEMS, N_ITEMS)
        for name, shape in spy.shapes
    )
    assert spy.breaches() == []
    comparison = load_json(project / "data/08_reporting/ml-100k/model_comparison.json")
    assert len(comparison["models"]) == len(MODELS)


def test_spy_catches_a_dense_users_by_items_array(spy):
    matrix = sp.random(N_USERS, N_ITEMS, density=0.1, format="csr")
    matrix.toarray()
    np.zeros((N_USERS, N_ITEMS), dtype=np.float32)
    assert {name for name, _ in spy.breaches()} == {"csr_matrix.toarray", "np.zeros"}


def _reshape(**changes) -> ReshapeOptions:
    return project_options(ReshapeOptions, "reshape_options", **changes)


def test_all_pairs_table_is_refused_above_the_pairs_limit():
    matrix = sp.random(N_USERS, N_ITEMS, density=0.1, format="csr", random_state=0)
    options = _reshape(mode="all_pairs", max_pairs=MAX_CELLS)
    with pytest.raises(ValueError, match=r"reshape_options\.max_pairs") as info:
        matrix_to_long(matrix, options)
    assert "15,000 pairs" in str(info.value)
    assert "2,000" in str(info.value)

    table = matrix_to_long(
        matrix, _reshape(mode="all_pairs", max_pairs=N_USERS * N_ITEMS)
    )
    assert len(table) == N_USERS * N_ITEMS
    assert len(matrix_to_long(matrix, _reshape(mode="positives"))) == matrix.nnz


def test_default_limit_admits_the_seed_table():
    matrix = sp.random(943, 1682, density=0.05, format="csr", random_state=0)
    table = matrix_to_long(matrix, _reshape(mode="all_pairs"))
    assert len(table) == 943 * 1682


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
