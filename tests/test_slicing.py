"""The README's slicing commands, run as written in subprocesses after a full
run, on a synthetic project: each creates exactly the version folders it
should, and ``--load-versions`` really loads the older version."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .test_pipeline_run import FAST_PARAMS, PROJECT, make_project

DATA_ENGINEERING = {
    "02_intermediate/ratings.parquet",
    "02_intermediate/movies.parquet",
    "03_primary/train_ratings.parquet",
    "03_primary/test_ratings.parquet",
    "03_primary/train_matrix.npz",
    "03_primary/test_matrix.npz",
}
REPORTS = {
    "08_reporting/model_comparison.json",
    "08_reporting/model_comparison.csv",
    "08_reporting/model_comparison.md",
    "08_reporting/model_comparison.png",
}


def _model(name: str, *, seeds: bool = False) -> set[str]:
    outputs = {
        f"06_models/{name}_model.{'keras' if name == 'ncf' else 'pkl'}",
        f"08_reporting/{name}_metrics.json",
        f"07_model_output/{name}_recommendations.parquet",
    }
    return outputs | ({f"08_reporting/{name}_seed_metrics.json"} if seeds else set())


EVERYTHING = (
    DATA_ENGINEERING
    | REPORTS
    | _model("ncf", seeds=True)
    | _model("lightfm", seeds=True)
    | _model("most_popular")
    | _model("ease")
    | {"07_model_output/ncf_training_history.json"}
)
#: What each README slicing command must version, and nothing more.
EXPECTED = {
    "kedro run --pipelines=data_engineering": DATA_ENGINEERING,
    "kedro run --nodes=lightfm.train_model": {"06_models/lightfm_model.pkl"},
    "kedro run --from-nodes=ncf.train_model": (
        _model("ncf") | REPORTS | {"07_model_output/ncf_training_history.json"}
    ),
    "kedro run --to-nodes=binarize_ratings": DATA_ENGINEERING
    - {"02_intermediate/movies.parquet"},
    "kedro run --tags=ease": _model("ease"),
    "kedro run --namespaces=lightfm": _model("lightfm", seeds=True),
    "kedro run --params=seeds=3": EVERYTHING,
}


def readme_commands(section: str) -> list[str]:
    """The ``kedro run`` lines of a README section's code blocks, comments cut."""
    text = (PROJECT / "README.md").read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", body, flags=re.S)
    lines = [
        line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()
    ]
    return [line for line in lines if line.startswith("kedro run")]


def versions(data: Path) -> dict[str, set[str]]:
    """Version folders per versioned dataset (a folder named like a file)."""
    found = {}
    for folder in data.glob("0*/*"):
        if folder.is_dir() and folder.suffix:
            found[str(folder.relative_to(data))] = {v.name for v in folder.iterdir()}
    return found


def kedro(project: Path, command: str) -> subprocess.CompletedProcess:
    args = command.split()[1:]  # drop "kedro"; run it with this interpreter
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "kedro", *args],
        check=False,
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (
        f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


@pytest.fixture(scope="module")
def project(tmp_path_factory, raw_files) -> Path:
    root = make_project(tmp_path_factory.mktemp("slicing"), raw_files)
    # Small-data training settings, merged over conf/base like any local config,
    # so that the README's commands run exactly as written.
    (root / "conf" / "local" / "parameters.yml").write_text(yaml.safe_dump(FAST_PARAMS))
    kedro(root, "kedro run")
    return root


def test_readme_lists_every_slicing_flag():
    commands = readme_commands("Slicing")
    assert set(commands) == set(EXPECTED)
    for flag in (
        "--pipelines",
        "--nodes",
        "--from-nodes",
        "--to-nodes",
        "--tags",
        "--namespaces",
    ):
        assert any(f"{flag}=" in command for command in commands), flag


@pytest.mark.slow
@pytest.mark.parametrize("command", list(EXPECTED))
def test_slice_creates_exactly_its_versions(project, command):
    data = project / "data"
    before = versions(data)
    kedro(project, command)
    after = versions(data)
    created = {name for name, found in after.items() if found - before.get(name, set())}
    assert created == EXPECTED[command]
    for name, found in before.items():
        assert found <= after[name], f"{command} removed a version of {name}"


@pytest.mark.slow
def test_load_versions_pins_an_older_model(project):
    (command,) = [
        c for c in readme_commands("Outputs and versions") if "--load-versions" in c
    ]
    models = project / "data/06_models/lightfm_model.pkl"
    kedro(
        project,
        "kedro run --nodes=lightfm.train_model --params=lightfm.training_options.epochs=1",
    )
    oldest, *_, newest = sorted(v.name for v in models.iterdir())
    command = re.sub(r"lightfm\.model:\S+", f"lightfm.model:{oldest}", command)
    kedro(project, command)
    metrics_dir = project / "data/08_reporting/lightfm_metrics.json"
    runs = sorted(metrics_dir.iterdir())
    pinned = json.loads((runs[-1] / "lightfm_metrics.json").read_text())
    first = json.loads((runs[0] / "lightfm_metrics.json").read_text())
    # The oldest model is the full run's: its metrics come back unchanged, and
    # differ from the newest (one-epoch) model's.
    assert pinned["protocols"] == first["protocols"]
    kedro(project, "kedro run --nodes=lightfm.evaluate_model")
    latest = json.loads(
        (sorted(metrics_dir.iterdir())[-1] / "lightfm_metrics.json").read_text()
    )
    assert latest["protocols"] != first["protocols"], newest
