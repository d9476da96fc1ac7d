"""Helpers for the kedro-viz browser test (tests/test_viz_browser.py): the
`kedro viz run` server, a static file server, and a headless Debian Chromium
driven by Playwright (never `playwright install`: the browser is the system
one)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .support import start_kedro

#: Debian's `chromium` package; CI installs it (.ci/run).
CHROMIUM = Path(os.environ.get("KEDRO_VIZ_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1600, "height": 1000}
#: kedro-viz keeps its UI state in localStorage under this key; starting each
#: page with the feature-hint tour switched off keeps it from covering nodes.
_NO_FEATURE_HINTS = (
    "window.localStorage.setItem('KedroViz', JSON.stringify({showFeatureHints: false}))"
)


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    text = path.read_text(errors="replace").splitlines()
    return f"--- last lines of {path}:\n" + "\n".join(text[-lines:])


def free_port() -> int:
    """A free TCP port on 127.0.0.1 below 49152: kedro-viz refuses to start on
    a higher one (and moves on to the next port when the asked one is taken)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20_000, 49_000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("found no free TCP port on 127.0.0.1 for kedro-viz")


def get_json(url: str, timeout: float = 10) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


_RUNNING_AT = re.compile(r"Kedro Viz is running at\s+(http://127\.0\.0\.1:\d+)")


@contextlib.contextmanager
def viz_server(project: Path, log: Path, startup_timeout: float = 90) -> Iterator[str]:
    """`kedro viz run` on a free port of 127.0.0.1; yields its base URL once
    ``/api/main`` answers, and stops it (and the server process it spawns)
    on exit."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        process = start_kedro(
            project,
            *("viz", "run", "--no-browser", "--host", "127.0.0.1", "--port", str(port)),
            stdout=out,
            start_new_session=True,  # its own process group, to stop it whole
        )
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"`kedro viz run` exited with {process.returncode}\n{tail(log)}"
                )
            # kedro-viz takes the next port if the asked one got taken meanwhile
            announced = _RUNNING_AT.findall(log.read_text(errors="replace"))
            if announced:
                base = announced[-1]
            try:
                get_json(f"{base}/api/main", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"`kedro viz run` did not answer on {base}/api/main within "
                        f"{startup_timeout} s\n{tail(log)}"
                    )
                time.sleep(0.5)
        yield base
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL, the process group led by ``process`` (kedro viz
    serves from a multiprocessing child that must not outlive the test)."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # the group may outlive its leader for a moment; make sure it is gone
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 (a free port) from a thread."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def chromium_context(user_data_dir: Path) -> Iterator[object]:
    """A Playwright browser context on the system Chromium with a fresh
    profile. Fails (never skips) when Chromium or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}; the kedro-viz browser test "
            "needs it. Install it with `apt-get install -y chromium` (CI does "
            "this in .ci/run)."
        )
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415
    except ImportError:
        pytest.fail(
            "The Python package `playwright` is missing; install the dev extra: "
            "pip install -e '.[dev]' (do not run `playwright install`: the test "
            "uses the system Chromium)."
        )
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
        )
        context.add_init_script(_NO_FEATURE_HINTS)
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


@dataclass(frozen=True)
class DrawnNode:
    """One node drawn in the flowchart: an SVG ``g.pipeline-node`` group."""

    id: str
    type: str  # task, data, parameters or modularPipeline
    label: str  # the text drawn on the node
    visible: bool  # has a non-empty box on the page


_COLLECT_NODES = """els => els.map(e => {
    const box = e.getBoundingClientRect();
    const text = e.querySelector('text.pipeline-node__text');
    return {
        id: e.dataset.id,
        type: e.dataset.nodeType,
        label: text ? text.textContent.trim() : '',
        visible: box.width > 0 && box.height > 0 && !!text
            && getComputedStyle(e).visibility !== 'hidden',
    };
})"""

_ALL_DRAWN = """ids => ids.every(id => {
    const e = document.querySelector(`svg g.pipeline-node[data-id="${id}"]`);
    const text = e && e.querySelector('text.pipeline-node__text');
    return !!text && text.textContent.trim() !== ''
        && e.getBoundingClientRect().width > 0;
})"""


_SETTLED = """() => {
    const layout = [...document.querySelectorAll('svg g.pipeline-node')]
        .map(e => { const b = e.getBoundingClientRect();
                    return `${e.dataset.id}:${b.x},${b.y},${b.width},${b.height}`; })
        .join('|');
    const settled = window.__lastLayout === layout;
    window.__lastLayout = layout;
    return settled;
}"""


def open_flowchart(
    page, url: str, expected_ids: list[str], *, settle: bool = False
) -> list[DrawnNode]:
    """Load ``url`` and return the flowchart's nodes once every id in
    ``expected_ids`` is drawn (or, after 30 s, whatever is drawn then, so
    that the caller's assertion reports the difference). With ``settle``, also
    wait for the layout transitions to end and close any banner (before a
    screenshot or a click)."""
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("svg g.pipeline-node", state="attached")
    with contextlib.suppress(Exception):  # playwright's TimeoutError
        page.wait_for_function(_ALL_DRAWN, arg=expected_ids, timeout=30_000)
        if settle:  # the same boxes 250 ms apart
            page.wait_for_function(_SETTLED, polling=250, timeout=10_000)
    if settle:
        dismiss_banners(page)
    return [
        DrawnNode(**row)
        for row in page.eval_on_selector_all("svg g.pipeline-node", _COLLECT_NODES)
    ]


def drawn_layers(page) -> list[str]:
    """The layer names the flowchart shows beside its layer bands, top down."""
    return page.eval_on_selector_all(
        "li.pipeline-layer-name", "els => els.map(e => e.textContent.trim())"
    )


def dismiss_banners(page) -> None:
    """Close the "new version" banner and any feature hint, if shown."""
    for locator in (
        page.get_by_role("button", name="Dismiss"),
        page.locator(".feature-hints__close"),
    ):
        with contextlib.suppress(Exception):
            if locator.count() and locator.first.is_visible():
                locator.first.click(timeout=2_000)


def open_dataset_preview(page, dataset: str) -> dict:
    """Click the flowchart node of ``dataset`` and return what its metadata
    panel shows: title, and the preview table's header and first column."""
    node = page.locator(f'svg g.pipeline-node[data-node-fullname="{dataset}"]')
    node.click()
    panel = page.locator(".pipeline-metadata--visible")
    panel.wait_for(state="visible", timeout=15_000)
    page.locator(".pipeline-metadata__title", has_text=dataset).wait_for(
        state="visible", timeout=15_000
    )
    table = panel.locator(".pipeline-metadata__preview table.preview-table")
    table.wait_for(state="visible", timeout=15_000)
    page.wait_for_timeout(500)
    return {
        "title": panel.locator(".pipeline-metadata__title").inner_text().strip(),
        "header": [h.strip() for h in table.locator("th").all_inner_texts()],
        "first_column": [
            c.strip()
            for c in table.locator(
                "tr.preview-table__row td:first-child"
            ).all_inner_texts()
        ],
    }


def screenshot(page, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")  # noqa: T201
    return path


@contextlib.contextmanager
def screenshot_on_failure(page, path: Path) -> Iterator[None]:
    """On any exception inside the block, save a screenshot (and say where)
    before re-raising, so that a failing run shows what the browser saw."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            screenshot(page, path)
        raise
