"""The study notebook executes top to bottom against a copy of the studied
synthetic project, in a kernel running this interpreter."""

from __future__ import annotations

import jupytext
import pytest
from ipykernel.kernelspec import install as install_kernelspec
from nbclient import NotebookClient
from nbformat import NotebookNode

from ncf_movielens.study import MODELS

from .support import PROJECT

NOTEBOOK = PROJECT / "notebooks" / "ncf_movielens_study.py"


def _outputs(notebook: NotebookNode) -> list[dict]:
    return [output for cell in notebook.cells for output in cell.get("outputs", [])]


def _text(output: dict) -> str:
    if output["output_type"] == "stream":
        return output["text"]
    data = output.get("data", {})
    return data.get("text/html", "") + data.get("text/plain", "")


@pytest.mark.slow
def test_study_notebook_runs(study, tmp_path, monkeypatch):
    # A `python3` kernelspec for this interpreter, ahead of any other on the
    # search path, so the kernel imports the packages under test.
    jupyter = tmp_path / "jupyter"
    install_kernelspec(kernel_name="python3", prefix=str(jupyter))
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter / "share" / "jupyter"))
    monkeypatch.setenv("NCF_MOVIELENS_PROJECT", str(study))

    notebook = jupytext.read(NOTEBOOK)
    # Start where Jupyter would, beside the notebook in the real project: the
    # environment variable must win over it.
    NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=120,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()  # raises CellExecutionError, with the traceback, if a cell fails

    outputs = _outputs(notebook)
    assert not [o for o in outputs if o["output_type"] == "error"]
    text = "\n".join(_text(o) for o in outputs)
    assert f"Project: {study.resolve()}" in text
    html = "\n".join(o.get("data", {}).get("text/html", "") for o in outputs)
    for model in MODELS:
        assert model.label in html
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert "The reloaded model reproduces the stored recommendations." in text
