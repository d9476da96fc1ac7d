"""Shared by the benchmark scripts: a throw-away copy of the project to run in,
child processes measured for wall time and peak RSS, and versioned results."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kedro.io.core import Version, generate_timestamp
from kedro_datasets.json import JSONDataset
from kedro_datasets.text import TextDataset

PROJECT = Path(__file__).resolve().parents[1]

_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[2:], cwd=sys.argv[1], stdout=subprocess.PIPE, text=True)
print(json.dumps({"returncode": done.returncode, "wall_seconds": time.perf_counter() - start,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "stdout": done.stdout}))
"""


def measure(command: list[str], cwd: Path) -> dict[str, Any]:
    """Run ``command`` in a fresh interpreter that reports the command's wall time
    and peak RSS (the largest resident set of the command and its children)."""
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


def scratch_project(root: Path, raw_dir: Path | None = None) -> Path:
    """Project config and metadata in ``root``; the raw cache copied from
    ``raw_dir`` when given. The package itself runs from the installed copy."""
    shutil.copy(PROJECT / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(
        PROJECT / "conf", root / "conf", ignore=shutil.ignore_patterns("local")
    )
    (root / "conf" / "local").mkdir()
    (root / "src").mkdir()
    if raw_dir is not None:
        shutil.copytree(raw_dir, root / "data" / "01_raw" / raw_dir.name)
    return root


def latest(root: Path, dataset_path: str) -> Path:
    """The newest version's file of a versioned dataset under ``root``."""
    folder = root / dataset_path
    return sorted(folder.iterdir())[-1] / folder.name


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
