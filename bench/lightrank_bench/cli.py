"""`lightrank bench serving|comparators|training|quality|pipeline`: benchmark tables as Markdown.

`register(commands)` adds the sub-commands to the `lightrank` CLI. Tables go to stdout and,
with `--out`, are appended to a file; `make bench` writes one file per table and assembles
`BENCHMARKS.md` from them (`lightrank_bench.document`).
"""

from __future__ import annotations

import argparse
import os

from lightrank_bench.errors import BenchInputError
from lightrank_bench.quality import MODELS as QUALITY_MODELS
from lightrank_bench.serving import SERVING_BATCH_SIZES
from lightrank_bench.training import TRAINING_BATCH_SIZES

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


def _request_arguments(args: argparse.Namespace) -> tuple[str, list[int]]:
    """The model directory and batch sizes of a request benchmark, `--seconds` and `--data` checked."""
    batch_sizes = _positive(args.batch_sizes, "--batch-sizes")
    if args.seconds <= 0:
        raise BenchInputError(f"--seconds={args.seconds} is invalid: expected a positive duration")
    if not os.path.exists(args.data) and not any(ch in args.data for ch in "*?["):
        raise BenchInputError(f"--data {args.data} does not exist")
    return resolve_serving_model(args.model), batch_sizes


def _emit(table: str, out: str | None) -> None:
    print(table)
    if out:
        with open(out, "a") as f:
            f.write(table + "\n")


def _serving(args: argparse.Namespace) -> int:
    from lightrank_bench.serving import run_serving
    from lightrank_bench.tables import serving_table

    model_dir, batch_sizes = _request_arguments(args)
    results = [
        run_serving(model_dir, args.data, batch_sizes, args.seconds, threads) for threads in args.threads
    ]
    command = ["lightrank", "bench", "serving", "--model", args.model, "--data", args.data,
               "--batch-sizes", *map(str, batch_sizes), "--threads", *map(str, args.threads),
               "--seconds", str(args.seconds)]  # fmt: skip
    _emit(serving_table(results, command), args.out)
    return 0


def _training(args: argparse.Namespace) -> int:
    from lightrank_bench.tables import training_table
    from lightrank_bench.training import measure_training

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


def _quality(args: argparse.Namespace) -> int:
    from lightrank_bench.errors import BenchInputError
    from lightrank_bench.quality import measure_quality, parse_variant, quality_table

    try:
        variants = [parse_variant(text) for text in args.variant]
    except ValueError as error:
        raise BenchInputError(f"--variant: {error}") from None
    rows = measure_quality(args.config, args.set, args.transform, args.models, variants)
    command = ["lightrank", "bench", "quality", "--transform", args.transform, "--config", args.config,
               *(item for override in args.set for item in ("--set", override)),
               "--models", *args.models,
               *(item for text in args.variant for item in ("--variant", text))]  # fmt: skip
    _emit(quality_table(rows, command), args.out)
    return 0


def _pipeline(args: argparse.Namespace) -> int:
    import datetime

    from lightrank.pipeline.console import output_to
    from lightrank_bench.pipeline_bench import pipeline_table, run_pipeline_bench
    from lightrank_bench.pipeline_workdir import check_arguments, default_root, prepare_root

    root = args.root or default_root(args.requests)
    check_arguments(root, args.requests, args.seed)
    prepare_root(root)  # marks `root` as the benchmark's before the log file goes into it
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    log_file = os.path.abspath(os.path.join(root, "logs", f"bench-{stamp}.log"))
    print(f"Full log: {log_file}", flush=True)
    # TensorFlow, Beam and TFX log thousands of lines: only the progress lines reach the terminal.
    with output_to(log_file) as console:
        result = run_pipeline_bench(args.config, root, args.requests, args.seed, console)
    command = ["lightrank", "bench", "pipeline", "--requests", str(args.requests), "--config", args.config,
               "--root", root, "--seed", str(args.seed)]  # fmt: skip
    _emit(pipeline_table(result, command), args.out)
    return 0


