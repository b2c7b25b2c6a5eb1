"""`lightrank-bench`: the benchmarks' command line; each sub-command prints one Markdown table.

    lightrank-bench serving --model DIR [--data GLOB] [--batch-sizes N ...] [--threads T ...] [--seconds S]
    lightrank-bench comparators --model DIR [--data GLOB] [--config FILE | --label NAME] [...as serving]
    lightrank-bench training --transform DIR [--config FILE] [--set KEY=VALUE ...] [--batch-sizes N ...]
    lightrank-bench quality --transform DIR [--examples DIR] [--config FILE] [--set ...] [--models M ...]
                            [--variant LABEL:KEY=VALUE,...] [--tuned LABEL:PATH] [--seeds N]
    lightrank-bench pipeline --requests N [--config FILE] [--set KEY=VALUE ...] [--root DIR] [--seed S]
    lightrank-bench evaluation --model DIR [--data GLOB] [--config FILE] [--set ...]
                               [--evaluator LABEL=METADATA_SQLITE ...] [--seconds S]

Every sub-command also takes `--out FILE`, which appends the table to that file; `make bench`
writes one file per table and assembles `BENCHMARKS.md` from them (`lightrank_bench.document`).
What the numbers mean and the goals they are measured against: `docs/performance.md`.
Inputs a user can fix (`lightrank.errors.UserError`, which `BenchInputError` is, or a missing
file) print one line, `lightrank-bench: error: ...`, and exit with status 2.
"""

from __future__ import annotations

import os

# TFT and TFMA need Keras 2 (tf_keras); this must be set before TensorFlow loads.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import argparse
import sys
from collections.abc import Sequence

from lightrank.errors import UserError
from lightrank.pipeline.commands.data import SAMPLE_DATA_DIR
from lightrank.pipeline.config import SAMPLE_CONFIG
from lightrank_bench.errors import BenchInputError
from lightrank_bench.quality import MODELS as QUALITY_MODELS
from lightrank_bench.serving import SERVING_BATCH_SIZES
from lightrank_bench.training import TRAINING_BATCH_SIZES

PROG = "lightrank-bench"
SERVING_SUBDIR = "Format-Serving"
#: Errors printed as one line with exit status 2: every `UserError` and a missing file.
USER_ERRORS = (UserError, FileNotFoundError)


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


def _check_request_arguments(args: argparse.Namespace) -> tuple[str, list[int]]:
    """The model directory and batch sizes of a request benchmark; threads, duration and data checked."""
    batch_sizes = _positive(args.batch_sizes, "--batch-sizes")
    if not args.threads or min(args.threads) < 0:
        raise BenchInputError(f"--threads={args.threads} is invalid: expected counts >= 0 (0 = all cores)")
    if not args.seconds > 0:
        raise BenchInputError(f"--seconds={args.seconds} is invalid: expected a positive duration")
    if not os.path.exists(args.data) and not any(ch in args.data for ch in "*?["):
        raise BenchInputError(f"--data {args.data} does not exist")
    return resolve_serving_model(args.model), batch_sizes


def _overrides(args: argparse.Namespace) -> list[str]:
    """`--set` arguments as they were given, for the recorded command."""
    return [item for override in args.set for item in ("--set", override)]


def _emit(table: str, out: str | None) -> None:
    print(table)
    if out:
        with open(out, "a") as f:
            f.write(table + "\n")


def _serving(args: argparse.Namespace) -> int:
    from lightrank_bench.serving import run_serving
    from lightrank_bench.tables import serving_table

    model_dir, batch_sizes = _check_request_arguments(args)
    results = [
        run_serving(model_dir, args.data, batch_sizes, args.seconds, threads) for threads in args.threads
    ]
    command = [PROG, "serving", "--model", args.model, "--data", args.data,
               "--batch-sizes", *map(str, batch_sizes), "--threads", *map(str, args.threads),
               "--seconds", str(args.seconds)]  # fmt: skip
    _emit(serving_table(results, command), args.out)
    return 0


