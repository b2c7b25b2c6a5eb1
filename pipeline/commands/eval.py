"""`lightrank eval`: an exported model scored on any candidate files with the Evaluator's metrics.

    lightrank eval --model PATH --data GLOB [--config FILE] [--set KEY=VALUE ...] [--out DIR]
                   [--json FILE] [--predictions OUT.parquet]

The engine is `lightrank.pipeline.eval.evaluate`; this module only parses the command line
and keeps the log: in a temporary file while it runs, then `<out>/eval.log`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import tempfile

from lightrank.errors import UserError
from lightrank.pipeline.commands.common import PipelineFailedError, add_config_arguments


def _handle(args: argparse.Namespace) -> int:
    from lightrank.pipeline.config import load_config
    from lightrank.pipeline.console import output_to
    from lightrank.pipeline.eval.evaluate import EvalOutputs, evaluate, format_report

    config = load_config(args.config, args.set)
    outputs = EvalOutputs.plan(args.out, args.json, args.predictions, args.model)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    log_file = os.path.join(tempfile.gettempdir(), f"lightrank-eval-{stamp}-{os.getpid()}.log")
    print(f"Evaluating {args.model} on {args.data} (full log: {log_file})", flush=True)
    try:
        with output_to(log_file) as console:
            result = evaluate(config, args.model, args.data, outputs, console)
            console.write(format_report(result, outputs) + "\n")
    except UserError:
        os.remove(log_file)
        raise
    except Exception as error:  # the traceback is in the log; the message names it
        raise PipelineFailedError(f"evaluation: {type(error).__name__}: {error}", log_file) from error
    shutil.move(log_file, os.path.join(outputs.out_dir, "eval.log"))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Adds `lightrank eval` to the CLI's sub-commands."""
    parser = commands.add_parser(
        "eval", help="evaluate an exported model on any data with the Evaluator's metrics (TFMA)"
    )
    parser.add_argument("--model", required=True, help="exported SavedModel, e.g. a pushed version")
    parser.add_argument("--data", required=True, help="glob or directory of TFRecord files of tf.Example")
    add_config_arguments(parser)
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
    parser.set_defaults(handler=_handle)
