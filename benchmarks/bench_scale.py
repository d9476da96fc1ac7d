"""Benchmark (b): the pipeline on synthetic MovieLens-like data of growing size;
wall time, peak RSS and NCF time per epoch, to show how cost grows.

    python benchmarks/bench_scale.py --sizes 1e6 5e6 25e6 --epochs 2
    python benchmarks/bench_scale.py --params ncf.training_options.batch_size=65536

Each size gets its own scratch project whose raw cache holds synthetic
``u.data``/``u.item`` (``ncf_movielens.synthetic``), and one ``kedro run`` of the
nodes the scale study needs (NCF and most popular; EASE's dense items x items
matrix and LightFM's WARP epochs are out of scope at 25M). Users and items grow
with the interactions in MovieLens 25M's proportions (see ``shape_for``).
Writes data/08_reporting/benchmarks/scale.{json,md} (versioned).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from _common import (
    measure,
    median,
    save_results,
    scratch_project,
    stamp,
    use_raw_cache,
    version_file,
)

from ncf_movielens.synthetic import make_movies, make_ratings, write_raw_files

#: MovieLens 25M: 25,000,095 ratings by 162,541 users of 59,047 movies.
ML25M = {"ratings": 25_000_095, "users": 162_541, "items": 59_047}
NODES = [
    "parse_ratings",
    "parse_movies",
    "split_ratings",
    "binarize_ratings",
    "reshape_to_long",
    "ncf.train_model",
    "ncf.evaluate_model",
    "most_popular.train_model",
    "most_popular.evaluate_model",
]
_LOG_LINE = re.compile(
    r"^(\d\d:\d\d:\d\d) INFO kedro\.\S+: (Running|Completed) node: ([\w.]+)"
)


def shape_for(n_ratings: int) -> tuple[int, int]:
    """(users, items) for ``n_ratings``: users in MovieLens 25M's proportion
    (6.5 per 1,000 ratings, so ratings per user stay the same), items growing
    with the square root of the ratings up to 25M's 59,047 (catalogues grow
    slower than their audience: MovieLens 1M has 3,706 movies)."""
    users = round(n_ratings * ML25M["users"] / ML25M["ratings"])
    items = round(ML25M["items"] * math.sqrt(n_ratings / ML25M["ratings"]))
    return users, items


class RssSampler(threading.Thread):
    """Samples, twice a second, the resident memory of the ``kedro run`` whose
    working directory is ``project`` (found under /proc)."""

    def __init__(self, project: Path) -> None:
        super().__init__(daemon=True)
        self.project = str(project.resolve())
        self.samples: list[tuple[float, float]] = []  # (time, MB)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            mb = sum(self._rss_mb(proc) for proc in Path("/proc").glob("[0-9]*"))
            if mb:
                self.samples.append((time.time(), mb))

    def _rss_mb(self, proc: Path) -> float:
        try:
            if str((proc / "cwd").resolve()) != self.project:
                return 0.0
            if b"kedro" not in (proc / "cmdline").read_bytes():
                return 0.0
            status = (proc / "status").read_text()
        except OSError:
            return 0.0
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        return int(found.group(1)) / 1024 if found else 0.0


def node_profile(stdout: str, samples: list[tuple[float, float]]) -> dict:
    """Seconds and peak RSS per node, from the run's log (whole seconds: the
    span from the previous node's end, so loading inputs counts) and the RSS
    samples taken meanwhile."""
    today = datetime.now().date()
    events = []
    for line in stdout.splitlines():
        found = _LOG_LINE.match(line)
        if found:
            clock = datetime.combine(
                today, datetime.strptime(found[1], "%H:%M:%S").time()
            )
            events.append((found[2], found[3], clock.timestamp()))
    profile, previous = {}, None
    for kind, name, moment in events:
        if kind == "Running" and previous is None:
            previous = moment
        if kind != "Completed":
            continue
        start = previous if previous is not None else moment
        during = [mb for t, mb in samples if start - 1 <= t <= moment + 1]
        profile[name] = {
            "seconds": moment - start,
            "peak_rss_mb": round(max(during), 1) if during else None,
        }
        previous = moment
    return profile


def run_size(
    n_ratings: int, args: argparse.Namespace, arm: str = "default", arm_params=()
) -> dict:
    n_users, n_items = shape_for(n_ratings)
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        project = scratch_project(Path(tmp))
        started = time.perf_counter()
        ratings = make_ratings(n_users, n_items, n_ratings, seed=args.seed)
        generated = time.perf_counter()
        cache = project / "data" / "01_raw" / "ml-100k"
        # Written straight to the cache: 25M ratings are too many to hold as bytes.
        digest = write_raw_files(ratings, make_movies(n_items, args.seed), cache)
        written = time.perf_counter()
        del ratings
        use_raw_cache(project, digest)
        params = {
            "ncf.training_options.epochs": args.epochs,
            "evaluation_options.max_users": args.max_users,
            "split_options.strategy": "ua",
            "split_options.test_size": args.test_size,
            **dict(item.split("=", 1) for item in args.params),
            **dict(item.split("=", 1) for item in arm_params),
        }
        command = [
            sys.executable,
            "-m",
            "kedro",
            "run",
            f"--nodes={','.join(NODES)}",
            "--params=" + ",".join(f"{key}={value}" for key, value in params.items()),
        ]
        sampler = RssSampler(project)
        sampler.start()
        try:
            result = measure(command, project)
        finally:
            sampler.done.set()
            sampler.join()
        history = json.loads(
            version_file(
                project / "data/07_model_output/ml-100k/ncf_training_history.json"
            ).read_text()
        )
        metrics = {
            model: json.loads(
                version_file(
                    project / f"data/08_reporting/ml-100k/{model}_metrics.json"
                ).read_text()
            )["protocols"]["standard"]
            for model in ("ncf", "most_popular")
        }
        u_data_mb = (cache / "u.data").stat().st_size / 2**20
    rates = history["rows_per_second"]
    later = rates[1:] or rates  # epoch 1 includes XLA compilation
    return {
        "arm": arm,
        "interactions": n_ratings,
        "users": n_users,
        "items": n_items,
        "u_data_mb": round(u_data_mb, 1),
        "generate_seconds": round(generated - started, 1),
        "write_seconds": round(written - generated, 1),
        "wall_seconds": round(result["wall_seconds"], 1),
        "peak_rss_mb": round(result["peak_rss_mb"], 1),
        "ncf_train_rows_per_epoch": history["train_rows"],
        "ncf_epochs_run": history["epochs_run"],
        "ncf_rows_per_second": [float(rate) for rate in rates],
        "ncf_seconds_per_epoch": median([history["train_rows"] / r for r in later]),
        "ncf_first_epoch_seconds": history["train_rows"] / rates[0],
        "seconds_per_million": result["wall_seconds"] / (n_ratings / 1e6),
        "nodes": node_profile(result["stdout"], sampler.samples),
        "standard_ndcg@10": {
            model: values["ndcg@10"] for model, values in metrics.items()
        },
        "evaluated_users": {
            model: values["users"] for model, values in metrics.items()
        },
    }


def growth(runs: list[dict], key: str) -> float:
    """Exponent b of cost ~ interactions^b: the least-squares slope of
    log(cost) on log(interactions) over every size run."""
    points = [(run["interactions"], run[key]) for run in runs if run[key]]
    if len(points) < 2:
        return float("nan")
    x = [math.log(n) for n, _ in points]
    y = [math.log(cost) for _, cost in points]
    mean_x, mean_y = sum(x) / len(x), sum(y) / len(y)
    return sum((a - mean_x) * (b - mean_y) for a, b in zip(x, y, strict=True)) / sum(
        (a - mean_x) ** 2 for a in x
    )


def markdown(results: dict) -> str:
    runs = results["runs"]
    lines = [
        f"# Scale: the pipeline on synthetic MovieLens-like data, {results['date']}",
        "",
        f"Command: `{results['command']}`; 2 CPU cores, one `kedro run` per size with "
        f"the nodes `{','.join(NODES)}`, NCF {results['epochs']} epochs, evaluation "
        f"on a fixed sample of {results['max_users']:,} users, split `ua` "
        f"(test_size {results['test_size']})"
        + (
            f", other parameters `{','.join(results['params'])}`."
            if results.get("params")
            else ", other parameters the project's defaults."
        )
        + (
            f" The baseline arm adds `{','.join(results['baseline'])}`."
            if results.get("baseline")
            else ""
        ),
        "",
        "Synthetic data (`ncf_movielens.synthetic.make_ratings`): Zipf-like users "
        "and items with taste clusters; users grow with the interactions in "
        "MovieLens 25M's proportion (6.5 per 1,000 ratings), items with their "
        "square root up to MovieLens 25M's 59,047. EASE (a dense items x items "
        "matrix: 59,047^2 float64 is 28 GB) and LightFM (10 WARP epochs) are out of "
        "scope at this size.",
        "",
        "| arm | interactions | users | items | wall (s) | peak RSS (MB) | "
        "NCF s/epoch | NCF rows/s | NCF rows/epoch | wall s per 1M interactions | "
        "NDCG@10 NCF / most popular |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run.get('arm', 'default')} | {run['interactions']:,} | "
            f"{run['users']:,} | {run['items']:,} | "
            f"{run['wall_seconds']:.1f} | {run['peak_rss_mb']:,.0f} | "
            f"{run['ncf_seconds_per_epoch']:.1f} | "
            f"{median(run['ncf_rows_per_second'][1:] or run['ncf_rows_per_second']):,.0f} | "
            f"{run['ncf_train_rows_per_epoch']:,} | {run['seconds_per_million']:.1f} | "
            f"{run['standard_ndcg@10']['ncf']:.4f} / "
            f"{run['standard_ndcg@10']['most_popular']:.4f} |"
        )
    names = list(runs[-1]["nodes"])
    lines += [
        "",
        "Seconds per node (from the run's log, whole seconds, loading inputs "
        "included; peak RSS in MB while the node ran, sampled twice a second):",
        "",
        "| node | "
        + " | ".join(
            f"{run['interactions']:,} {run.get('arm', 'default')}" for run in runs
        )
        + " |",
        "|---|" + "---|" * len(runs),
    ]
    for name in names:
        cells = []
        for run in runs:
            node = run["nodes"].get(name)
            cells.append(
                f"{node['seconds']:.0f} s, {node['peak_rss_mb'] or 0:,.0f} MB"
                if node
                else "-"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for arm in dict.fromkeys(run.get("arm", "default") for run in runs):
        lines += growth_line(
            arm, [run for run in runs if run.get("arm", "default") == arm]
        )
    peak = max(run["peak_rss_mb"] for run in runs)
    lines += ["", f"Largest peak RSS: {peak:,.0f} MB (budget 8,192 MB)."]
    for failure in results["failures"]:
        last = failure["error"].strip().splitlines()[-1]
        lines += [
            "",
            f"**{failure['interactions']:,} interactions "
            f"({failure.get('arm', 'default')}) failed**: `{last}`",
        ]
    return "\n".join(lines) + "\n"


def growth_line(arm: str, runs: list[dict]) -> list[str]:
    """How one arm's cost grows from its smallest to its largest size."""
    lines: list[str] = []
    if len(runs) > 1:
        wall = growth(runs, "wall_seconds")
        epoch = growth(runs, "ncf_seconds_per_epoch")
        ratio = runs[-1]["seconds_per_million"] / runs[0]["seconds_per_million"]
        verdict = (
            "about linear"
            if 0.8 <= ratio <= 1.25
            else "sub-linear (fixed costs weigh more at small sizes)"
            if ratio < 0.8
            else "super-linear"
        )
        lines += [
            "",
            f"{arm}: growth from {runs[0]['interactions']:,} to {runs[-1]['interactions']:,} "
            f"interactions: wall time per interaction at the largest size is "
            f"**{ratio:.2f}x** that at the smallest, so cost grows **{verdict}** "
            f"(least-squares fits over the {len(runs)} sizes: wall ~ n^{wall:.2f}; "
            f"NCF time per epoch ~ n^{epoch:.2f}).",
        ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e6, 5e6, 25e6])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-users", type=int, default=2000)
    parser.add_argument("--test-size", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--params",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="more kedro --params for every size, "
        "e.g. ncf.training_options.batch_size=65536",
    )
    parser.add_argument(
        "--baseline",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="--params of a baseline arm, run at each size before the defaults, "
        "e.g. the old NCF training: ncf.model_options.embedding_l2=table "
        "ncf.training_options.optimizer=adam",
    )
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args()
    # The per-node table reads Kedro's "Running node"/"Completed node" lines,
    # which only the verbose log has (each run's cwd is its scratch project).
    os.environ["KEDRO_LOGGING_CONFIG"] = "conf/logging_verbose.yml"
    runs, failures = [], []
    arms = [("baseline", args.baseline)] if args.baseline else []
    arms.append(("default", []))
    for size in sorted(int(size) for size in args.sizes):
        for arm, arm_params in arms:
            print(f"{stamp()} {size:,} interactions, {arm} ...", flush=True)
            try:
                runs.append(run_size(size, args, arm, arm_params))
            except RuntimeError as err:  # keep the sizes that did run
                failures.append(
                    {"interactions": size, "arm": arm, "error": str(err)[-3000:]}
                )
                print(f"{stamp()} {size:,} {arm} failed: {err}", flush=True)
                continue
            shown = {key: value for key, value in runs[-1].items() if key != "nodes"}
            print(f"{stamp()} {json.dumps(shown)}", flush=True)
    if not runs:
        sys.exit("every size failed")
    results = {
        "date": stamp(),
        "command": "python benchmarks/bench_scale.py " + " ".join(sys.argv[1:]),
        "epochs": args.epochs,
        "max_users": args.max_users,
        "test_size": args.test_size,
        "params": args.params,
        "baseline": args.baseline,
        "nodes": NODES,
        "runs": runs,
        "failures": failures,
    }
    text = markdown(results)
    print(text)
    if not args.no_save:
        print("saved:", *save_results("scale", results, text))


if __name__ == "__main__":
    main()