def _comparators(args: argparse.Namespace) -> int:
    from lightrank_bench.comparators import comparators_table, run_comparators, task_label

    model_dir, batch_sizes = _check_request_arguments(args)
    label = args.label or task_label(model_dir, args.config)
    results = run_comparators(model_dir, args.data, label, batch_sizes, args.seconds, args.threads)
    command = [PROG, "comparators", "--model", args.model, "--data", args.data,
               *(["--label", args.label] if args.label else ["--config", args.config]),
               "--batch-sizes", *map(str, batch_sizes), "--threads", *map(str, args.threads),
               "--seconds", str(args.seconds)]  # fmt: skip
    _emit(comparators_table(results, command), args.out)
    return 0


def _training(args: argparse.Namespace) -> int:
    from lightrank_bench.tables import training_table
    from lightrank_bench.training import measure_training

    batch_sizes = _positive(args.batch_sizes, "--batch-sizes")
    if args.steps < 1 or args.warmup_steps < 1:
        raise BenchInputError(
            f"--steps={args.steps} and --warmup-steps={args.warmup_steps} are invalid: both must be >= 1"
        )
    rows = measure_training(args.config, args.set, args.transform, batch_sizes, args.steps, args.warmup_steps)
    command = [PROG, "training", "--transform", args.transform, "--config", args.config, *_overrides(args),
               "--batch-sizes", *map(str, batch_sizes), "--steps", str(args.steps),
               "--warmup-steps", str(args.warmup_steps)]  # fmt: skip
    _emit(training_table(rows, command), args.out)
    return 0


def _quality(args: argparse.Namespace) -> int:
    from lightrank_bench.quality import measure_quality, parse_variant, tuned_variant
    from lightrank_bench.quality_table import quality_table

    if args.seeds < 1:
        raise BenchInputError(f"--seeds={args.seeds} is invalid: every model needs at least one training")

    try:
        variants = [parse_variant(text) for text in args.variant]
    except ValueError as error:
        raise BenchInputError(f"--variant: {error}") from None
    try:
        variants += [tuned_variant(text) for text in args.tuned]
    except ValueError as error:
        raise BenchInputError(f"--tuned: {error}") from None
    rows = measure_quality(args.config, args.set, args.transform, args.models, variants,
                           args.examples, args.serving_data, args.seeds)  # fmt: skip
    command = [PROG, "quality", "--transform", args.transform,
               *(["--examples", args.examples] if args.examples else []),
               *(["--serving-data", args.serving_data] if args.serving_data else []),
               "--config", args.config, *_overrides(args),
               "--models", *args.models,
               *(item for text in args.variant for item in ("--variant", text)),
               *(item for text in args.tuned for item in ("--tuned", text)),
               *(["--seeds", str(args.seeds)] if args.seeds != 1 else [])]  # fmt: skip
    _emit(quality_table(rows, command), args.out)
    return 0


def _pipeline(args: argparse.Namespace) -> int:
    import datetime

    from lightrank.pipeline.console import output_to
    from lightrank_bench.pipeline_bench import pipeline_table, run_pipeline_bench
    from lightrank_bench.pipeline_workdir import bench_config, check_arguments, default_root, prepare_root

    root = args.root or default_root(args.requests)
    check_arguments(root, args.requests, args.seed)
    bench_config(args.config, root, args.set)  # a bad config or --set fails before anything is written
    prepare_root(root)  # marks `root` as the benchmark's before the log file goes into it
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    log_file = os.path.abspath(os.path.join(root, "logs", f"bench-{stamp}.log"))
    print(f"Full log: {log_file}", flush=True)
    # TensorFlow, Beam and TFX log thousands of lines: only the progress lines reach the terminal.
    with output_to(log_file) as console:
        result = run_pipeline_bench(args.config, root, args.requests, args.seed, console, args.set)
    command = [PROG, "pipeline", "--requests", str(args.requests), "--config", args.config, *_overrides(args),
               "--root", root, "--seed", str(args.seed)]  # fmt: skip
    _emit(pipeline_table(result, command), args.out)
    return 0


