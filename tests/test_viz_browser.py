"""kedro-viz in a real (headless) browser: on a copy of the project that has
run the study once on synthetic MovieLens, `kedro viz run` draws every node of
every registered pipeline beside the layers of its datasets (raw to
reporting), clicking the comparison table shows its preview, and the static
site from `kedro viz build` (built meanwhile) does the same.

Needs Debian's Chromium at /usr/bin/chromium (`apt-get install -y chromium`;
.ci/run installs it) and the `playwright` Python package, which drives that
browser directly: `playwright install` is never needed. Without Chromium the
test fails (errors at setup) rather than skips.

kedro-viz 12 draws raw node names by default ("Pretty name" is off; a pretty
label such as "Train Model" would be accepted too) and collapses modular
pipelines into one group node per namespace (``ease``, ``lightfm``,
``most_popular``, ``ncf``). The test checks the default view of the default
pipeline (those group nodes plus the nodes outside any namespace), then shows
every registered pipeline in turn with every modular pipeline expanded
(``?pid=<pipeline>&expandAllPipelines=true``, the URL form of the pipeline
menu and of "Expand all"), where each of the pipeline's task nodes must be
drawn with its name. Every pipeline, not only ``__default__``: a registered
pipeline may hold nodes that the default one leaves out. Nodes are matched by
kedro-viz's node id (``data-id`` on the SVG group), because names such as
``train_model`` recur in every namespace; the expected ids come from
kedro-viz's API, which is first checked against the project's pipeline
registry.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project

from .support import copy_project, kedro_cli, version_file
from .viz_support import (
    DrawnNode,
    chromium_context,
    drawn_layers,
    get_json,
    open_dataset_preview,
    open_flowchart,
    screenshot,
    screenshot_on_failure,
    static_server,
    viz_server,
)

pytestmark = pytest.mark.browser

#: Where the lead looks at the dataset-preview screenshot after a run.
SHARED_SCREENSHOT = Path("/tmp/kedro_viz_screenshot.png")
COMPARISON_TABLE = "model_comparison_table"
COMPARISON_CSV = "data/08_reporting/ml-100k/model_comparison.csv"
#: The catalog's kedro-viz layers, from the raw data to the reports.
LAYERS = [
    "raw",
    "intermediate",
    "primary",
    "model_input",
    "models",
    "model_output",
    "reporting",
]


@dataclass(frozen=True)
class Task:
    id: str
    name: str  # as kedro-viz labels it: without the namespace
    namespace: str | None

    @property
    def full_name(self) -> str:
        return f"{self.namespace}.{self.name}" if self.namespace else self.name


@dataclass(frozen=True)
class Expected:
    main: str  # the pipeline kedro-viz shows first (__default__)
    pipelines: dict[str, dict[str, Task]]  # pipeline id -> node id -> task node
    layers: dict[str, list[str]]  # pipeline id -> the layers of its datasets

    @property
    def tasks(self) -> dict[str, Task]:
        """Task nodes of every pipeline, by node id."""
        return {id_: t for tasks in self.pipelines.values() for id_, t in tasks.items()}


def _task(node: dict) -> Task:
    namespaces = node.get("modular_pipelines") or []
    namespace = max(namespaces, key=len) if namespaces else None
    name = node["name"]
    if namespace and name.startswith(f"{namespace}."):
        name = name[len(namespace) + 1 :]
    return Task(id=node["id"], name=name, namespace=namespace)


def _same_label(label: str, name: str) -> bool:
    """A node's label is its name, or its "pretty name" if that setting is on
    ("Train Model" for train_model)."""

    def norm(text: str) -> str:
        return " ".join(text.replace("_", " ").split()).casefold()

    return norm(label) == norm(name)


def _labels(drawn: list[DrawnNode]) -> dict[str, DrawnNode]:
    return {node.id: node for node in drawn}


# --- module fixtures: one project, one run, one server, one browser ------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[object]:
    with chromium_context(tmp_path_factory.mktemp("chromium_profile")) as context:
        yield context


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("viz_logs")


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("viz_screenshots")


@pytest.fixture(scope="module")
def study(studied_project, tmp_path_factory) -> Path:
    """A copy of the studied project (one full run on synthetic MovieLens), so
    that every dataset has something to preview."""
    return copy_project(studied_project, tmp_path_factory.mktemp("viz") / "project")


@pytest.fixture(scope="module", autouse=True)
def static_build(studied_project, tmp_path_factory, logs) -> Iterator[Future[Path]]:
    """`kedro viz build --include-previews` in a copy of the studied project of
    its own, started with the module so that it builds while the live server is
    tested; its result is the ``build`` folder (or the command's failure)."""
    project = copy_project(studied_project, tmp_path_factory.mktemp("viz_build") / "p")

    def build() -> Path:
        args = ("viz", "build", "--include-previews")
        kedro_cli(project, *args, log=logs / "build.log", timeout=300)
        return project / "build"

    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(build)


@pytest.fixture(scope="module")
def registry(study) -> dict[str, set[str]]:
    """The project's registered pipelines: name -> full names of their nodes."""
    bootstrap_project(study)  # (re)configures kedro's lazy `pipelines` mapping
    return {
        name: {node.name for node in pipe.nodes} for name, pipe in pipelines.items()
    }


@pytest.fixture(scope="module")
def viz(study, logs) -> Iterator[str]:
    with viz_server(study, logs / "viz_run.log") as base_url:
        yield base_url


@pytest.fixture(scope="module")
def expected(viz) -> Expected:
    """Task nodes of every pipeline, as kedro-viz's own API lists them."""
    main = get_json(f"{viz}/api/main")
    tasks, layers = {}, {}
    for pipeline in main["pipelines"]:
        graph = get_json(f"{viz}/api/pipelines/{pipeline['id']}")
        found = [_task(node) for node in graph["nodes"] if node["type"] == "task"]
        tasks[pipeline["id"]] = {task.id: task for task in found}
        # kedro-viz draws the layers of the pipeline's own datasets ("layers"
        # here lists every layer of the project).
        own = {node["layer"] for node in graph["nodes"] if node.get("layer")}
        layers[pipeline["id"]] = [layer for layer in main["layers"] if layer in own]
    return Expected(main=main["selected_pipeline"], pipelines=tasks, layers=layers)


# --- checks shared by the live server and the static build ----------------------


def _assert_all_tasks_drawn(
    drawn: list[DrawnNode], tasks: dict[str, Task]
) -> list[str]:
    by_id = _labels(drawn)
    missing = sorted(task.full_name for id_, task in tasks.items() if id_ not in by_id)
    assert not missing, (
        f"task nodes not drawn: {missing}; drawn: {sorted(n.label for n in drawn)}"
    )
    wrong = {
        task.full_name: by_id[id_].label
        for id_, task in tasks.items()
        if not _same_label(by_id[id_].label, task.name)
    }
    assert not wrong, f"task nodes drawn with other labels: {wrong}"
    hidden = sorted(
        task.full_name for id_, task in tasks.items() if not by_id[id_].visible
    )
    assert not hidden, f"task nodes without a visible box or label: {hidden}"
    return sorted(
        f"{by_id[id_].label} [{task.full_name}]" for id_, task in tasks.items()
    )


def _assert_every_pipeline_drawn(
    page, site: str, expected: Expected, shots: Path, label: str
) -> None:
    """Show each registered pipeline in turn, every modular pipeline expanded
    (``?pid=<pipeline>&expandAllPipelines=true``), and check that all of its
    task nodes are drawn with their names."""
    prefix = label.replace(" ", "_")
    for pipeline in sorted(expected.pipelines, key=lambda p: (p != expected.main, p)):
        tasks = expected.pipelines[pipeline]
        url = f"{site}/?pid={pipeline}&expandAllPipelines=true"
        with screenshot_on_failure(page, shots / f"failure_{prefix}_{pipeline}.png"):
            drawn = open_flowchart(
                page, url, [*tasks], settle=pipeline == expected.main
            )
            names = _assert_all_tasks_drawn(drawn, tasks)
            layers = drawn_layers(page)
            assert sorted(layers) == sorted(expected.layers[pipeline]), pipeline
            if pipeline == expected.main:  # the whole story, in the data's order
                assert layers == LAYERS
        print(f"{label}: pipeline {pipeline!r} (expanded) draws {names}")  # noqa: T201
        if pipeline == expected.main:
            screenshot(page, shots / f"{prefix}_{pipeline}_expanded.png")


def _assert_preview_matches_csv(preview: dict, csv_path: Path) -> None:
    with csv_path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    assert preview["title"] == COMPARISON_TABLE
    assert preview["header"] == header, preview
    assert body, f"{csv_path} has no rows"
    first_column = [row[0] for row in body]
    assert preview["first_column"], "the preview table shows no rows"
    assert preview["first_column"] == first_column[: len(preview["first_column"])]


# --- tests ----------------------------------------------------------------------


def test_api_lists_every_registered_node(expected, registry):
    """kedro-viz's API agrees with the pipeline registry, pipeline by pipeline
    (so the browser checks below cover every node of every pipeline)."""
    assert set(expected.pipelines) == set(registry)
    for name, nodes in registry.items():
        drawn = {task.full_name for task in expected.pipelines[name].values()}
        assert drawn == nodes, name
    # Every layer of the catalog, in the data's order; the reports on their own.
    assert expected.layers[expected.main] == LAYERS
    assert expected.layers["reporting"] == ["model_output", "reporting"]


def test_flowchart_draws_every_node(browser, viz, expected, shots):
    main = expected.pipelines[expected.main]
    page = browser.new_page()
    try:
        # Default view of the default pipeline: one group node per top-level
        # namespace, plus the nodes outside any namespace.
        groups = sorted(
            {t.namespace.split(".")[0] for t in main.values() if t.namespace}
        )
        root_tasks = {id_: t for id_, t in main.items() if not t.namespace}
        with screenshot_on_failure(page, shots / "failure_collapsed.png"):
            drawn = _labels(
                open_flowchart(page, f"{viz}/", [*groups, *root_tasks], settle=True)
            )
            for group in groups:
                assert group in drawn, f"no group node for namespace {group!r}"
                assert drawn[group].type == "modularPipeline"
                assert _same_label(drawn[group].label, group)
            for id_, task in root_tasks.items():
                assert id_ in drawn, f"node {task.full_name} not drawn"
                assert _same_label(drawn[id_].label, task.name)
        collapsed = sorted(n.label for n in drawn.values() if n.type != "data")
        print(f"kedro viz run: {expected.main!r} (collapsed) draws {collapsed}")  # noqa: T201
        screenshot(page, shots / "viz_run_collapsed.png")

        # Every pipeline, modular pipelines expanded: every task node.
        _assert_every_pipeline_drawn(page, viz, expected, shots, "kedro viz run")
    finally:
        page.close()


def test_comparison_table_preview(browser, viz, study, expected, shots):
    page = browser.new_page()
    try:
        main = expected.pipelines[expected.main]
        url = f"{viz}/?pid={expected.main}&expandAllPipelines=true"
        with screenshot_on_failure(page, shots / "failure_preview.png"):
            open_flowchart(page, url, [*main], settle=True)
            preview = open_dataset_preview(page, COMPARISON_TABLE)
            print(f"preview of {COMPARISON_TABLE}: {preview}")  # noqa: T201
            _assert_preview_matches_csv(preview, version_file(study / COMPARISON_CSV))
        path = screenshot(page, shots / "comparison_table_preview.png")
        shutil.copy(path, SHARED_SCREENSHOT)
        print(f"screenshot: {SHARED_SCREENSHOT}")  # noqa: T201
    finally:
        page.close()


def test_static_build_draws_every_node(browser, static_build, expected, shots):
    build = static_build.result()
    assert (build / "index.html").is_file()
    assert re.search(r"<script[^>]+src=", (build / "index.html").read_text())
    main = json.loads((build / "api" / "main").read_text())
    assert main["selected_pipeline"] == expected.main
    assert {node["id"] for node in main["nodes"] if node["type"] == "task"} == set(
        expected.pipelines[expected.main]
    )
    for pipeline in expected.pipelines:
        assert (build / "api" / "pipelines" / pipeline).is_file(), pipeline

    page = browser.new_page()
    try:
        with static_server(build) as site:
            _assert_every_pipeline_drawn(page, site, expected, shots, "kedro viz build")
            with screenshot_on_failure(page, shots / "failure_build_preview.png"):
                url = f"{site}/?pid={expected.main}&expandAllPipelines=true"
                open_flowchart(
                    page, url, [*expected.pipelines[expected.main]], settle=True
                )
                preview = open_dataset_preview(page, COMPARISON_TABLE)
                _assert_preview_matches_csv(
                    preview, version_file(build.parent / COMPARISON_CSV)
                )
            screenshot(page, shots / "static_build_preview.png")
    finally:
        page.close()
