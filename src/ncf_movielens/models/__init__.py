"""The study's models, one module each, and what they have in common: every
fitted model scores users with ``score_users(users, n_items)``, so evaluation
and recommendations treat them all alike.

- ``neumf``: NCF (NeuMF), Keras 3: builder, negative sampler, training loop;
- ``lightfm``: LightFM (WARP);
- ``ials``: iALS (``implicit``'s CPU ALS);
- ``ease``: EASE, closed form;
- ``most_popular``: the non-personalised baseline.

Saved models are instances of the classes here, so renaming a pipeline does
not break them.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Recommender(Protocol):
    def score_users(self, users: np.ndarray, n_items: int) -> np.ndarray:
        """Scores of ``users`` (0-based ids) for items ``0..n_items-1``, shape
        ``(len(users), n_items)``, float32; higher is better."""
        ...
