"""Benchmark (d): the default ``kedro run`` of an earlier checkout of this
project against this one, on the same MovieLens 100K files, interleaved in one
run; medians and their ratio.

    git worktree add ../before 183d0ab && (cd ../before && make install)
    python benchmarks/bench_before_after.py --before ../before --repeats 7

``--before`` is a checkout with its own ``.venv`` (``make install`` makes it);
each side runs in a scratch copy of its own ``pyproject.toml`` and ``conf``,
with its own interpreter, so each runs its own code, settings and
dependencies. The first pair is a warm-up (a new project's first run also
creates the MLflow store) and is reported but left out of the medians. Needs
the raw cache (``data/01_raw/ml-100k``, made by any ``kedro run``). Writes
data/08_reporting/benchmarks/before_after.{json,md} (versioned).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import PROJECT, measure, median, save_results, stamp

KEYS = ("wall_seconds", "cpu_seconds", "peak_rss_mb")


def commit(checkout: Path) -> str:
    out = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        check=False,
        cwd=checkout,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "unknown"


def run_side(checkout: Path, raw_dir: Path) -> dict:
    """One default ``kedro run`` of ``checkout`` in a scratch project."""
    python = checkout / ".venv" / "bin" / "python"
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        for name in ("pyproject.toml", ".telemetry"):
            shutil.copy(checkout / name, project / name)
        shutil.copytree(checkout / "conf", project / "conf")
        (project / "src").mkdir()
        shutil.copytree(raw_dir, project / "data" / "01_raw" / raw_dir.name)
        result = measure([str(python), "-m", "kedro", "run"], project)
    return {key: result[key] for key in KEYS}


def markdown(results: dict) -> str:
    before, after = results["before"]["median"], results["after"]["median"]
    lines = [
        f"# `kedro run` before and after (MovieLens 100K), {results['date']}",
        "",
        f"Medians of {results['repeats']} interleaved run(s) each, after one "
        "warm-up pair; 2 CPU cores. Command: `python benchmarks/"
        f"bench_before_after.py --before <checkout> --repeats {results['repeats']}`.",
        "",
        f"| | before ({results['before']['commit']}) | after "
        f"({results['after']['commit']}) | after / before |",
        "|---|---|---|---|",
    ]
    for label, key, fmt in (
        ("wall time (s)", "wall_seconds", "{:.1f}"),
        ("CPU time (s)", "cpu_seconds", "{:.1f}"),
        ("peak RSS (MB)", "peak_rss_mb", "{:,.0f}"),
    ):
        lines.append(
            f"| {label} | {fmt.format(before[key])} | {fmt.format(after[key])} "
            f"| {after[key] / before[key]:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=PROJECT)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--raw-dir", type=Path, default=PROJECT / "data" / "01_raw" / "ml-100k"
    )
    args = parser.parse_args()
    for side in (args.before, args.after):
        if not (side / ".venv" / "bin" / "python").is_file():
            sys.exit(f"{side}/.venv is missing: run `make install` in {side}")
    if not (args.raw_dir / "u.data").is_file():
        sys.exit(
            f"{args.raw_dir}/u.data is missing: run `kedro run` once to fetch "
            "MovieLens 100K"
        )
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for repeat in range(args.repeats + 1):
        # Alternate which side goes first, so neither always runs second.
        order = ("before", "after") if repeat % 2 == 0 else ("after", "before")
        for side in order:
            run = run_side(getattr(args, side), args.raw_dir)
            run["warm_up"] = repeat == 0
            runs[side].append(run)
            label = "warm-up" if repeat == 0 else f"{repeat}/{args.repeats}"
            print(f"[{label}] {side}: {run}", flush=True)
    results = {"date": stamp(), "repeats": args.repeats}
    for side, side_runs in runs.items():
        counted = [run for run in side_runs if not run["warm_up"]]
        results[side] = {
            "commit": commit(getattr(args, side)),
            "runs": side_runs,
            "median": {key: median([run[key] for run in counted]) for key in KEYS},
        }
    results["wall_ratio"] = (
        results["after"]["median"]["wall_seconds"]
        / results["before"]["median"]["wall_seconds"]
    )
    text = markdown(results)
    json_path, md_path = save_results("before_after", results, text)
    print(text)
    print(f"Saved {json_path} and {md_path}")


if __name__ == "__main__":
    main()
