"""Helpers shared by the tests (and the benchmarks, for scratch projects): the
project's parameters, scratch projects and runs in them, the kedro command
line, synthetic files of other MovieLens releases and the README's commands."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kedro.config import OmegaConfigLoader
from kedro.framework.cli.project import run as kedro_run_command
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from pydantic import BaseModel

from ncf_movielens.movielens.fetch import RawFiles, sha256
from ncf_movielens.movielens.ratings import RATING_FIELDS
from ncf_movielens.movielens.variants import GENRES, get_variant
from ncf_movielens.parameter_errors import validate_parameters
from ncf_movielens.parameters import Parameters
from ncf_movielens.runs import LOCK_FILE, RECORDS_DIR
from ncf_movielens.synthetic import make_movies, make_ratings
from ncf_movielens.tracking import STORE

PROJECT = Path(__file__).resolve().parents[1]

# --- The project's parameters, from its own YAML -----------------------------------

Group = TypeVar("Group", bound=BaseModel)


def project_params(env: str = "base", **overrides: Any) -> dict[str, Any]:
    """The parameters a run in ``env`` sees (``conf/base`` then ``conf/<env>``),
    ``overrides`` given as ``--params``, so tests take their defaults from the
    YAML and not from a second copy."""
    loader = OmegaConfigLoader(
        conf_source=str(PROJECT / "conf"),
        base_env="base",
        default_run_env=env,
        merge_strategy={"parameters": "soft"},
        runtime_params=overrides,
    )
    return loader["parameters"]


def project_options(
    group: type[Group], key: str, env: str = "base", **changes: Any
) -> Group:
    """The parameter group ``key`` as its typed object, as Kedro passes it to a
    node, with ``changes`` to its keys."""
    return group.model_validate({**project_params(env)[key], **changes})


# --- Scratch projects: this project's config around synthetic MovieLens --------

#: Training settings small enough for the tests' synthetic MovieLens.
FAST_PARAMS: dict[str, Any] = {
    "ncf": {
        "training_options": {
            "epochs": 4,
            "batch_size": 64,
            "learning_rate": 0.01,
            # XLA compiles longer than these few hundred steps take without it
            "jit_compile": False,
            "histogram_freq": 0,
        },
        "model_options": {"latent_dim_mlp": 8},
    },
    "lightfm": {"training_options": {"epochs": 3}},
    # 60 users: with MovieLens' regularisation (10) every seed converges to
    # the same nearly-zero factors.
    "ials": {"model_options": {"factors": 8, "regularization": 0.1}},
}
#: Kedro's version folders, e.g. 2026-11-29T08.31.27.123Z.
VERSION = re.compile(r"^\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d\.\d{3}Z$")


def scratch_project(root: Path) -> Path:
    """This project's config and metadata in ``root``, without data; the package
    itself is imported from the installed copy."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(
        PROJECT / "conf", root / "conf", ignore=shutil.ignore_patterns("local")
    )
    (root / "conf" / "local").mkdir()
    (root / "src").mkdir()
    return root


def use_raw_cache(project: Path, ratings_sha256: str) -> None:
    """Make the raw cache the MovieLens source list, in every environment
    (``local`` and ``seed``), with the SHA-256 of its ratings file (the real
    ml-100k's would refuse synthetic data). An environment's catalog is
    resolved on its own, so it repeats the base entry's ``_variant``."""
    base = yaml.safe_load((PROJECT / "conf" / "base" / "catalog.yml").read_text())
    catalog = {
        "_variant": base["_variant"],
        "movielens_raw": {
            **base["movielens_raw"],
            "sources": [{"type": "cache"}],
            "u_data_sha256": ratings_sha256,
        },
    }
    for env in ("local", "notebook"):
        (project / "conf" / env / "catalog.yml").write_text(yaml.safe_dump(catalog))


def make_project(
    root: Path,
    raw_files: Mapping[str, bytes],
    *,
    variant: str = "ml-100k",
    params: Mapping[str, Any] | None = None,
) -> Path:
    """A scratch project in ``root`` whose raw cache (``data/01_raw/<variant>/``)
    holds ``raw_files`` and is its only MovieLens source; ``params``, if given,
    go to ``conf/local/parameters.yml``, where a plain ``kedro run`` picks them
    up."""
    scratch_project(root)
    cache = root / "data" / "01_raw" / variant
    cache.mkdir(parents=True)
    for name, content in raw_files.items():
        (cache / name).write_bytes(content)
    use_raw_cache(root, sha256(raw_files[get_variant(variant).ratings_file]))
    if params is not None:
        (root / "conf" / "local" / "parameters.yml").write_text(
            yaml.safe_dump(dict(params))
        )
    return root


