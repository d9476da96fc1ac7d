"""Score users against every item, one batch of users at a time, whatever the
model: the one place that knows how each model type predicts."""

from __future__ import annotations

from collections.abc import Iterator
from functools import singledispatch
from typing import Any

import keras
import numpy as np
from lightfm import LightFM

#: Most (user, item) pairs that one Keras forward pass takes.
_MAX_PAIRS = 1 << 19
#: Most scores one batch holds (users x items cells, 200 MB in float32): the
#: batch of users shrinks on large catalogues so that memory stays bounded.
MAX_DENSE_CELLS = 50_000_000


@singledispatch
def score_users(model: Any, users: np.ndarray, n_items: int) -> np.ndarray:
    """Scores of ``users`` (0-based ids) for items ``0..n_items-1``, shape
    ``(len(users), n_items)``, float32; higher is better."""
    scorer = getattr(model, "score_users", None)
    if scorer is None:
        raise TypeError(f"don't know how to score a {type(model).__name__}")
    return np.asarray(scorer(users, n_items), dtype=np.float32)


@score_users.register
def _(model: LightFM, users: np.ndarray, n_items: int) -> np.ndarray:
    # The same sum LightFM.predict computes, as one matrix product per batch.
    user_bias, user_embedding = model.get_user_representations()
    item_bias, item_embedding = model.get_item_representations()
    scores = user_embedding[users] @ item_embedding[:n_items].T
    scores += user_bias[users, None] + item_bias[None, :n_items]
    return scores.astype(np.float32, copy=False)


@score_users.register
def _(model: keras.Model, users: np.ndarray, n_items: int) -> np.ndarray:
    items = np.arange(n_items, dtype=np.int32)
    scores = np.empty((len(users), n_items), dtype=np.float32)
    step = max(1, _MAX_PAIRS // n_items)
    for start in range(0, len(users), step):
        chunk = users[start : start + step].astype(np.int32)
        pairs = {
            "user_id": np.repeat(chunk, n_items),
            "item_id": np.tile(items, len(chunk)),
        }
        predicted = model.predict_on_batch(pairs)
        scores[start : start + len(chunk)] = np.asarray(predicted).reshape(
            len(chunk), n_items
        )
    return scores


def iter_user_batches(
    model: Any,
    users: int | np.ndarray,
    n_items: int,
    batch_size: int,
    max_cells: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(users, scores) for consecutive batches of ``users`` (an array of ids, or
    a count meaning ``0..users-1``); memory stays at one batch x items array.

    A batch has at most ``batch_size`` users and, unless a single user exceeds
    it, at most ``max_cells`` scores (``MAX_DENSE_CELLS`` when not given).
    """
    users = np.arange(users) if np.isscalar(users) else np.asarray(users)
    cells = MAX_DENSE_CELLS if max_cells is None else max_cells
    step = max(1, min(batch_size, cells // max(n_items, 1)))
    for start in range(0, len(users), step):
        batch = users[start : start + step]
        yield batch, score_users(model, batch, n_items)
