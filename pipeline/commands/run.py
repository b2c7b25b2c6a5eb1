"""`lightrank run`: the whole pipeline locally (LocalDagRunner, SQLite or MySQL ML Metadata).

    lightrank run [--config FILE] [--set KEY=VALUE ...] [--log-file FILE] [--wait]

The terminal shows one line per component with its time and, at the end, where the model,
metrics and metadata are; everything else goes to the log file whose path is printed first.

One run per pipeline and store at a time (`lightrank.pipeline.run_lock`): a second run stops
with one line naming the holder, or waits for it with `--wait`. Each run has its own log file
and its own run id, chosen here, so the summary is this run's even when others share the store.
Ctrl-C or SIGTERM ends the run with one line (the traceback goes to the log), records it as
cancelled in ML Metadata and exits 130 or 143.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

from lightrank.errors import UserError
from lightrank.pipeline.commands.common import PipelineFailedError, add_config_arguments

if TYPE_CHECKING:
    from lightrank.pipeline.config import PipelineConfig


class RunTerminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that the same clean-up runs.

    A KeyboardInterrupt, not an Exception, so that no `except Exception` in TFX, Beam or
    TensorFlow swallows it.
    """


#: Exit statuses of a cancelled run, as a shell reports a process ended by the signal (128 + n).
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turns SIGTERM into `RunTerminated` in the main thread for the block, then restores the handler.

    Without it, SIGTERM (a `kill`, a CI timeout, a container stop) ends the process at once:
    no lock release is needed (the kernel drops it), but the run is never recorded as ended.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise RunTerminated(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def default_log_file(root: str, now: datetime.datetime | None = None, pid: int | None = None) -> str:
    """`<root>/logs/run-<date>-<time>-<microseconds>-<pid>.log`: unique even for two runs in one second."""
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S-%f")
    return os.path.join(root, "logs", f"run-{stamp}-{pid or os.getpid()}.log")


def _cancelled_line(interrupt: KeyboardInterrupt, *, recorded: bool, log_file: str | None) -> str:
    """The one console line of a cancelled run (the traceback is in the log)."""
    how = "SIGTERM" if isinstance(interrupt, RunTerminated) else "Ctrl-C"
    outcome = "the run is recorded as cancelled" if recorded else "it had not started: nothing was recorded"
    where = f"; full log: {log_file}" if log_file else ""
    return f"lightrank: run cancelled ({how}); {outcome}{where}"


def _exit_status(interrupt: KeyboardInterrupt) -> int:
    return EXIT_TERMINATED if isinstance(interrupt, RunTerminated) else EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    try:
        with sigterm_as_interrupt():
            return _run_pipeline(args)
    except KeyboardInterrupt as interrupt:  # before the log existed: the config was still loading
        print(_cancelled_line(interrupt, recorded=False, log_file=None), file=sys.stderr)
        return _exit_status(interrupt)


def _recorded_as_cancelled(config: PipelineConfig, run_id: str) -> bool:
    """Whether ML Metadata now shows the run as cancelled (False if it cannot be read)."""
    from lightrank.pipeline.metadata.runs import CANCELLED, open_store, run_by_id

    try:
        run = run_by_id(open_store(config.metadata), config.name, run_id)
    except Exception:  # a missing store: the run never started
        return False
    return run is not None and run.status == CANCELLED


def _task(config: PipelineConfig) -> str:
    """`task clicked (label clicked)`: what the model learns, from the config's feature spec."""
    from lightrank.models.features import FeatureSpec

    try:
        label = FeatureSpec.load(config.schema.feature_spec).labels.get(config.model.task)
    except UserError:
        label = None  # the run's own check names the problem
    return f"task {config.model.task}" + (f" (label {label})" if label else "")


def _run_pipeline(args: argparse.Namespace) -> int:
    from lightrank.pipeline.config import load_config
    from lightrank.pipeline.console import output_to

    config = load_config(args.config, args.set)
    log_file = os.path.abspath(args.log_file or default_log_file(config.root))
    print(f"Pipeline '{config.name}' on {config.data.describe()}")
    print(f"Model: {config.model.kind} ({config.model.preset} preset), {_task(config)}")
    print(f"Full log: {log_file}", flush=True)
    error: Exception | None = None
    interrupt: KeyboardInterrupt | None = None
    recorded = False
    run_id: str | None = None
    # TensorFlow prints while it loads: import it only once the output goes to the log.
    with output_to(log_file) as console:
        try:
            from lightrank.pipeline.local_runner import new_run_id, run_local
            from lightrank.pipeline.summary import format_summary, thresholds_text

            console.write(f"Quality gates: {'; '.join(thresholds_text(config))}\n")
            run_id = new_run_id()
            component_ids: list[str] = []
            try:
                component_ids = run_local(
                    config, console=console, log_file=log_file, run_id=run_id, wait=args.wait
                )
            except Exception as caught:  # reported below, after the summary; the traceback is in the log
                logging.getLogger(__name__).exception("pipeline run failed")
                error = caught
            has_store = config.metadata.sqlite is None or os.path.isfile(config.metadata.sqlite)
            # This run's own record, by the id it ran under: the newest run may be another's.
            run = _own_run(config, run_id) if has_store else None
            if run is not None:
                console.write(
                    format_summary(config, run, log_file=log_file, ok=error is None, expected=component_ids)
                    + "\n"
                )
        except KeyboardInterrupt as caught:
            logging.getLogger(__name__).exception("pipeline run cancelled")
            interrupt = caught
            recorded = run_id is not None and _recorded_as_cancelled(config, run_id)
    if interrupt is not None:
        print(_cancelled_line(interrupt, recorded=recorded, log_file=log_file), file=sys.stderr)
        return _exit_status(interrupt)
    if error is not None:
        if isinstance(error, (UserError, FileNotFoundError, FileExistsError)):
            raise error
        raise PipelineFailedError(f"{type(error).__name__}: {error}", log_file)
    return 0


def _own_run(config: Any, run_id: str) -> Any:
    """This run's record, or None when the store cannot be read (the error is on its way already).

    A store the preflight refused (corrupt, not ML Metadata) must not turn the user's one-line
    error into a traceback here.
    """
    from lightrank.pipeline.metadata.runs import open_store, run_by_id

    try:
        return run_by_id(open_store(config.metadata), config.name, run_id)
    except RuntimeError:
        logging.getLogger(__name__).exception("the run's record could not be read back")
        return None


def register(commands: argparse._SubParsersAction) -> None:
    """Adds `run` to the `lightrank` sub-commands."""
    run = commands.add_parser("run", help="run the whole pipeline locally (LocalDagRunner, SQLite MLMD)")
    add_config_arguments(run)
    run.add_argument(
        "--log-file", default=None, help="where the full log goes (default: <root>/logs/run-*.log)"
    )
    run.add_argument(
        "--wait",
        action="store_true",
        help="if another run of the pipeline holds the store, wait for it to end (default: stop at once)",
    )
    run.set_defaults(handler=_run)
