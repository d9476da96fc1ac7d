"""Benchmark (e): one NCF training step, dense against sparse embedding updates,
at the table sizes of ml-100k, the 1M, 5M and 25M synthetic data
(``bench_scale.py``'s shapes); milliseconds per step, medians, and their ratio.

    python benchmarks/bench_ncf_step.py
    python benchmarks/bench_ncf_step.py --batch-size 65536 --shapes 162540x59047

Each (shape, mode) builds the default NeuMF for ``users x items`` and fits it
on Zipf-distributed ids, XLA-compiled with 16 steps per call as the project
trains it, in a child process of its own (one TensorFlow, one XLA cache each),
one epoch to compile and then ``--repeats`` timed epochs. This is the step
only: no negative sampling, no validation. ``dense`` is Keras' Adam with L2 on
the whole tables, ``sparse`` LazyAdam with per-batch L2 (README,
"Parameters"). Writes data/08_reporting/benchmarks/ncf_step.{json,md}
(versioned).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from _common import PROJECT, median, save_results, stamp

#: ml-100k's users x items, and bench_scale.py's at 1M, 5M and 25M interactions.
SHAPES = ("943x1682", "6502x11809", "32508x26407", "162540x59047")

_STEP = """
import json, sys, time
import keras, numpy as np
from ncf_movielens.models.lazy_adam import LazyAdam
from ncf_movielens.models.neumf import build_neumf

users, items, batch, steps, repeats = (int(a) for a in sys.argv[1:6])
sparse = sys.argv[6] == "sparse"
rng = np.random.default_rng(0)
n = batch * steps
x = {"user_id": (rng.zipf(1.3, n) % users).astype(np.int32),
     "item_id": (rng.zipf(1.3, n) % items).astype(np.int32)}
y = rng.integers(0, 2, n).astype(np.float32)
keras.utils.set_random_seed(0)
model = build_neumf(users, items, 16, 16, 0.0, 0.01, (8, 4), (0.01, 0.01), "relu",
                    embedding_l2="batch" if sparse else "table")
optimizer = LazyAdam if sparse else keras.optimizers.Adam
model.compile(optimizer=optimizer(learning_rate=0.01), loss="binary_crossentropy",
              jit_compile=True, steps_per_execution=16)
model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)  # compiles
times = []
for _ in range(repeats):
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    times.append((time.perf_counter() - start) / steps * 1000)
print(json.dumps(times))
"""


def step_ms(shape: str, mode: str, args: argparse.Namespace) -> list[float]:
    users, items = shape.split("x")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            _STEP,
            users,
            items,
            str(args.batch_size),
            str(args.steps),
            str(args.repeats),
            mode,
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def markdown(results: dict) -> str:
    lines = [
        f"# One NCF training step, dense against sparse embedding updates, "
        f"{results['date']}",
        "",
        f"Batch {results['batch_size']:,}, {results['steps']} steps per timed "
        f"epoch, medians of {results['repeats']} epochs; 2 CPU cores. Command: "
        f"`{results['command']}`.",
        "",
        "| users x items | table rows | dense (ms/step) | sparse (ms/step) | "
        "sparse / dense |",
        "|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['shape']} | {row['rows']:,} | {row['dense']:.1f} | "
            f"{row['sparse']:.1f} | {row['sparse'] / row['dense']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES))
    parser.add_argument("--batch-size", type=int, default=16384)
    parser.add_argument("--steps", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for shape in args.shapes:
        row = {"shape": shape, "rows": sum(int(n) for n in shape.split("x"))}
        for mode in ("dense", "sparse"):
            row[f"{mode}_runs"] = step_ms(shape, mode, args)
            row[mode] = median(row[f"{mode}_runs"])
        print(f"{stamp()} {json.dumps(row)}", flush=True)
        rows.append(row)
    results = {
        "date": stamp(),
        "command": "python benchmarks/bench_ncf_step.py " + " ".join(sys.argv[1:]),
        "batch_size": args.batch_size,
        "steps": args.steps,
        "repeats": args.repeats,
        "rows": rows,
    }
    text = markdown(results)
    print(text)
    print("saved:", *save_results("ncf_step", results, text))


if __name__ == "__main__":
    main()