def _evaluation(args: argparse.Namespace) -> int:
    from lightrank_bench.evaluation_bench import evaluation_table, measure_evaluation, plan_evaluation

    # Every input is checked before anything is measured: a bad --evaluator fails at once.
    plan = plan_evaluation(resolve_serving_model(args.model), args.data, args.config, args.set,
                           args.evaluator, args.seconds)  # fmt: skip
    result = measure_evaluation(plan)
    command = [PROG, "evaluation", "--model", args.model, "--data", args.data, "--config", args.config,
               *_overrides(args), *(item for text in args.evaluator for item in ("--evaluator", text)),
               "--seconds", str(args.seconds)]  # fmt: skip
    _emit(evaluation_table(result, command), args.out)
    return 0


def _add_request_arguments(parser: argparse.ArgumentParser, *, seconds_help: str) -> None:
    """The request sizes, thread settings, duration and output of the serving-style benchmarks."""
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=list(SERVING_BATCH_SIZES),
        help="candidates per request (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1, 0], help="thread settings; 0 = all cores (default: 1 0)"
    )
    parser.add_argument("--seconds", type=float, default=3.0, help=f"{seconds_help} (default: %(default)s)")
    parser.add_argument("--out", default=None, help="also append the table to this file")


def _add_config_arguments(parser: argparse.ArgumentParser, *, config_help: str) -> None:
    parser.add_argument("--config", default=SAMPLE_CONFIG, help=f"{config_help} (default: the sample config)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field (repeatable)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, one sub-command per benchmark."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    kinds = parser.add_subparsers(dest="command", required=True)

    serving = kinds.add_parser("serving", help="an exported model's serving_default on serialized candidates")
    serving.add_argument("--model", required=True, help="exported SavedModel, or a serving dir of versions")
    serving.add_argument("--data", default=SAMPLE_DATA_DIR, help="candidate TFRecords (default: %(default)s)")
    _add_request_arguments(serving, seconds_help="timed seconds per request size")
    serving.set_defaults(handler=_serving)

    comparators = kinds.add_parser(
        "comparators", help="LightGBM and ONNX Runtime against serving_default on the same candidates"
    )
    comparators.add_argument("--model", required=True, help="exported SavedModel, or a dir of versions")
    comparators.add_argument(
        "--data", default=SAMPLE_DATA_DIR, help="candidate TFRecords, with labels (default: %(default)s)"
    )
    comparators.add_argument(
        "--config", default=SAMPLE_CONFIG, help="pipeline config whose feature spec names the task's label"
    )
    comparators.add_argument("--label", default=None, help="LightGBM's label column (default: from --config)")
    _add_request_arguments(comparators, seconds_help="timed seconds per system and size")
    comparators.set_defaults(handler=_comparators)

    training = kinds.add_parser("training", help="examples/s of the training loop on a Transform output")
    training.add_argument("--transform", required=True, help="Transform output: <pipeline root>/Transform")
    _add_config_arguments(training, config_help="pipeline config (model, features)")
    training.add_argument(
        "--batch-sizes", type=int, nargs="+", default=list(TRAINING_BATCH_SIZES),
        help="examples per step (default: %(default)s)",
    )  # fmt: skip
    training.add_argument("--steps", type=int, default=200, help="timed steps per batch size")
    training.add_argument("--warmup-steps", type=int, default=20, help="untimed steps first")
    training.add_argument("--out", default=None, help="also append the table to this file")
    training.set_defaults(handler=_training)

    quality = kinds.add_parser("quality", help="AUC, RCE, recall and CGR of every model on one eval split")
    quality.add_argument("--transform", required=True, help="Transform output: <pipeline root>/Transform")
    quality.add_argument(
        "--examples", default=None, metavar="DIR",
        help="the raw examples the Transform read, for the lightgbm row: an ExampleGen output with "
        "Split-train and Split-eval, e.g. <pipeline root>/ImportExampleGen/examples/<id> "
        "(default: the Transform's input, from ML Metadata)",
    )  # fmt: skip
    _add_config_arguments(quality, config_help="pipeline config (features, task, models)")
    quality.add_argument(
        "--models", nargs="+", choices=QUALITY_MODELS, default=list(QUALITY_MODELS),
        help="models to train and score; the table keeps the default order (default: all)",
    )  # fmt: skip
    quality.add_argument(
        "--variant", action="append", default=[], metavar="LABEL:KEY=VALUE[,KEY=VALUE]",
        help="an extra row: the default preset with these overrides, e.g. "
        "'no missing branch:model.deepnorm.use_missing_sub_branch=false' (repeatable)",
    )  # fmt: skip
    quality.add_argument(
        "--tuned", action="append", default=[], metavar="LABEL:PATH",
        help="an extra row: the default preset with a Tuner's best hyperparameters, PATH its "
        "best_hyperparameters output, e.g. '<root>/Tuner/best_hyperparameters' (repeatable)",
    )  # fmt: skip
    quality.add_argument(
        "--serving-data", default=None, metavar="DIR",
        help="raw candidates (TFRecord files): give each Keras model its serving cost, counted kFLOP "
        "and serving_default candidates/s at batch 1,000 on one thread (default: no cost columns)",
    )  # fmt: skip
    quality.add_argument(
        "--seeds", type=int, default=1, metavar="N",
        help="train every model N times with seeds 0..N-1 added to its own; each row is their mean, "
        "and the paired comparison redraws the seeds with the requests (default: 1)",
    )  # fmt: skip
    quality.add_argument("--out", default=None, help="also append the table to this file")
    quality.set_defaults(handler=_quality)

    pipeline = kinds.add_parser("pipeline", help="wall time and peak memory of every component")
    pipeline.add_argument(
        "--requests", type=int, required=True, help="sample requests (430 = the sample's 100,374 candidates)"
    )
    _add_config_arguments(pipeline, config_help="pipeline config (model, features)")
    pipeline.add_argument(
        "--root", default=None, help="the benchmark's directory (default: runs/bench/pipeline-<requests>)"
    )
    pipeline.add_argument("--seed", type=int, default=0, help="sample data seed (default: 0)")
    pipeline.add_argument("--out", default=None, help="also append the table to this file")
    pipeline.set_defaults(handler=_pipeline)

    evaluation = kinds.add_parser(
        "evaluation", help="the Evaluator and `lightrank eval` in candidates/s, beside plain serving"
    )
    evaluation.add_argument("--model", required=True, help="exported SavedModel, or a dir of versions")
    evaluation.add_argument(
        "--data", default=SAMPLE_DATA_DIR,
        help="candidate TFRecords, with labels, for serving and `lightrank eval` (default: %(default)s)",
    )  # fmt: skip
    _add_config_arguments(evaluation, config_help="pipeline config of `lightrank eval` (metrics, slices)")
    evaluation.add_argument(
        "--evaluator", action="append", default=[], metavar="LABEL=METADATA_SQLITE",
        help="a `lightrank-bench pipeline` run's ML Metadata store: its newest Evaluator run on one model "
        "becomes a row; labels `large` and `sample` have goals (repeatable)",
    )  # fmt: skip
    evaluation.add_argument(
        "--seconds", type=float, default=3.0, help="timed seconds of plain serving (default: %(default)s)"
    )
    evaluation.add_argument("--out", default=None, help="also append the table to this file")
    evaluation.set_defaults(handler=_evaluation)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lightrank-bench` console script and of `python -m lightrank_bench`."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except USER_ERRORS as error:
        message = " ".join(str(error).split())  # one line, whatever the message holds
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
