"""Shared fixtures: small synthetic MovieLens data made by the tests (the
MovieLens terms forbid committing the real files)."""

from __future__ import annotations

import os

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from ncf_movielens.synthetic import make_raw_files  # noqa: E402


@pytest.fixture(scope="session")
def raw_files() -> dict[str, bytes]:
    return make_raw_files(n_users=60, n_items=80, n_ratings=1500, seed=0)
