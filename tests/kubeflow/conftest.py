"""Compiled pipelines shared by the kubeflow tests (compiling takes a few seconds)."""

from __future__ import annotations

import pytest
from kubeflow_support import GCS_OVERRIDES, KUBEFLOW_EXAMPLE, VERTEX_EXAMPLE, sample_config

from lightrank.kubeflow.compiler import CompiledPipeline, compile_pipeline
from lightrank.pipeline.config import load_config


@pytest.fixture(scope="session")
def vertex_default(tmp_path_factory: pytest.TempPathFactory) -> CompiledPipeline:
    """The default config, exactly as shipped, compiled for Vertex AI."""
    out = tmp_path_factory.mktemp("vertex") / "pipeline.json"
    return compile_pipeline(sample_config(), "vertex", str(out))


@pytest.fixture(scope="session")
def vertex_gcs(tmp_path_factory: pytest.TempPathFactory) -> CompiledPipeline:
    """The default config on gs:// paths, compiled for Vertex AI."""
    out = tmp_path_factory.mktemp("vertex-gcs") / "pipeline.json"
    return compile_pipeline(sample_config(*GCS_OVERRIDES), "vertex", str(out))


@pytest.fixture(scope="session")
def kubeflow_gcs(tmp_path_factory: pytest.TempPathFactory) -> CompiledPipeline:
    """The default config on gs:// paths without the baseline resolver, compiled for Kubeflow."""
    out = tmp_path_factory.mktemp("kubeflow") / "pipeline.yaml"
    config = sample_config(*GCS_OVERRIDES, "evaluation.compare_to_baseline=false")
    return compile_pipeline(config, "kubeflow", str(out))


@pytest.fixture(scope="session")
def vertex_example(tmp_path_factory: pytest.TempPathFactory) -> CompiledPipeline:
    """`pipeline/configs/vertex.example.yaml` as shipped (Dataflow, Vertex training), for Vertex AI."""
    out = tmp_path_factory.mktemp("vertex-example") / "pipeline.json"
    return compile_pipeline(load_config(VERTEX_EXAMPLE), "vertex", str(out))


@pytest.fixture(scope="session")
def kubeflow_example(tmp_path_factory: pytest.TempPathFactory) -> CompiledPipeline:
    """`pipeline/configs/kubeflow.example.yaml` as shipped, compiled for Kubeflow Pipelines."""
    out = tmp_path_factory.mktemp("kubeflow-example") / "pipeline.yaml"
    return compile_pipeline(load_config(KUBEFLOW_EXAMPLE), "kubeflow", str(out))
