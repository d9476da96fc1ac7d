"""`kedro run --pipelines=evaluation` after a full run: it measures the stored
models and trains none (README, "evaluation ... trains nothing")."""

from __future__ import annotations

import pytest

from ncf_movielens.study import MODELS

from .support import all_versions, kedro_in_process, load_json, versions


@pytest.mark.slow
def test_evaluation_measures_the_stored_models_and_trains_none(study):
    data = study / "data"
    before = all_versions(data)
    kedro_in_process(study, "kedro run --pipelines=evaluation")
    after = all_versions(data)

    created = {path for path, found in after.items() if found - before.get(path, set())}
    assert not [path for path in created if path.startswith("06_models/")]
    metrics = {f"{model.name}_metrics.json" for model in MODELS} | {
        f"{model.name}_seed_metrics.json" for model in MODELS if model.stochastic
    }
    assert created == {f"08_reporting/ml-100k/{name}" for name in metrics}
    # The same models measured again: the same numbers as the full run's.
    for name in metrics:
        folder = data / "08_reporting" / "ml-100k" / name
        first, second = versions(folder)
        assert load_json(folder, second) == load_json(folder, first), name
