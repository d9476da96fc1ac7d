"""The project's ``kedro run`` (Kedro takes a project's ``cli`` group over its
own commands): Kedro's run, except that a run the project refuses on purpose
ends with its message and exit code 1, no traceback; ``--verbose`` shows it."""

from __future__ import annotations

import difflib
import logging
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click
from kedro.framework.cli.project import run as kedro_run
from kedro.framework.cli.utils import KedroCliError

#: How Kedro words an unknown name in --nodes, --from-nodes or --to-nodes,
#: and in --pipelines.
UNKNOWN_NODES = "Pipeline does not contain nodes named"
UNKNOWN_PIPELINE = "Failed to find the pipeline named"


def refusal_types() -> tuple[type[Exception], ...]:
    """The project's refusals: errors that say what to change, not bugs.
    Imported only once a run has failed, so ``kedro`` starts without pandas."""
    from ncf_movielens.models.checks import DegenerateModelError  # noqa: PLC0415
    from ncf_movielens.movielens.fetch import FetchError  # noqa: PLC0415
    from ncf_movielens.movielens.movies import MoviesError  # noqa: PLC0415
    from ncf_movielens.movielens.ratings import RatingsError  # noqa: PLC0415
    from ncf_movielens.parameter_errors import ParameterError  # noqa: PLC0415
    from ncf_movielens.runs import LineageError, RunInProgress  # noqa: PLC0415

    return (
        ParameterError,
        RunInProgress,
        LineageError,
        FetchError,
        RatingsError,
        MoviesError,
        DegenerateModelError,
    )


def find_refusal(error: BaseException) -> BaseException | None:
    """The first refusal in ``error`` and its explicit causes (Kedro raises a
    ``DatasetError`` from a dataset's error); an error raised while handling a
    refusal is a bug, and keeps its traceback."""
    refusals = refusal_types()
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, refusals):
            return cause
        cause = cause.__cause__
    return None


def close_matches(name: str, valid: Iterable[str]) -> list[str]:
    """The names in ``valid`` close to ``name``, best first; a namespaced name
    (``ncf.train_model``) also matches by its last part (``train_model``)."""

    def likeness(candidate: str) -> float:
        parts = {candidate, candidate.rpartition(".")[2]}
        return max(difflib.SequenceMatcher(None, name, p).ratio() for p in parts)

    scores = {candidate: likeness(candidate) for candidate in sorted(valid)}
    return sorted((c for c, s in scores.items() if s >= 0.6), key=lambda c: -scores[c])


def unknown_nodes_message(
    unknown: Sequence[str], valid: Iterable[str], pipelines: Sequence[str]
) -> str:
    """One line: the unknown node names, then their close matches and where to
    see every node, or every node when none is close."""
    valid = sorted(set(valid))
    named = f"node{'s' * (len(unknown) > 1)} " + ", ".join(map(repr, unknown))
    where = f"pipeline{'s' * (len(pipelines) > 1)} {', '.join(pipelines)}"
    matches = list(
        dict.fromkeys(m for name in unknown for m in close_matches(name, valid))
    )
    if not matches:
        return f"No {named} in {where}; its nodes: {', '.join(valid)}."
    describe = " and ".join(f"`kedro registry describe {p}`" for p in pipelines)
    return (
        f"No {named} in {where}. Did you mean {', '.join(matches)}? "
        f"All {len(valid)} nodes: {describe}."
    )


def refusal_message(error: BaseException, options: dict[str, Any]) -> str | None:
    """What to print instead of ``error``'s traceback, or None for a bug."""
    refusal = find_refusal(error)
    if refusal is not None:
        return str(refusal)
    if isinstance(error, ValueError) and str(error).startswith(UNKNOWN_NODES):
        return _unknown_nodes(options)
    if isinstance(error, ValueError) and str(error).startswith(UNKNOWN_PIPELINE):
        return _unknown_pipelines(options)
    return None


def _requested_pipelines(options: dict[str, Any]) -> list[str]:
    if options["pipeline"]:
        return [options["pipeline"]]
    return sorted(set(options["pipelines"])) or ["__default__"]


def _unknown_nodes(options: dict[str, Any]) -> str | None:
    from kedro.framework.project import pipelines as registry  # noqa: PLC0415

    pipelines = _requested_pipelines(options)
    valid = {node.name for name in pipelines for node in registry[name].nodes}
    asked = [*options["node_names"], *options["from_nodes"], *options["to_nodes"]]
    unknown = list(dict.fromkeys(name for name in asked if name not in valid))
    return unknown_nodes_message(unknown, valid, pipelines) if unknown else None


def _unknown_pipelines(options: dict[str, Any]) -> str | None:
    from kedro.framework.project import pipelines as registry  # noqa: PLC0415

    known = sorted(registry.keys())  # Kedro has loaded them all by now
    unknown = [name for name in _requested_pipelines(options) if name not in known]
    if not unknown:
        return None
    named = f"pipeline{'s' * (len(unknown) > 1)} " + ", ".join(map(repr, unknown))
    return f"No {named}; the pipelines: {', '.join(known)}."


def _unless_refused(record: logging.LogRecord) -> bool:
    """A filter for Kedro's "Node ... failed with error" line: dropped when the
    error is a refusal, which ends the run with that same message. Kedro logs
    it in its ``except`` block, so the error is the one being handled."""
    error = sys.exc_info()[1]
    return record.levelno < logging.ERROR or error is None or not find_refusal(error)


@click.group(name="ncf-movielens")
def cli() -> None:
    """The project's commands, which replace Kedro's of the same name."""


@cli.command("run", params=list(kedro_run.params), help=kedro_run.help)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Show the full traceback of a refused run, as of any other error.",
)
@click.pass_context
def run(ctx: click.Context, verbose: bool, **options: Any) -> Any:
    KedroCliError.VERBOSE_ERROR = verbose  # Kedro's own errors, too
    # Kedro's own command, in a context of its own: the hooks recognise it.
    if verbose:
        return ctx.invoke(kedro_run, **options)
    node_log = logging.getLogger("kedro.pipeline.node")
    node_log.addFilter(_unless_refused)
    try:
        return ctx.invoke(kedro_run, **options)
    except Exception as error:
        message = refusal_message(error, options)
        if message is None:
            raise
        raise click.ClickException(message) from None
    finally:
        node_log.removeFilter(_unless_refused)


@cli.command("prune")
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    required=True,
    help="How many versions of each output, and MLflow runs, to keep (newest).",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
def prune(keep: int, dry_run: bool) -> None:
    """Remove all but the newest KEEP versions of every versioned output (and
    TensorBoard folder) and all but the newest KEEP MLflow runs, with their
    artifacts and their trials' child runs."""
    from kedro.utils import find_kedro_project  # noqa: PLC0415

    from ncf_movielens.pruning import prune as prune_project  # noqa: PLC0415
    from ncf_movielens.runs import RunInProgress  # noqa: PLC0415

    project = find_kedro_project(Path.cwd()) or Path.cwd()
    try:
        pruned = prune_project(project, keep, dry_run=dry_run)
    except RunInProgress as error:
        raise click.ClickException(str(error)) from None
    verb = "would remove" if dry_run else "removed"
    for folder in pruned.folders:
        click.echo(f"{verb} {folder.relative_to(project)}")
    for run_id in pruned.runs:
        click.echo(f"{verb} MLflow run {run_id}")
    click.echo(
        f"{verb} {len(pruned.folders)} version folders, {len(pruned.records)} "
        f"run records and {len(pruned.runs)} MLflow runs; kept the newest {keep}"
    )
