"""The training-history check (``ncf_movielens.models.checks``): a NaN or
infinite loss is refused with the model, the loss and the epoch."""

from __future__ import annotations

import math

import pytest

from ncf_movielens.models.checks import DegenerateModelError, check_finite_history


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ({"loss": [0.6, math.nan], "val_loss": [0.6, 0.5]}, "loss is nan at epoch 2"),
        (
            {"loss": [0.6, 0.5], "val_loss": [math.inf, 0.5]},
            "val_loss is inf at epoch 1",
        ),
    ],
)
def test_a_non_finite_loss_is_refused(history, message):
    with pytest.raises(DegenerateModelError) as error:
        check_finite_history("ncf", {"history": history})
    assert str(error.value) == f"ncf: {message} (check: finite training losses)"


def test_other_metrics_may_be_undefined():
    # AUC is NaN on a batch with a single class; only losses must be finite.
    check_finite_history("ncf", {"history": {"loss": [0.6, 0.5], "auc": [math.nan]}})
