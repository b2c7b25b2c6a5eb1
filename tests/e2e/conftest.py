"""Shared set-up for end-to-end runs: one first pipeline run (`tiny_data` is in tests/conftest.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from e2e_support import run, tiny_config

from lightrank.pipeline.config import PipelineConfig
from lightrank.pipeline.metadata.runs import RunRecord, latest_run, open_store


@dataclasses.dataclass(frozen=True)
class PipelineRun:
    """One finished tiny pipeline run: its config, work dir, console output and MLMD record."""

    config: PipelineConfig
    workdir: Path
    output: str
    record: RunRecord


@pytest.fixture(scope="session")
def first_pipeline_run(tmp_path_factory: pytest.TempPathFactory, tiny_data: str) -> PipelineRun:
    """A first run that pushes a model, shared by every e2e module (a run costs about a minute).

    Later tests may add runs to its store; `record` stays the first run's.
    """
    workdir = tmp_path_factory.mktemp("pipeline")
    config = tiny_config(workdir, tiny_data)
    output = run(config, workdir)
    record = latest_run(open_store(config.metadata), config.name)
    assert record is not None
    return PipelineRun(config, workdir, output, record)
