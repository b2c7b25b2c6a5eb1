"""Runs the pipeline on this machine with LocalDagRunner and SQLite ML Metadata.

A local TFX run prints thousands of log lines (TensorFlow, Beam, TFX). A person
wants to know which component is running, whether it ran or came from the
cache, and how long it took: one line per component. (The CLI sends the full
output to a log file with `lightrank.pipeline.console.output_to`.)

A run holds the store's run lock (`lightrank.pipeline.run_lock`) from before its first
component to its end, runs under a run id chosen here (so the caller can read back exactly its
own run), and records in ML Metadata when it ends early: cancelled (Ctrl-C, SIGTERM) or failed.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import time
from collections.abc import Iterator
from typing import TextIO

import ml_metadata as mlmd
from absl import logging as absl_logging
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.dsl.compiler import constants as compiler_constants
from tfx.orchestration.portable import runtime_parameter_utils, tfx_runner
from tfx.proto.orchestration import pipeline_pb2
from tfx.utils import dependency_utils

from lightrank.pipeline.config import PipelineConfig
from lightrank.pipeline.config.names import check_config_names
from lightrank.pipeline.metadata.runs import (
    CANCELLED,
    COMPLETE,
    ENDED_PROPERTY,
    FAILED,
    STATUS_PROPERTY,
    connection_config,
)
from lightrank.pipeline.pipeline import create_pipeline
from lightrank.pipeline.preflight import check_base_model, check_inputs, check_store
from lightrank.pipeline.run_lock import lock_path, run_lock

_log = logging.getLogger(__name__)


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


def new_run_id() -> str:
    """A run id in the form LocalDagRunner gives its runs (local ISO time with microseconds)."""
    return datetime.datetime.now().isoformat()


def mark_run_ended(config: PipelineConfig, run_id: str, status: str, *, create: bool) -> bool:
    """Records on the run's `pipeline_run` context how it ended, and when.

    A run stopped by Ctrl-C or SIGTERM leaves its executions RUNNING for ever, and one killed
    between two components leaves only finished ones; `lightrank.pipeline.metadata.runs` reads
    these custom properties before the executions, so a run is `complete` only if it says so.

    Args:
        config: The run's config (its store and pipeline name).
        run_id: The run's id, the name of its `pipeline_run` context.
        status: `complete`, `cancelled` or `failed`.
        create: Create the run's context if TFX has not registered it yet (the run was
            stopped while its first component was starting), so the run is listed as ended.

    Returns:
        Whether the run is now recorded with `status`; never raises, since it runs while
        another error is on its way to the user (a failure is logged).
    """
    try:
        store = mlmd.MetadataStore(connection_config(config.metadata))
        context = store.get_context_by_type_and_name("pipeline_run", run_id)
        if context is None:
            if not create:
                return False
            context = metadata_store_pb2.Context(
                type_id=store.put_context_type(metadata_store_pb2.ContextType(name="pipeline_run")),
                name=run_id,
            )
            parent = store.get_context_by_type_and_name("pipeline", config.name)
            if parent is None:
                parent = metadata_store_pb2.Context(
                    type_id=store.put_context_type(metadata_store_pb2.ContextType(name="pipeline")),
                    name=config.name,
                )
                [parent.id] = store.put_contexts([parent])
            [context.id] = store.put_contexts([context])
            store.put_parent_contexts(
                [metadata_store_pb2.ParentContext(child_id=context.id, parent_id=parent.id)]
            )
        context.custom_properties[STATUS_PROPERTY].string_value = status
        context.custom_properties[ENDED_PROPERTY].int_value = int(time.time() * 1000)
        store.put_contexts([context])
        return True
    except Exception:  # the user's error (or Ctrl-C) matters more; the log keeps this one
        _log.exception("could not record run %s as %s in ML Metadata", run_id, status)
        return False


def _compiled(pipeline: tfx.dsl.Pipeline, run_id: str) -> pipeline_pb2.Pipeline:
    """The pipeline's IR with the run id bound, so that TFX names the run `run_id`.

    `LocalDagRunner.run` compiles and binds the run id to the current time itself;
    binding it first (TFX leaves a bound parameter alone) lets the caller know the id
    before the run starts and read back exactly this run. `_make_pipeline_proto` is what
    `run` compiles with (it also resolves components' pip dependencies); TFX is pinned at 1.16.
    """
    ir = tfx_runner._make_pipeline_proto(pipeline)
    runtime_parameter_utils.substitute_runtime_parameter(
        ir, {compiler_constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id}
    )
    return ir


def run_local(
    config: PipelineConfig,
    *,
    console: TextIO,
    log_file: str | None = None,
    run_id: str | None = None,
    wait: bool = False,
) -> list[str]:
    """Checks the inputs, takes the run lock, checks the store, then runs every component in this process.

    Args:
        config: The validated pipeline config.
        console: Where the progress lines go.
        log_file: Named in the failure line and in the lock's holder record.
        run_id: The run's id in ML Metadata (default: a new one); the caller reads
            the run back by it.
        wait: Wait for another run of the pipeline on this store to end instead of refusing.

    Returns:
        The component ids of the pipeline, in execution order.

    Raises:
        RunLockedError: Another run holds the store's run lock and `wait` is false.
        KeyboardInterrupt: Ctrl-C (or SIGTERM turned into one by the caller); the run is
            recorded as cancelled first.
        Whatever the failing component raised (e.g. `DataAnomaliesError` from
        the anomaly gate), after the progress line that names the component; the run
        is recorded as failed first.
    """
    run_id = run_id or new_run_id()
    features = check_config_names(config)  # milliseconds, before the data check reads every file
    check_inputs(config, features.request_key)
    check_base_model(config)
    pipeline = create_pipeline(
        config, metadata_connection_config=connection_config(config.metadata), features=features
    )
    absl_logging.set_verbosity(absl_logging.INFO)

    def note(line: str) -> None:
        console.write(line + "\n")
        console.flush()

    with contextlib.ExitStack() as stack:
        # Before the first component, released last: the run's end is recorded while it is held.
        stack.enter_context(
            run_lock(
                lock_path(config.metadata, config.name, config.root),
                pipeline=config.name,
                run_id=run_id,
                log_file=log_file,
                wait=wait,
                note=note,
            )
        )
        rolled_back = check_store(config)  # under the lock: no other run writes the store now
        if rolled_back:
            note(f"Rolled back an unfinished ML Metadata write left by a killed run ({rolled_back})")
        os.makedirs(config.root, exist_ok=True)
        progress = _ComponentProgress(console, total=len(pipeline.components))
        logger = logging.getLogger("absl")
        logger.addHandler(progress)
        stack.callback(logger.removeHandler, progress)
        stack.enter_context(_without_tfx_sdist(list(config.beam_args)))
        started = False
        try:
            ir = _compiled(pipeline, run_id)
            started = True
            tfx.orchestration.LocalDagRunner().run_with_ir(ir)
        except KeyboardInterrupt:
            mark_run_ended(config, run_id, CANCELLED, create=started)
            raise
        except Exception:
            mark_run_ended(config, run_id, FAILED, create=False)
            if progress.current:
                where = f" (full log: {log_file})" if log_file else ""
                console.write(f"      {progress.current} FAILED{where}\n")
                console.flush()
            raise
        mark_run_ended(config, run_id, COMPLETE, create=False)  # before the lock is released
    return [component.id for component in pipeline.components]
