"""The whole study through a real KedroSession, on a copy of the project whose
raw cache holds a tiny synthetic MovieLens: every versioned catalog entry the
default pipeline writes gets one version under the MovieLens variant's folder,
the comparison holds exactly each model's metrics, and a second run with the
same seed adds new versions, byte-identical where the README says so, without
touching the first ones."""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.framework.project import pipelines

from ncf_movielens.study import MODELS

from .support import (
    load_json,
    run_session,
    version_file,
    versioned_digests,
    versioned_outputs,
    versions,
)

#: Written byte-identical by two runs with the same seed (README, "Bad input,
#: failures and reruns": metrics, comparison and figure).
DETERMINISTIC = {
    *(f"{model.name}_metrics" for model in MODELS),
    *(f"{model.name}_seed_metrics" for model in MODELS if model.stochastic),
    "model_comparison",
    "model_comparison_table",
    "model_comparison_markdown",
    # not model_comparison_plot: its title names the run's save version
}

#: Fields of a protocol's metrics that describe the evaluation, not the model.
BOOKKEEPING = {"description", "users", "users_sampled"}


def _flat(metrics: dict) -> dict[str, float]:
    """A model's metrics JSON as the comparison's ``protocol/metric`` keys."""
    return {
        f"{protocol}/{name}": value
        for protocol, values in metrics["protocols"].items()
        for name, value in values.items()
        if name not in BOOKKEEPING
    }


@pytest.mark.slow
def test_full_run_versions_every_output(study):
    outputs = versioned_outputs(study)
    # Every output is versioned (README, "Outputs and versions").
    assert set(pipelines["__default__"].all_outputs()) == set(outputs)
    assert DETERMINISTIC <= set(outputs)
    for name, path in outputs.items():
        assert path.parts[0] == "data" and path.parts[2] == "ml-100k", (name, path)
        found = versions(study / path)
        assert len(found) == 1, (name, found)
        assert (study / path / found[0] / path.name).is_file(), name
    first = versioned_digests(study / "data")

    run_session(study)
    for name, path in outputs.items():
        assert len(versions(study / path)) == 2, name
    after = versioned_digests(study / "data")
    changed = [path for path, digest in first.items() if after[path] != digest]
    assert not changed, f"the second run changed versions of the first: {changed}"
    for name in DETERMINISTIC:
        folder = study / outputs[name]
        first_run, second_run = (version_file(folder, v) for v in versions(folder))
        assert first_run.read_bytes() == second_run.read_bytes(), (
            f"{name} differs between two runs with the same seed"
        )


def test_comparison_holds_each_models_metrics(studied_project):
    """The comparison (JSON and CSV) shows the study's models, in its order and
    with its labels, each with exactly the numbers of its own metrics JSON."""
    reporting = studied_project / "data" / "08_reporting" / "ml-100k"
    comparison = load_json(reporting / "model_comparison.json")
    table = pd.read_csv(version_file(reporting / "model_comparison.csv"))
    table = table.set_index("model")
    labels = [model.label for model in MODELS]
    assert list(comparison["models"]) == labels
    assert list(table.index) == labels
    for model in MODELS:
        metrics = load_json(reporting / f"{model.name}_metrics.json")
        assert metrics["model"] == model.label
        expected = _flat(metrics)
        row = comparison["models"][model.label]
        assert set(row) == set(expected), model.name
        for key, value in expected.items():
            assert row[key] == {"mean": value, "std": 0.0, "runs": 1}, (model, key)
            assert table.loc[model.label, key] == value, (model.name, key)
        assert table.loc[model.label, "runs"] == 1
        assert set(comparison["protocols"]) == set(metrics["protocols"])
    for model in MODELS:
        if model.stochastic:
            extra = reporting / f"{model.name}_seed_metrics.json"
            assert load_json(extra) == [], "one seed has no extra-seed metrics"
