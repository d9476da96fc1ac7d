"""Benchmark (a): the notebook-style reference flow against ``kedro run`` on
MovieLens 100K, in the same run, repeated; medians and their ratio.

    python benchmarks/bench_notebook_vs_pipeline.py --repeats 3

Needs the raw cache (``data/01_raw/ml-100k``, made by any ``kedro run``).
Writes data/08_reporting/benchmarks/notebook_vs_pipeline.{json,md} (versioned).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from _common import (
    PROJECT,
    make_project,
    measure,
    median,
    save_results,
    stamp,
    version_file,
)

#: MovieLens 100K's files in the raw cache, ratings first.
RAW_FILES = ("u.data", "u.item")


def run_reference(u_data: Path) -> dict:
    result = measure(
        [
            sys.executable,
            str(PROJECT / "benchmarks" / "notebook_reference.py"),
            "--u-data",
            str(u_data),
        ],
        PROJECT,
    )
    inner = json.loads(result["stdout"].strip().splitlines()[-1])
    return {
        "wall_seconds": result["wall_seconds"],
        "peak_rss_mb": result["peak_rss_mb"],
        "ncf_rows_per_second": inner["ncf_rows_per_second"],
        "ncf_standard_precision@5": inner["ncf_standard_precision@5"],
        "ncf_seed_precision@5": inner["ncf_seed_precision@5"],
    }


def run_pipeline(raw_dir: Path, extra: list[str]) -> dict:
    raw = {name: (raw_dir / name).read_bytes() for name in RAW_FILES}
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp), raw)
        result = measure([sys.executable, "-m", "kedro", "run", *extra], project)
        history = json.loads(
            version_file(
                project / "data/07_model_output/ml-100k/ncf_training_history.json"
            ).read_text()
        )
        metrics = json.loads(
            version_file(
                project / "data/08_reporting/ml-100k/ncf_metrics.json"
            ).read_text()
        )
    rates = (
        history["rows_per_second"][1:] or history["rows_per_second"]
    )  # epoch 1 compiles
    return {
        "wall_seconds": result["wall_seconds"],
        "peak_rss_mb": result["peak_rss_mb"],
        "ncf_rows_per_second": median(rates),
        "ncf_standard_precision@5": metrics["protocols"]["standard"]["precision@5"],
        "ncf_seed_precision@5": metrics["protocols"]["notebook"]["precision@5"],
    }


def summarise(runs: list[dict]) -> dict:
    return {key: median([run[key] for run in runs]) for key in runs[0]}


def markdown(results: dict) -> str:
    ref, pipe = results["reference"]["median"], results["pipeline"]["median"]
    rows = [
        ("wall time (s)", "wall_seconds", "{:.1f}"),
        ("NCF training rows/s", "ncf_rows_per_second", "{:,.0f}"),
        ("peak RSS (MB)", "peak_rss_mb", "{:,.0f}"),
        ("NCF P@5, standard protocol", "ncf_standard_precision@5", "{:.4f}"),
        ("NCF P@5, notebook protocol", "ncf_seed_precision@5", "{:.4f}"),
    ]
    lines = [
        f"# Seed-style reference vs `kedro run` (MovieLens 100K), {results['date']}",
        "",
        f"Medians of {results['repeats']} run(s) each, interleaved in one benchmark run; "
        "2 CPU cores. Command: `python benchmarks/bench_notebook_vs_pipeline.py "
        f"--repeats {results['repeats']}`.",
        "",
        "| | notebook-style reference | `kedro run` (defaults) | reference / pipeline |",
        "|---|---|---|---|",
    ]
    for label, key, fmt in rows:
        ratio = ref[key] / pipe[key] if pipe[key] else float("nan")
        lines.append(
            f"| {label} | {fmt.format(ref[key])} | {fmt.format(pipe[key])} | {ratio:.2f} |"
        )
    lines += ["", f"Wall-time speed-up: **{results['speedup']:.1f}x**."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--raw-dir", type=Path, default=PROJECT / "data" / "01_raw" / "ml-100k"
    )
    parser.add_argument(
        "--kedro-args", nargs="*", default=[], help="extra `kedro run` arguments"
    )
    args = parser.parse_args()
    if not (args.raw_dir / "u.data").is_file():
        sys.exit(
            f"{args.raw_dir}/u.data is missing: run `kedro run` once to fetch MovieLens 100K"
        )
    reference, pipeline = [], []
    for repeat in range(args.repeats):
        reference.append(run_reference(args.raw_dir / "u.data"))
        print(f"[{repeat + 1}/{args.repeats}] reference: {reference[-1]}", flush=True)
        pipeline.append(run_pipeline(args.raw_dir, args.kedro_args))
        print(f"[{repeat + 1}/{args.repeats}] kedro run: {pipeline[-1]}", flush=True)
    results = {
        "date": stamp(),
        "repeats": args.repeats,
        "kedro_args": args.kedro_args,
        "reference": {"runs": reference, "median": summarise(reference)},
        "pipeline": {"runs": pipeline, "median": summarise(pipeline)},
    }
    results["speedup"] = (
        results["reference"]["median"]["wall_seconds"]
        / results["pipeline"]["median"]["wall_seconds"]
    )
    text = markdown(results)
    paths = save_results("notebook_vs_pipeline", results, text)
    print(text)
    print("saved:", *paths)


if __name__ == "__main__":
    main()
