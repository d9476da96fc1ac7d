"""The whole study through a real KedroSession, on a copy of the project whose
raw cache holds a tiny synthetic MovieLens: every versioned output is written,
and a second run adds new versions without touching the first ones."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from ncf_movielens.fetch import sha256

PROJECT = Path(__file__).resolve().parents[1]
FAST_PARAMS = {
    "ncf": {
        "training_options": {
            "epochs": 4,
            "batch_size": 64,
            "learning_rate": 0.01,
            "metrics": ["auc"],
            "histogram_freq": 0,
        },
        "model_options": {"latent_dim_mlp": 8},
    },
    "lightfm": {"training_options": {"epochs": 3}},
}
VERSIONED = [
    "02_intermediate/ratings.parquet",
    "02_intermediate/movies.parquet",
    "03_primary/train_matrix.npz",
    "03_primary/test_matrix.npz",
    "06_models/ncf_model.keras",
    "06_models/lightfm_model.pkl",
    "06_models/most_popular_model.pkl",
    "06_models/ease_model.pkl",
    "07_model_output/ncf_training_history.json",
    "08_reporting/ncf_metrics.json",
    "08_reporting/lightfm_metrics.json",
    "08_reporting/most_popular_metrics.json",
    "08_reporting/ease_metrics.json",
    "08_reporting/model_comparison.json",
    "08_reporting/model_comparison.csv",
    "08_reporting/model_comparison.md",
    "08_reporting/model_comparison.png",
    "08_reporting/ncf_seed_metrics.json",
    "07_model_output/ease_recommendations.parquet",
]


def make_project(root: Path, raw_files: dict[str, bytes]) -> Path:
    """A copy of this project's config and metadata whose raw cache holds
    ``raw_files`` and whose MovieLens source list is the cache alone."""
    shutil.copy(PROJECT / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(
        PROJECT / "conf", root / "conf", ignore=shutil.ignore_patterns("local")
    )
    (root / "conf" / "local").mkdir()
    (root / "src").mkdir()  # the package itself is imported from the installed copy
    cache = root / "data" / "01_raw" / "ml-100k"
    cache.mkdir(parents=True)
    for name, content in raw_files.items():
        (cache / name).write_bytes(content)
    local_catalog = {
        "movielens_raw": {
            "type": "ncf_movielens.datasets.MovieLensDataset",
            "path": "data/01_raw/ml-100k",
            "sources": [{"type": "cache"}],
            "u_data_sha256": sha256(raw_files["u.data"]),
        }
    }
    (root / "conf" / "local" / "catalog.yml").write_text(yaml.safe_dump(local_catalog))
    return root


def run_session(project: Path, **run_args) -> None:
    bootstrap_project(project)
    with KedroSession.create(
        project_path=project, runtime_params=FAST_PARAMS
    ) as session:
        session.run(**run_args)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.slow
def test_full_run_versions_every_output(tmp_path, raw_files, monkeypatch):
    project = make_project(tmp_path, raw_files)
    monkeypatch.chdir(project)
    run_session(project)

    data = project / "data"
    for entry in VERSIONED:
        versions = list((data / entry).iterdir())
        assert len(versions) == 1, entry
        assert (versions[0] / Path(entry).name).is_file(), entry
    first = _digests(data / "08_reporting") | _digests(data / "06_models")

    comparison_dir = data / "08_reporting/model_comparison.json"
    comparison = json.loads(
        next(comparison_dir.iterdir()).joinpath("model_comparison.json").read_text()
    )
    assert set(comparison["models"]) == {
        "NCF (NeuMF)",
        "LightFM (WARP)",
        "Most popular",
        "EASE (lambda 300)",
    }
    for row in comparison["models"].values():
        assert 0.0 <= row["seed/precision@5"]["mean"] <= 1.0
        assert 0.0 <= row["standard/ndcg@10"]["mean"] <= 1.0
        assert 0.0 < row["standard/auc"]["mean"] <= 1.0
        assert row["standard/auc"]["runs"] == 1

    run_session(project)
    for entry in VERSIONED:
        assert len(list((data / entry).iterdir())) == 2, entry
    after = _digests(data / "08_reporting") | _digests(data / "06_models")
    for path, digest in first.items():
        assert after[path] == digest, f"{path} changed on the second run"
