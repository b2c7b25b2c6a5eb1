"""Runs the pipeline on this machine with LocalDagRunner and SQLite ML Metadata.

A local TFX run prints thousands of log lines (TensorFlow, Beam, TFX). A person
wants to know which component is running, whether it ran or came from the
cache, and how long it took: one line per component. (The CLI sends the full
output to a log file with `lightrank.pipeline.console.output_to`.)
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from typing import TextIO

from absl import logging as absl_logging
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from tfx import v1 as tfx
from tfx.utils import dependency_utils

from lightrank.pipeline.config import PipelineConfig
from lightrank.pipeline.config.names import check_config_names
from lightrank.pipeline.metadata.runs import connection_config
from lightrank.pipeline.pipeline import create_pipeline
from lightrank.pipeline.preflight import check_base_model, check_inputs


class _ComponentProgress(logging.Handler):
    """Turns LocalDagRunner's 'Component X is running/finished' logs into console lines."""

    def __init__(self, console: TextIO, total: int) -> None:
        super().__init__(level=logging.INFO)
        self._console = console
        self._total = total
        self._index = 0
        self._started: dict[str, float] = {}
        self._outcome = "done"
        self.current: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.msg if isinstance(record.msg, str) else ""
        if not record.args or not isinstance(record.args, tuple):
            return
        subject = str(record.args[0])
        if message == "Component %s is running.":
            self._index += 1
            self.current, self._outcome = subject, "done"
            self._started[subject] = time.monotonic()
            self._write(f"{subject:<32} running ...")
        elif message == "A cached execution %d is used.":
            self._outcome = "cached"
        elif message == "Skipping execution for %s":
            self._outcome = "skipped (not blessed, or already the blessed baseline)"
        elif message == "Component %s is finished.":
            seconds = time.monotonic() - self._started.get(subject, time.monotonic())
            self.current = None
            self._write(f"{subject:<32} {self._outcome:<7} {seconds:6.1f} s")
        elif message == "Skipping component %s.":
            self._index += 1
            self._write(f"{subject:<32} skipped")

    def _write(self, text: str) -> None:
        width = len(str(self._total))
        self._console.write(f"[{self._index:>{width}}/{self._total}] {text}\n")
        self._console.flush()


def runs_on_this_machine(beam_args: list[str]) -> bool:
    """Whether the Beam args select the DirectRunner (the default), whose workers share our install."""
    runner = PipelineOptions(flags=beam_args).view_as(StandardOptions).runner
    return runner in (None, "DirectRunner", "direct")


@contextlib.contextmanager
def _without_tfx_sdist(beam_args: list[str]) -> Iterator[None]:
    """Stops TFX from packaging itself for Beam workers that already have it installed.

    Unless the Beam args name a package or an image, every Beam component copies the TFX
    install into a temporary directory and builds an sdist of it for remote workers (about a
    second each) and never deletes it: four 49 MB directories left in the temp dir per run.
    The DirectRunner's workers run this very environment, so the package is useless there.
    """
    if not runs_on_this_machine(beam_args):
        yield
        return
    original = dependency_utils.make_beam_dependency_flags
    dependency_utils.make_beam_dependency_flags = lambda args: list(args)
    try:
        yield
    finally:
        dependency_utils.make_beam_dependency_flags = original


def run_local(config: PipelineConfig, *, console: TextIO, log_file: str | None = None) -> list[str]:
    """Checks the inputs, then runs every component in order, in this process.

    Args:
        config: The validated pipeline config.
        console: Where the progress lines go.
        log_file: Named in the failure line, if the caller captures the log.

    Returns:
        The component ids of the pipeline, in execution order.

    Raises:
        Whatever the failing component raised (e.g. `DataAnomaliesError` from
        the anomaly gate), after the progress line that names the component.
    """
    features = check_config_names(config)  # milliseconds, before the data check reads every file
    check_inputs(config, features.request_key)
    check_base_model(config)
    os.makedirs(config.root, exist_ok=True)
    if config.metadata.sqlite:
        os.makedirs(os.path.dirname(config.metadata.sqlite), exist_ok=True)
    pipeline = create_pipeline(
        config, metadata_connection_config=connection_config(config.metadata), features=features
    )
    absl_logging.set_verbosity(absl_logging.INFO)
    with contextlib.ExitStack() as stack:
        progress = _ComponentProgress(console, total=len(pipeline.components))
        logger = logging.getLogger("absl")
        logger.addHandler(progress)
        stack.callback(logger.removeHandler, progress)
        stack.enter_context(_without_tfx_sdist(list(config.beam_args)))
        try:
            tfx.orchestration.LocalDagRunner().run(pipeline)
        except Exception:
            if progress.current:
                where = f" (full log: {log_file})" if log_file else ""
                console.write(f"      {progress.current} FAILED{where}\n")
                console.flush()
            raise
    return [component.id for component in pipeline.components]
