"""`lightrank eval`: an exported model scored on any candidate files with the Evaluator's metrics.

    lightrank eval --model PATH --data GLOB [--config FILE [--set KEY=VALUE ...]] [--out DIR]
                   [--json FILE] [--predictions OUT.parquet]

The engine is `lightrank.pipeline.eval.evaluate`; this module parses the command line and
keeps the log. Without `--config` the model's own asset says what to evaluate (its features
and task); with it, the config does (slices, gates, grouped cut-offs), as in the pipeline.

The log goes straight to `<out>/eval.log`, the path printed first, so it is where it was
said to be while the command runs and after it ends. A user error (exit 2) removes it, and
the output directories the command created, so nothing is left behind; any other failure
keeps it, and its path ends the error line.
"""

from __future__ import annotations

import argparse
import io
import traceback
from typing import TextIO

from lightrank.errors import UserError
from lightrank.pipeline.commands.common import PipelineFailedError, add_config_arguments


class _Tee(io.TextIOBase):
    """The console, with every line also appended to the log, so the log tells the whole story."""

    def __init__(self, console: TextIO, log: TextIO) -> None:
        super().__init__()
        self._streams = (console, log)

    def write(self, text: str) -> int:
        """Writes `text` to the console and to the log."""
        for stream in self._streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        """Flushes both."""
        for stream in self._streams:
            stream.flush()


def _handle(args: argparse.Namespace) -> int:
    from lightrank.pipeline.config import load_config
    from lightrank.pipeline.console import output_to
    from lightrank.pipeline.eval.evaluate import evaluate
    from lightrank.pipeline.eval.outputs import EvalOutputs
    from lightrank.pipeline.eval.report import format_report

    if args.set and args.config is None:
        raise UserError("--set overrides a config: pass --config FILE with it")
    config = load_config(args.config, args.set) if args.config is not None else None
    outputs = EvalOutputs.plan(args.out, args.json, args.predictions, args.model)
    print(f"Evaluating {args.model} on {args.data} (full log: {outputs.log_path})", flush=True)
    error: Exception | None = None
    # The log is opened twice in append mode: TensorFlow's and Beam's output reach it through
    # fds 1 and 2 (`output_to`), the progress lines through this handle; appends interleave.
    with output_to(outputs.log_path) as terminal, open(outputs.log_path, "a", buffering=1) as log:
        console = _Tee(terminal, log)
        try:
            result = evaluate(
                config, args.model, args.data, outputs, console, progress=terminal, workers=args.workers
            )
            console.write(format_report(result, outputs) + "\n")
        except Exception as caught:  # reported below, once the output is the console's again
            if not isinstance(caught, UserError):
                traceback.print_exc(file=log)  # the error line names the log; the log says the rest
            error = caught
    if isinstance(error, UserError):
        outputs.discard()
        raise error
    if error is not None:
        raise PipelineFailedError(f"evaluation: {type(error).__name__}: {error}", outputs.log_path) from error
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Adds `lightrank eval` to the CLI's sub-commands."""
    parser = commands.add_parser(
        "eval", help="evaluate an exported model on any data with the Evaluator's metrics (TFMA)"
    )
    parser.add_argument("--model", required=True, help="exported SavedModel, e.g. a pushed version")
    parser.add_argument("--data", required=True, help="glob or directory of TFRecord files of tf.Example")
    add_config_arguments(
        parser,
        default=None,
        default_help="none: the model's own features and task, overall slice, no gates",
    )
    parser.add_argument("--out", default=None, help="TFMA output directory (default: eval/<model>-<time>)")
    parser.add_argument(
        "--json",
        default=None,
        metavar="FILE",
        help="all scalar metrics by slice (default: <out>/metrics.json)",
    )
    parser.add_argument(
        "--predictions", default=None, metavar="OUT.parquet", help="write one row per candidate"
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default=None,
        metavar="N",
        help="Beam worker processes, each reading whole files (default: one per file, up to the cores)",
    )
    parser.set_defaults(handler=_handle)


def _workers(text: str) -> int:
    try:
        workers = int(text)
    except ValueError:
        workers = 0
    if workers < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of processes, at least 1, got {text!r}")
    return workers
