"""The shape of `create_pipeline`'s graph where a config switch changes it (no component runs)."""

from __future__ import annotations

import pytest

from pipeline.cli import DEFAULT_CONFIG
from pipeline.config import load_config
from pipeline.pipeline import create_pipeline

RESOLVER = "latest_blessed_model_resolver"


def _nodes(*overrides: str) -> dict[str, object]:
    pipeline = create_pipeline(load_config(DEFAULT_CONFIG, list(overrides)))
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
