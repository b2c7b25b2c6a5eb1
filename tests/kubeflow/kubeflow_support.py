"""Helpers for the kubeflow tests: the sample config, optionally on gs:// paths, and the examples."""

from __future__ import annotations

from pathlib import Path

from lightrank.pipeline.config import SAMPLE_CONFIG, PipelineConfig, load_config

#: The shipped example configs, which must compile without edits.
VERTEX_EXAMPLE = str(Path(SAMPLE_CONFIG).parent / "vertex.example.yaml")
KUBEFLOW_EXAMPLE = str(Path(SAMPLE_CONFIG).parent / "kubeflow.example.yaml")

#: The sample config with cloud-readable paths (a stable snapshot: no local paths in it).
GCS_OVERRIDES = (
    "root=gs://lightrank-test/pipeline",
    "data.path=gs://lightrank-test/candidates",
    "serving_dir=gs://lightrank-test/serving",
)


def sample_config(*overrides: str) -> PipelineConfig:
    """The default config with `overrides`."""
    return load_config(SAMPLE_CONFIG, list(overrides))
