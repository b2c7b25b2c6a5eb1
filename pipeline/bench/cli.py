"""`lightrank bench serving|training`: print the benchmark tables as Markdown.

`register(commands)` adds the sub-command to the `lightrank` CLI. Tables go to stdout and,
with `--out`, are appended to a file (e.g. `BENCHMARKS.md`), so several runs build one report.
"""

from __future__ import annotations

import argparse
import os

from pipeline.bench.errors import BenchInputError
from pipeline.bench.serving import SERVING_BATCH_SIZES
from pipeline.bench.training import TRAINING_BATCH_SIZES

SERVING_SUBDIR = "Format-Serving"


def resolve_serving_model(path: str) -> str:
    """An exported model directory: itself, its `Format-Serving`, or the newest pushed version in it.

    Raises:
        BenchInputError: If none of those is a SavedModel with the export's `model_settings.json`.
    """
    candidates = [path, os.path.join(path, SERVING_SUBDIR)]
    if os.path.isdir(path):
        versions = sorted((name for name in os.listdir(path) if name.isdigit()), key=int, reverse=True)
        candidates += [os.path.join(path, name) for name in versions]
    for candidate in candidates:
        if os.path.isfile(os.path.join(candidate, "saved_model.pb")):
            if not os.path.isfile(os.path.join(candidate, "model_settings.json")):
                raise BenchInputError(f"{candidate} has no model_settings.json: export it with lightrank")
            return candidate
    raise BenchInputError(
        f"{path} is not an exported model: pass a SavedModel directory or a serving directory of versions"
    )


def _positive(values: list[int], name: str) -> list[int]:
    if not values or min(values) < 1:
        raise BenchInputError(f"{name}={values} is invalid: expected positive integers")
    return values


def _emit(table: str, out: str | None) -> None:
    print(table)
    if out:
        with open(out, "a") as f:
            f.write(table + "\n")


def _serving(args: argparse.Namespace) -> int:
    from pipeline.bench.report import serving_table
    from pipeline.bench.serving import run_serving

    model_dir = resolve_serving_model(args.model)
    batch_sizes = _positive(args.batch_sizes, "--batch-sizes")
    if args.seconds <= 0:
        raise BenchInputError(f"--seconds={args.seconds} is invalid: expected a positive duration")
    if not os.path.exists(args.data) and not any(ch in args.data for ch in "*?["):
        raise BenchInputError(f"--data {args.data} does not exist")
    results = [
        run_serving(model_dir, args.data, batch_sizes, args.seconds, threads) for threads in args.threads
    ]
    command = ["lightrank", "bench", "serving", "--model", args.model, "--data", args.data,
               "--batch-sizes", *map(str, batch_sizes), "--threads", *map(str, args.threads),
               "--seconds", str(args.seconds)]  # fmt: skip
    _emit(serving_table(results, command), args.out)
    return 0


def _training(args: argparse.Namespace) -> int:
    from pipeline.bench.report import training_table
    from pipeline.bench.training import measure_training

    batch_sizes = _positive(args.batch_sizes, "--batch-sizes")
    if args.steps < 1 or args.warmup_steps < 1:
        raise BenchInputError("--steps and --warmup-steps must both be >= 1")
    rows = measure_training(args.config, args.set, args.transform, batch_sizes, args.steps, args.warmup_steps)
    command = ["lightrank", "bench", "training", "--transform", args.transform, "--config", args.config,
               *(item for override in args.set for item in ("--set", override)),
               "--batch-sizes", *map(str, batch_sizes), "--steps", str(args.steps),
               "--warmup-steps", str(args.warmup_steps)]  # fmt: skip
    _emit(training_table(rows, command), args.out)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Adds `lightrank bench serving|training` to the CLI's sub-commands."""
    from pipeline.cli import DEFAULT_CONFIG, DEFAULT_DATA_DIR

    bench = commands.add_parser("bench", help="serving and training throughput, as Markdown tables")
    kinds = bench.add_subparsers(dest="bench_command", required=True)

    serving = kinds.add_parser("serving", help="an exported model's serving_default on serialized candidates")
    serving.add_argument("--model", required=True, help="exported SavedModel, or a serving dir of versions")
    serving.add_argument(
        "--data", default=DEFAULT_DATA_DIR, help="candidate TFRecords (default: %(default)s)"
    )
    serving.add_argument("--batch-sizes", type=int, nargs="+", default=list(SERVING_BATCH_SIZES))
    serving.add_argument(
        "--threads", type=int, nargs="+", default=[1, 0], help="thread settings; 0 = all cores (default: 1 0)"
    )
    serving.add_argument("--seconds", type=float, default=3.0, help="timed seconds per request size")
    serving.add_argument("--out", default=None, help="also append the table to this file")
    serving.set_defaults(handler=_serving)

    training = kinds.add_parser("training", help="examples/s of the training loop on a Transform output")
    training.add_argument(
        "--transform", required=True, help="the Transform output: <pipeline root>/Transform"
    )
    training.add_argument("--config", default=DEFAULT_CONFIG, help="pipeline config (model, features)")
    training.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a field")
    training.add_argument("--batch-sizes", type=int, nargs="+", default=list(TRAINING_BATCH_SIZES))
    training.add_argument("--steps", type=int, default=200, help="timed steps per batch size")
    training.add_argument("--warmup-steps", type=int, default=20, help="untimed steps first")
    training.add_argument("--out", default=None, help="also append the table to this file")
    training.set_defaults(handler=_training)
