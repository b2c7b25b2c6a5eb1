"""The shape of `create_pipeline`'s graph where a config switch changes it (no component runs)."""

from __future__ import annotations

import pytest

from lightrank.pipeline.config import SAMPLE_CONFIG, load_config
from lightrank.pipeline.pipeline import create_pipeline

RESOLVER = "latest_blessed_model_resolver"


def _nodes(*overrides: str) -> dict[str, object]:
    pipeline = create_pipeline(load_config(SAMPLE_CONFIG, list(overrides)))
    return {node.id: node for node in pipeline.components}


@pytest.fixture(scope="module")
def default_nodes() -> dict[str, object]:
    return _nodes()


def test_by_default_the_evaluator_compares_with_the_last_blessed_model(default_nodes) -> None:
    assert default_nodes.keys() > {RESOLVER, "Evaluator", "Pusher"}
    baseline = default_nodes["Evaluator"].inputs["baseline_model"]
    assert baseline.producer_component_id == RESOLVER
    assert default_nodes["Evaluator"].inputs["model"].producer_component_id == "Trainer"


def test_compare_to_baseline_false_drops_the_resolver_and_the_baseline_input(default_nodes) -> None:
    nodes = _nodes("evaluation.compare_to_baseline=false")
    assert RESOLVER not in nodes
    assert "baseline_model" not in nodes["Evaluator"].inputs
    assert nodes["Evaluator"].inputs["model"].producer_component_id == "Trainer"
    # Nothing else changes: the same components in the same order, minus the resolver.
    assert list(nodes) == [node_id for node_id in default_nodes if node_id != RESOLVER]


def test_warm_start_from_a_named_model_imports_it_as_the_trainers_base_model(default_nodes, tmp_path) -> None:
    nodes = _nodes(f"model.warm_start_from={tmp_path}/serving/1795917291")
    importer = nodes["base_model_importer"]
    assert importer.exec_properties["artifact_uri"] == f"{tmp_path}/serving/1795917291"
    assert nodes["Trainer"].inputs["base_model"].producer_component_id == "base_model_importer"
    assert "latest_model_resolver" not in nodes
    # The importer is the only addition: the rest of the graph is the default one, in order.
    assert [node_id for node_id in nodes if node_id != "base_model_importer"] == list(default_nodes)


def test_warm_start_takes_the_latest_model_through_a_resolver(default_nodes) -> None:
    nodes = _nodes("model.warm_start=true")
    assert nodes["Trainer"].inputs["base_model"].producer_component_id == "latest_model_resolver"
    assert "base_model_importer" not in nodes and "base_model" not in default_nodes["Trainer"].inputs