def copy_project(project: Path, root: Path) -> Path:
    """A copy of a scratch project, data and versions included."""
    shutil.copytree(project, root, symlinks=True)
    return root


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[Path]:
    """Run the block in ``path``: the NCF TensorBoard logs are relative to it."""
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(previous)


def run_session(
    project: Path,
    *,
    env: str | None = None,
    params: Mapping[str, Any] | None = None,
    **run_args: Any,
) -> dict[str, Any]:
    """One ``KedroSession`` run in ``project``, in this process (TensorFlow is
    imported once per test session, not once per run)."""
    bootstrap_project(project)
    with (
        working_directory(project),
        KedroSession.create(
            project_path=project, env=env, runtime_params=dict(params or {})
        ) as session,
    ):
        return session.run(**run_args)


def shell_words(command: str, cwd: Path) -> list[str]:
    """The words bash makes of ``command`` in ``cwd``: quotes removed, ``$(...)``
    substituted, as when it is pasted into a terminal there."""
    done = subprocess.run(
        ["bash", "-c", f"printf '%s\\0' {command}"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split("\0")[:-1]


def kedro_in_process(project: Path, command: str) -> None:
    """A ``kedro run ...`` command line, as typed in a terminal in ``project``,
    run in this process: Kedro's own ``run`` command parses its words (the same
    options and ``--params`` conversion as the terminal) and runs one
    ``KedroSession``."""
    args = shell_words(command, project)
    assert args[:2] == ["kedro", "run"], command
    bootstrap_project(project)
    with working_directory(project):
        kedro_run_command.main(args[2:], prog_name="kedro run", standalone_mode=False)


#: A run's bookkeeping under data/, not its data: the run lock and records
#: (ncf_movielens.runs) and the MLflow store, which records every run, even
#: a refused or a read-only one (ncf_movielens.tracking).
BOOKKEEPING = (
    str(LOCK_FILE.relative_to("data")),
    str(RECORDS_DIR.relative_to("data")),
    str(STORE.relative_to("data")),
)
#: NCF's TensorBoard folders are named by the save version, but hold logs, not
#: a catalog dataset's versions.
TENSORBOARD = "ncf_tensorboard"


def data_files(root: Path) -> list[Path]:
    """Every data file under ``root`` (a project's ``data/``), relative to it,
    sorted; the run lock and the run records are left out."""
    return sorted(
        path.relative_to(root)
        for path in root.rglob("*")
        if path.is_file() and not str(path.relative_to(root)).startswith(BOOKKEEPING)
    )


def digests(root: Path) -> dict[str, str]:
    """SHA-256 of every data file under ``root`` (``data_files``), by path."""
    return {
        str(path): hashlib.sha256((root / path).read_bytes()).hexdigest()
        for path in data_files(root)
    }


def versioned_digests(root: Path) -> dict[str, str]:
    """``digests`` of the files inside Kedro version folders only."""
    return {
        path: digest
        for path, digest in digests(root).items()
        if any(VERSION.match(part) for part in Path(path).parts)
        and TENSORBOARD not in Path(path).parts
    }


def versions(folder: Path) -> list[str]:
    """The version folders of a versioned dataset's path, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if VERSION.match(p.name))


def all_versions(data: Path) -> dict[str, set[str]]:
    """Version folders per versioned dataset under ``data``, keyed by the
    dataset's path relative to ``data`` (``08_reporting/ml-100k/ncf_metrics.json``)."""
    found = {}
    for folder in data.rglob("*"):
        if (
            folder.is_dir()
            and VERSION.match(folder.name)
            and folder.parent.name != TENSORBOARD
        ):
            found.setdefault(str(folder.parent.relative_to(data)), set()).add(
                folder.name
            )
    return found


def version_file(folder: Path, version: str = "latest") -> Path:
    """The file of one version (by default the newest) of the versioned dataset
    saved at ``folder``."""
    if version == "latest":
        found = versions(folder)
        assert found, f"no versions in {folder}"
        version = found[-1]
    return folder / version / folder.name


def load_json(folder: Path, version: str = "latest") -> Any:
    """One version (by default the newest) of a versioned JSON dataset."""
    return json.loads(version_file(folder, version).read_text())


def versioned_outputs(
    project: Path, pipeline: str = "__default__", **session_args: Any
) -> dict[str, Path]:
    """Every dataset that ``pipeline`` writes and whose catalog entry (or
    pattern) says ``versioned: true``, with its path relative to ``project``,
    as the run's catalog resolves them (``session_args``: ``env``,
    ``runtime_params``)."""
    bootstrap_project(project)
    with KedroSession.create(project_path=project, **session_args) as session:
        resolver = session.load_context().catalog.config_resolver
    found = {}
    for name in sorted(pipelines[pipeline].all_outputs()):
        config = resolver.resolve_pattern(name)
        if config.get("versioned"):
            found[name] = Path(config["filepath"]).relative_to(project.resolve())
    return found


# --- The kedro command line, in a child process --------------------------------

#: Set for every child ``kedro`` on top of this process's environment.
CHILD_ENV = {
    "KEDRO_DISABLE_TELEMETRY": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PYTHONUNBUFFERED": "1",  # log lines arrive as they are written
}


def start_kedro(project: Path, *args: str, **popen: Any) -> subprocess.Popen:
    """``kedro <args>`` started in ``project`` with this interpreter, its output
    (stdout and stderr) as text on ``stdout`` unless ``popen`` redirects it."""
    options = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    return subprocess.Popen(
        [sys.executable, "-m", "kedro", *args],
        cwd=project,
        env={**os.environ, **CHILD_ENV},
        **{**options, **popen},
    )


def kedro_cli(
    project: Path, *args: str, timeout: float = 300, log: Path | None = None
) -> str:
    """Run ``kedro <args>`` in ``project`` to the end and return its output (also
    written to ``log`` if given); fails with the output's tail if the command
    fails or outlives ``timeout`` seconds."""
    process = start_kedro(project, *args)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(
            f"`kedro {shlex.join(args)}` took over {timeout} s\n{output[-3000:]}"
        ) from None
    if log is not None:
        log.write_text(output)
    assert process.returncode == 0, (
        f"`kedro {shlex.join(args)}` exited with {process.returncode}\n{output[-3000:]}"
    )
    return output


# --- Synthetic data in the formats of other MovieLens releases -----------------


def ml_1m_files(n_users: int, n_items: int, n_ratings: int, seed: int = 0) -> RawFiles:
    """Synthetic ``ratings.dat`` and ``movies.dat`` as MovieLens 1M ships them:
    ``::``-separated, Latin-1, genres joined by ``|``."""
    ratings = make_ratings(n_users, n_items, n_ratings, seed=seed)
    movies = make_movies(n_items, seed)
    flags = movies[list(GENRES)].astype(bool).to_numpy()
    genres = [
        "|".join(g for g, on in zip(GENRES, row, strict=True) if on) for row in flags
    ]
    rating_lines = "".join(
        f"{u}::{i}::{r}::{t}\n"
        for u, i, r, t in ratings[list(RATING_FIELDS)].itertuples(index=False)
    )
    movie_lines = "".join(
        f"{item}::{title}::{genre}\n"
        for item, title, genre in zip(
            movies["item_id"], movies["title"], genres, strict=True
        )
    )
    return {
        "ratings.dat": rating_lines.encode("latin-1"),
        "movies.dat": movie_lines.encode("latin-1"),
    }


# --- Small models for unit tests ----------------------------------------------


def fast_ncf(**training: Any) -> dict[str, Any]:
    """``--params`` for the ``ncf`` group: the sessions' ``FAST_PARAMS`` with no
    TensorBoard logs (they would go under the working directory's data/) and
    ``training`` changes; every other option is the YAML's."""
    fast = FAST_PARAMS["ncf"]
    return {
        "model_options": fast["model_options"],
        "training_options": {
            **fast["training_options"],
            "tensorboard_log_dir": None,
            **training,
        },
    }


def ncf_params(**training: Any) -> Parameters:
    """The project's parameters with a small, fast NCF and ``training`` changes;
    ``sampling="all_pairs"`` comes with the all_pairs table the schema requires."""
    mode = "all_pairs" if training.get("sampling") == "all_pairs" else "positives"
    return validate_parameters(
        project_params(reshape_options={"mode": mode}, ncf=fast_ncf(**training))
    )


def run_metrics(label: str, p5: float, **extra: Any) -> dict[str, Any]:
    """What the evaluation writes for one run, reduced to one metric each."""
    return {
        "model": label,
        "protocols": {
            "notebook": {"description": "notebook: d", "precision@5": p5 / 2},
            "standard": {
                "description": "standard: d",
                "users": 9,
                "users_sampled": False,
                "precision@5": p5,
            },
        },
        "curves": {"k": [1, 2], "precision": [p5, p5], "recall": [0.1, 0.2]},
        **extra,
    }


# --- The README's commands --------------------------------------------------------


def readme_section(title: str) -> str:
    """The text of the README's ``## <title>`` section."""
    text = (PROJECT / "README.md").read_text()
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def readme_commands(title: str) -> list[str]:
    """The ``kedro run`` lines of a README section's code blocks, comments cut."""
    blocks = re.findall(r"```bash\n(.*?)```", readme_section(title), flags=re.S)
    lines = [
        line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()
    ]
    return [line for line in lines if line.startswith("kedro run")]
