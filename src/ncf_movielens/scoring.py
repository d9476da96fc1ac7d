"""Score users against every item in batches of users, whatever the model
(each model scores itself, ``Recommender.score_users``), so memory stays at
one batch x items array."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ncf_movielens.models import Recommender

#: Most scores one batch holds (users x items, 200 MB in float32): the batch
#: of users shrinks on large catalogues so that memory stays bounded.
MAX_SCORES_PER_BATCH = 50_000_000


def iter_user_batches(
    model: Recommender,
    users: int | np.ndarray,
    n_items: int,
    batch_size: int,
    max_cells: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(users, scores) for consecutive batches of ``users`` (an array of ids, or
    a count meaning ``0..users-1``); scores are float32, users x ``n_items``.

    A batch has at most ``batch_size`` users and, unless a single user exceeds
    it, at most ``max_cells`` scores (``MAX_SCORES_PER_BATCH`` when not given).
    """
    users = np.arange(users) if np.isscalar(users) else np.asarray(users)
    cells = MAX_SCORES_PER_BATCH if max_cells is None else max_cells
    step = max(1, min(batch_size, cells // max(n_items, 1)))
    for start in range(0, len(users), step):
        batch = users[start : start + step]
        scores = np.asarray(model.score_users(batch, n_items), dtype=np.float32)
        yield batch, scores
