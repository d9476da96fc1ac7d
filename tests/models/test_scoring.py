"""Scoring in user batches (``ncf_movielens.scoring``), whatever the model: every
user once, in order, with the batch bounded by users and by scores."""

from __future__ import annotations

import numpy as np

from ncf_movielens.scoring import iter_user_batches


class ScoreTable:
    """A model whose scores are a given users x items table."""

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores

    def score_users(self, users: np.ndarray, n_items: int) -> np.ndarray:
        return self.scores[users, :n_items]


SCORES = np.random.default_rng(0).random((40, 50)).astype(np.float32)


def test_user_batches_cover_every_user_once():
    batches = list(iter_user_batches(ScoreTable(SCORES), 40, 50, batch_size=16))
    assert [len(users) for users, _ in batches] == [16, 16, 8]
    np.testing.assert_array_equal(
        np.concatenate([users for users, _ in batches]), np.arange(40)
    )
    np.testing.assert_array_equal(np.vstack([s for _, s in batches]), SCORES)


def test_given_users_are_scored_in_their_order():
    users = np.array([39, 2, 17, 5])
    batches = list(iter_user_batches(ScoreTable(SCORES), users, 50, batch_size=3))
    assert [b.tolist() for b, _ in batches] == [[39, 2, 17], [5]]
    np.testing.assert_array_equal(np.vstack([s for _, s in batches]), SCORES[users])


def test_max_cells_bounds_the_batch():
    # 120 scores of 50 items: two users per batch, below batch_size.
    batches = list(
        iter_user_batches(ScoreTable(SCORES), 5, 50, batch_size=16, max_cells=120)
    )
    assert [len(users) for users, _ in batches] == [2, 2, 1]
    # One user above the bound still gets scored, alone.
    single = list(
        iter_user_batches(ScoreTable(SCORES), 3, 50, batch_size=16, max_cells=10)
    )
    assert [len(users) for users, _ in single] == [1, 1, 1]
