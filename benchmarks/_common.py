"""Shared by the benchmark scripts: child processes measured for wall time and
peak RSS, and versioned results. Scratch projects to run in come from the
tests' helpers (``tests/support.py``), so both build them the same way."""

from __future__ import annotations

import json
import os
import pickle
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kedro.io.core import Version, generate_timestamp
from kedro_datasets.json import JSONDataset
from kedro_datasets.text import TextDataset
from scipy import sparse

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:  # run as `python benchmarks/x.py` or from benchmarks/
    sys.path.insert(0, str(PROJECT))

from tests.support import (  # noqa: E402
    make_project,
    scratch_project,
    use_raw_cache,
    version_file,
)

__all__ = [
    "PROJECT",
    "make_project",
    "measure",
    "latest_run",
    "median",
    "save_results",
    "scratch_project",
    "stamp",
    "use_raw_cache",
    "version_file",
]

_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[2:], cwd=sys.argv[1], stdout=subprocess.PIPE, text=True)
print(json.dumps({"returncode": done.returncode, "wall_seconds": time.perf_counter() - start,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "cpu_seconds": sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]),
    "stdout": done.stdout}))
"""


def measure(command: list[str], cwd: Path) -> dict[str, Any]:
    """Run ``command`` in a fresh interpreter that reports the command's wall time,
    CPU time (user + system, children included) and peak RSS (the largest
    resident set of the command and its children)."""
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(cwd), *command],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    result = json.loads(out.stdout)
    if result["returncode"] != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{out.stderr[-3000:]}")
    return result


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def save_results(name: str, results: dict[str, Any], markdown: str) -> tuple[str, str]:
    """Save as versioned JSON and Markdown under data/08_reporting/benchmarks/."""
    version = generate_timestamp()
    base = PROJECT / "data" / "08_reporting" / "benchmarks"
    paths = []
    for dataset_type, ext, data in (
        (JSONDataset, "json", results),
        (TextDataset, "md", markdown),
    ):
        filepath = base / f"{name}.{ext}"
        dataset_type(filepath=str(filepath), version=Version(None, version)).save(data)
        paths.append(str(filepath / version / filepath.name))
    return paths[0], paths[1]


def stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def latest_run(variant: str, model: str) -> tuple[Any, Any, Any, dict[str, Any]]:
    """The latest ``kedro run``'s (train matrix, test matrix, ``model``'s saved
    model, its metrics) for the MovieLens ``variant``, read from ``data/``."""
    data = PROJECT / "data"
    primary = data / "03_primary" / variant
    train = sparse.load_npz(version_file(primary / "train_matrix.npz")).tocsr()
    test = sparse.load_npz(version_file(primary / "test_matrix.npz")).tocsr()
    with version_file(data / "06_models" / variant / f"{model}_model.pkl").open(
        "rb"
    ) as handle:
        fitted = pickle.load(handle)  # the project's own output
    metrics_path = data / "08_reporting" / variant / f"{model}_metrics.json"
    metrics = json.loads(version_file(metrics_path).read_text())
    return train, test, fitted, metrics