def _comparators(args: argparse.Namespace) -> int:
    from lightrank_bench.comparators import comparators_table, run_comparators, task_label

    model_dir, batch_sizes = _request_arguments(args)
    label = args.label or task_label(model_dir, args.config)
    results = run_comparators(model_dir, args.data, label, batch_sizes, args.seconds, args.threads)
    command = ["lightrank", "bench", "comparators", "--model", args.model, "--data", args.data,
               *(["--label", args.label] if args.label else ["--config", args.config]),
               "--batch-sizes", *map(str, batch_sizes), "--threads", *map(str, args.threads),
               "--seconds", str(args.seconds)]  # fmt: skip
    _emit(comparators_table(results, command), args.out)
    return 0


def _request_arguments(parser: argparse.ArgumentParser, *, seconds_help: str) -> None:
    """The request sizes, thread settings, duration and output of the serving-style benchmarks."""
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(SERVING_BATCH_SIZES))
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1, 0], help="thread settings; 0 = all cores (default: 1 0)"
    )
    parser.add_argument("--seconds", type=float, default=3.0, help=seconds_help)
    parser.add_argument("--out", default=None, help="also append the table to this file")


def register(commands: argparse._SubParsersAction) -> None:
    """Adds `lightrank bench serving|comparators|training|quality|pipeline` to the CLI's sub-commands."""
    from lightrank.cli import DEFAULT_CONFIG, DEFAULT_DATA_DIR

    bench = commands.add_parser("bench", help="speed, memory and quality benchmarks, as Markdown tables")
    kinds = bench.add_subparsers(dest="bench_command", required=True)

    serving = kinds.add_parser("serving", help="an exported model's serving_default on serialized candidates")
    serving.add_argument("--model", required=True, help="exported SavedModel, or a serving dir of versions")
    serving.add_argument(
        "--data", default=DEFAULT_DATA_DIR, help="candidate TFRecords (default: %(default)s)"
    )
    _request_arguments(serving, seconds_help="timed seconds per request size")
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

    quality = kinds.add_parser("quality", help="AUC, RCE, recall and CGR of every model on one eval split")
    quality.add_argument("--transform", required=True, help="the Transform output: <pipeline root>/Transform")
    quality.add_argument("--config", default=DEFAULT_CONFIG, help="pipeline config (features, task, models)")
    quality.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a field")
    quality.add_argument(
        "--models", nargs="+", choices=QUALITY_MODELS, default=list(QUALITY_MODELS),
        help="models to train and score; the table keeps the default order (default: all)",
    )  # fmt: skip
    quality.add_argument(
        "--variant", action="append", default=[], metavar="LABEL:KEY=VALUE[,KEY=VALUE]",
        help="an extra row: the default preset with these overrides, e.g. "
        "'no missing branch:model.deepnorm.use_missing_sub_branch=false' (repeatable)",
    )  # fmt: skip
    quality.add_argument("--out", default=None, help="also append the table to this file")
    quality.set_defaults(handler=_quality)

    pipeline_parser = kinds.add_parser("pipeline", help="wall time and peak memory of every component")
    pipeline_parser.add_argument(
        "--requests", type=int, required=True, help="sample requests (430 = the sample's 100,374 candidates)"
    )
    pipeline_parser.add_argument("--config", default=DEFAULT_CONFIG, help="pipeline config (model, features)")
    pipeline_parser.add_argument(
        "--root", default=None, help="the benchmark's directory (default: runs/bench/pipeline-<requests>)"
    )
    pipeline_parser.add_argument("--seed", type=int, default=0, help="sample data seed (default: 0)")
    pipeline_parser.add_argument("--out", default=None, help="also append the table to this file")
    pipeline_parser.set_defaults(handler=_pipeline)

    comparators = kinds.add_parser(
        "comparators", help="LightGBM and ONNX Runtime against serving_default on the same candidates"
    )
    comparators.add_argument("--model", required=True, help="exported SavedModel, or a dir of versions")
    comparators.add_argument(
        "--data", default=DEFAULT_DATA_DIR, help="candidate TFRecords, with labels (default: %(default)s)"
    )
    comparators.add_argument(
        "--config", default=DEFAULT_CONFIG, help="pipeline config whose feature spec names the task's label"
    )
    comparators.add_argument("--label", default=None, help="LightGBM's label column (default: from --config)")
    _request_arguments(comparators, seconds_help="timed seconds per system and size")
    comparators.set_defaults(handler=_comparators)
