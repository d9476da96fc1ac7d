"""The tuning pipeline's wiring: the studies and what they may read."""

from __future__ import annotations

from ncf_movielens.pipeline_registry import register_pipelines
from ncf_movielens.study import TUNABLE


def test_no_tuning_node_reads_test_data():
    tuning = register_pipelines()["tuning"]
    studies = tuning.only_nodes_with_tags("tuning")
    assert {node.name for node in studies.nodes} == {
        "split_validation",
        *(f"tuning.{model.name}.tune" for model in TUNABLE),
    }
    best = [f"{model.name}_best_parameters" for model in TUNABLE]
    upstream = tuning.to_outputs(*best)
    # Only the split itself (ratings -> train and test) precedes the studies;
    # nothing the test set became is an input of any of them.
    assert "test_matrix" not in upstream.all_inputs()
    assert not any("test" in name for node in studies.nodes for name in node.inputs), [
        node.inputs for node in studies.nodes
    ]
