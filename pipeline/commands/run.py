"""`lightrank run`: the whole pipeline locally (LocalDagRunner, SQLite or MySQL ML Metadata).

    lightrank run [--config FILE] [--set KEY=VALUE ...] [--log-file FILE]

The terminal shows one line per component with its time and, at the end, where the model,
metrics and metadata are; everything else goes to the log file whose path is printed first.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os

from lightrank.errors import UserError
from lightrank.pipeline.commands.common import PipelineFailedError, add_config_arguments


def _run(args: argparse.Namespace) -> int:
    from lightrank.pipeline.config import load_config
    from lightrank.pipeline.console import output_to

    config = load_config(args.config, args.set)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    log_file = os.path.abspath(args.log_file or os.path.join(config.root, "logs", f"run-{stamp}.log"))
    print(f"Pipeline '{config.name}' on {config.data.path}")
    print(f"Model: {config.model.kind} ({config.model.preset} preset), task {config.model.task}")
    print(f"Full log: {log_file}", flush=True)
    # TensorFlow prints while it loads: import it only once the output goes to the log.
    with output_to(log_file) as console:
        from lightrank.pipeline.local_runner import run_local
        from lightrank.pipeline.metadata.runs import latest_run, open_store
        from lightrank.pipeline.summary import format_summary, thresholds_text

        console.write(f"Quality gates: {'; '.join(thresholds_text(config))}\n")
        error: Exception | None = None
        component_ids: list[str] = []
        try:
            component_ids = run_local(config, console=console, log_file=log_file)
        except Exception as caught:  # reported below, after the summary; the traceback is in the log
            logging.getLogger(__name__).exception("pipeline run failed")
            error = caught
        has_store = config.metadata.sqlite is None or os.path.isfile(config.metadata.sqlite)
        run = latest_run(open_store(config.metadata), config.name) if has_store else None
        if run is not None:
            console.write(
                format_summary(config, run, log_file=log_file, ok=error is None, expected=component_ids)
                + "\n"
            )
    if error is not None:
        if isinstance(error, (UserError, FileNotFoundError, FileExistsError)):
            raise error
        raise PipelineFailedError(f"{type(error).__name__}: {error}", log_file)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Adds `run` to the `lightrank` sub-commands."""
    run = commands.add_parser("run", help="run the whole pipeline locally (LocalDagRunner, SQLite MLMD)")
    add_config_arguments(run)
    run.add_argument(
        "--log-file", default=None, help="where the full log goes (default: <root>/logs/run-*.log)"
    )
    run.set_defaults(handler=_run)
