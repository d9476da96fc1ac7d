"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline


def register_pipelines() -> dict[str, Pipeline]:
    """Every pipeline under ``pipelines/``, and ``__default__``: the whole study.

    The default run builds every model's recommendations but does not show one
    user's lists; ``kedro run --pipelines=recommend`` does.
    """
    pipelines = find_pipelines(raise_errors=True)
    # Kedro 1.x may load only the pipelines a run asks for, so the show node
    # is not always there.
    everything = sum(pipelines.values(), Pipeline([]))
    show = [n for n in everything.nodes if n.name == "show_user_recommendations"]
    pipelines["__default__"] = everything - Pipeline(show)
    return pipelines
