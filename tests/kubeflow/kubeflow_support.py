"""Helpers for the kubeflow tests: the sample config, optionally on gs:// paths."""

from __future__ import annotations

from pipeline.cli import DEFAULT_CONFIG
from pipeline.config import PipelineConfig, load_config

#: The sample config with cloud-readable paths (a stable snapshot: no local paths in it).
GCS_OVERRIDES = (
    "root=gs://lightrank-test/pipeline",
    "data.path=gs://lightrank-test/candidates",
    "serving_dir=gs://lightrank-test/serving",
)


def sample_config(*overrides: str) -> PipelineConfig:
    """The default config with `overrides`."""
    return load_config(DEFAULT_CONFIG, list(overrides))
