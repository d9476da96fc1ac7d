"""Helpers for the MLflow UI browser test (tests/test_mlflow_browser.py): the
MLflow tracking server on a copy of a project's store, and the checks made in
the UI with the headless Chromium of tests/viz_support.py.

A store is a folder holding ``mlflow.db`` (the SQLite backend) and
``artifacts/`` (the artifact root), as ``kedro run`` leaves it in
``data/10_tracking``. The server only ever sees a copy: it migrates the
database it is given, and the copy's artifact paths are pointed at the copy's
own artifact folder, so that nothing of the original is read or written.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from .viz_support import _stop_group, free_port, tail

#: The ``mlflow`` command of this interpreter's environment (the venv's).
MLFLOW = Path(sys.executable).with_name("mlflow")
#: Columns of MLflow's tables that hold an artifact location.
_ARTIFACT_COLUMNS = ("artifact_location", "artifact_uri")
#: Patient waits: the machine has two shared cores.
PAGE_TIMEOUT = 60_000  # ms


def copy_store(source: Path, target: Path) -> Path:
    """Copy the store folder ``source`` (``mlflow.db``, ``artifacts/``) to
    ``target`` and point the copy's artifact locations (of experiments, runs
    and logged models: plain paths or ``file://`` URIs) from
    ``source/artifacts`` to ``target/artifacts``. Locations elsewhere are
    left as they are."""
    source, target = Path(source).absolute(), Path(target).resolve()
    assert (source / "mlflow.db").is_file(), f"no MLflow database in {source}"
    shutil.copytree(source, target, symlinks=True)
    new = (target / "artifacts").as_posix()
    olds = {(folder / "artifacts").as_posix() for folder in (source, source.resolve())}
    prefixes = [prefix for old in olds for prefix in (old, f"file://{old}")]
    with contextlib.closing(sqlite3.connect(target / "mlflow.db")) as db, db:
        tables = [
            row[0]
            for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            columns = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
            for column, prefix in (
                (column, prefix)
                for column in columns.intersection(_ARTIFACT_COLUMNS)
                for prefix in prefixes
            ):
                # prefix itself, or prefix/...: the rest of the path is kept
                db.execute(
                    f'UPDATE "{table}" SET "{column}" = ? || substr("{column}", ?) '
                    f'WHERE "{column}" = ? OR substr("{column}", 1, ?) = ?',
                    (new, len(prefix) + 1, prefix, len(prefix) + 1, f"{prefix}/"),
                )
    return target


def tracking_uri(store: Path) -> str:
    """The SQLite tracking URI of a store folder."""
    return f"sqlite:///{(Path(store).resolve() / 'mlflow.db').as_posix()}"


@contextlib.contextmanager
def mlflow_ui(
    store: Path, workdir: Path, startup_timeout: float = 120
) -> Iterator[str]:
    """Copy the store folder ``store`` into ``workdir/store`` and serve the
    copy with ``mlflow server`` (tracking API and UI) on a free port of
    127.0.0.1; yields the base URL once ``/health`` answers and stops the
    server's process group on exit. The server's output goes to
    ``workdir/mlflow_server.log``, whose tail any failure to start shows."""
    copy = copy_store(store, Path(workdir) / "store")
    log = Path(workdir) / "mlflow_server.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        str(MLFLOW),
        "server",
        *("--backend-store-uri", tracking_uri(copy)),
        *("--default-artifact-root", (copy / "artifacts").as_posix()),
        # the runs' artifacts are local paths the server lists itself
        "--no-serve-artifacts",
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
    ]
    env = {
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    with log.open("w") as out:
        process = subprocess.Popen(
            command,
            cwd=copy,  # anything it writes relative to its cwd lands in the copy
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, to stop it whole
        )
    try:
        started = time.monotonic()
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"`mlflow server` exited with {process.returncode} before "
                    f"answering on {base}/health\n{tail(log)}"
                )
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() - started > startup_timeout:
                pytest.fail(
                    f"`mlflow server` did not answer on {base}/health within "
                    f"{startup_timeout} s\n{tail(log)}"
                )
            time.sleep(0.5)
        print(f"mlflow server up in {time.monotonic() - started:.1f} s: {base}")  # noqa: T201
        yield base
    finally:
        _stop_group(process)


def js_number(value: float) -> str:
    """``String(value)`` in JavaScript, which is how the MLflow UI shows a
    metric's value (unrounded): the shortest digits that round-trip, as
    Python's ``repr``, laid out by ECMAScript's Number::toString (``1`` for
    1.0, ``1e-7`` for 1e-07, ``0.000001`` for 1e-06)."""
    value = float(value)
    if not math.isfinite(value):
        return {math.inf: "Infinity", -math.inf: "-Infinity"}.get(value, "NaN")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = exponent + k  # value = 0.digits * 10**n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        text = f"0.{'0' * -n}{digits}"
    else:
        mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return sign + text


def experiment_url(base: str, experiment_id: str) -> str:
    return f"{base}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def run_url(base: str, experiment_id: str, run_id: str) -> str:
    return (
        f"{base}/#/experiments/{experiment_id}/runs/{run_id}"
        "?workflowType=machine_learning"
    )


def experiment_id_of(base: str, experiment_name: str) -> str:
    """The id of the experiment named ``experiment_name``, from the server's
    REST API (the UI's URLs use ids)."""
    url = f"{base}/api/2.0/mlflow/experiments/get-by-name?" + urllib.parse.urlencode(
        {"experiment_name": experiment_name}
    )
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.load(response)["experiment"]["experiment_id"]
    except urllib.error.HTTPError as error:
        pytest.fail(
            f"the tracking server has no experiment {experiment_name!r}: "
            f"{error.code} {error.read().decode(errors='replace')[:500]}"
        )


def assert_run_in_ui(
    page,
    base: str,
    experiment_name: str,
    run_name: str,
    metric: str,
    value: float,
    artifacts: list[str] | tuple[str, ...] = (),
) -> str:
    """In the MLflow UI at ``base``: the runs page of ``experiment_name`` lists
    a run named ``run_name``; that run's page, with ``metric`` typed in its
    "Search metrics" box, shows ``metric`` with ``value`` exactly as
    JavaScript prints it; its Artifacts tab lists each of ``artifacts`` (top
    level names). Returns the run's id (read from its link)."""
    experiment_id = experiment_id_of(base, experiment_name)
    page.goto(experiment_url(base, experiment_id), wait_until="domcontentloaded")
    # The runs table (ag-grid): one row per run, its name a link to the run.
    exact = re.compile(rf"^\s*{re.escape(run_name)}\s*$")
    links = page.locator("[role=row] a").filter(has_text=exact)
    try:
        links.first.wait_for(state="visible", timeout=PAGE_TIMEOUT)
    except Exception:  # playwright's TimeoutError: say what the page shows
        shown = page.locator("body").inner_text()[:3000]
        pytest.fail(
            f"run {run_name!r} is not listed on the runs page of experiment "
            f"{experiment_name!r} ({page.url}) after {PAGE_TIMEOUT / 1000:.0f} s; "
            f"the page shows:\n{shown}"
        )
    assert links.count() == 1, (
        f"expected one run named {run_name!r} on {page.url}; "
        f"run links: {page.locator('[role=row] a').all_inner_texts()}"
    )
    href = links.first.get_attribute("href") or ""
    prefix = f"#/experiments/{experiment_id}/runs/"
    assert prefix in href, f"the link of run {run_name!r} goes to {href!r}"
    run_id = href.split(prefix, 1)[1].split("?", 1)[0].split("/", 1)[0]
    print(f"MLflow UI lists run {run_name!r} ({run_id}) in {experiment_name!r}")  # noqa: T201

    page.goto(run_url(base, experiment_id, run_id), wait_until="domcontentloaded")
    page.get_by_role("heading", name=run_name).or_(
        page.get_by_text(run_name, exact=True)
    ).first.wait_for(state="visible", timeout=PAGE_TIMEOUT)
    search = page.get_by_placeholder("Search metrics")
    search.wait_for(state="visible", timeout=PAGE_TIMEOUT)
    search.fill(metric)
    # The metrics table: a row per metric, its key a link, then its value.
    rows = page.locator("[role=row]").filter(
        has=page.get_by_role("link", name=metric, exact=True)
    )
    try:
        rows.first.wait_for(state="visible", timeout=PAGE_TIMEOUT)
    except Exception:
        shown = page.locator("body").inner_text()[:3000]
        pytest.fail(
            f"metric {metric!r} is not shown on the page of run {run_name!r} "
            f"({page.url}) after searching for it; the page shows:\n{shown}"
        )
    cells = [c.strip() for c in rows.first.locator("[role=cell]").all_inner_texts()]
    expected = js_number(value)
    assert cells == [metric, expected], (
        f"run {run_name!r}: metric row {cells}, expected [{metric!r}, {expected!r}]"
    )
    print(f"MLflow UI shows {metric} = {cells[1]} for run {run_name!r}")  # noqa: T201

    if artifacts:
        page.get_by_role("tab", name="Artifacts").or_(
            page.get_by_role("link", name="Artifacts", exact=True)
        ).first.click()
        for name in artifacts:
            entry = page.get_by_text(name, exact=True).first
            try:
                entry.wait_for(state="visible", timeout=PAGE_TIMEOUT)
            except Exception:
                shown = page.locator("body").inner_text()[:3000]
                pytest.fail(
                    f"artifact {name!r} of run {run_name!r} is not listed in its "
                    f"Artifacts tab ({page.url}); the page shows:\n{shown}"
                )
        print(f"MLflow UI lists the artifacts {list(artifacts)} of {run_name!r}")  # noqa: T201
    return run_id
