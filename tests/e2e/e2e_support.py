"""Helpers for end-to-end runs: a fast config and a quiet runner."""

from __future__ import annotations

import io
from pathlib import Path

from pipeline.cli import DEFAULT_CONFIG
from pipeline.config import PipelineConfig, load_config
from pipeline.local_runner import run_local


def tiny_config(workdir: Path, data_path: str, *overrides: str) -> PipelineConfig:
    """The sample config pointed at `workdir`, with a training budget of seconds."""
    return load_config(
        DEFAULT_CONFIG,
        [
            f"root={workdir}/root",
            f"serving_dir={workdir}/serving",
            f"metadata.sqlite={workdir}/metadata.db",
            f"data.path={data_path}",
            "model.training.max_steps=40",
            "model.training.eval_every_steps=20",
            "model.training.batch_size=64",
            "evaluation.thresholds={auc_unweighted: {lower_bound: 0.0}}",
            *overrides,
        ],
    )


def run(config: PipelineConfig, workdir: Path) -> str:
    """Runs the pipeline, returning what the progress display printed."""
    console = io.StringIO()
    run_local(config, console=console)
    return console.getvalue()
