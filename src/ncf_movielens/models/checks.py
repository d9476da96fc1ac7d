"""Checks that turn a collapsed model into an error instead of a result."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


class DegenerateModelError(ValueError):
    """A model whose output cannot be ranked meaningfully."""


def check_finite_history(model: str, history: Mapping[str, Any]) -> None:
    """``DegenerateModelError`` when a loss in a training history (the dict
    ``train_neumf`` returns: per-epoch lists under ``history``) is NaN or infinite."""
    for key, values in history.get("history", {}).items():
        if not key.endswith("loss"):
            continue
        for epoch, value in enumerate(values, start=1):
            if not math.isfinite(value):
                raise DegenerateModelError(
                    f"{model}: {key} is {value} at epoch {epoch} "
                    "(check: finite training losses)"
                )
