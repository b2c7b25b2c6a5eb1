"""`lightrank`: the command line of the light-ranker pipeline.

    lightrank data generate [--out DIR] [--requests N] [--seed S] [--shards K]
    lightrank run [--config FILE] [--set KEY=VALUE ...]
    lightrank eval --model PATH --data GLOB [--config FILE] [--out DIR] [--json FILE] [--predictions FILE]
    lightrank runs | lineage [MODEL] | compare RUN_A RUN_B | report [RUN]
    lightrank compile --target vertex|kubeflow --out FILE | submit --target vertex|kubeflow
    lightrank bench serving --model PATH --data GLOB | bench training --transform DIR

Errors a user can fix (a bad config key, missing data, a corrupt file, schema
anomalies) print one clear message and exit with status 2; nothing is pushed.
"""

from __future__ import annotations

import os

# TFT and TFMA need Keras 2 (tf_keras); this must be set before TensorFlow loads.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import argparse
import datetime
import logging
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

# google-api-core warns about Python 3.10 on import; TFX 1.16 supports nothing newer.
warnings.filterwarnings(
    "ignore", message="You are using a non-supported Python version", category=FutureWarning
)

#: The config `make run` uses: the embedded sample data.
DEFAULT_CONFIG = str(Path(__file__).resolve().parent / "configs" / "sample.yaml")
DEFAULT_DATA_DIR = "data/sample"


def _generate(args: argparse.Namespace) -> int:
    from pipeline.console import quiet_stderr

    with quiet_stderr():
        from pipeline.sample import DEFAULT_REQUESTS, write_sample_data

    out = Path(args.out)
    if args.if_missing and out.is_dir() and any(out.iterdir()):
        print(f"Sample data already present in {out} (use --overwrite to regenerate).")
        return 0
    requests = DEFAULT_REQUESTS if args.requests is None else args.requests
    summary = write_sample_data(
        str(out), requests=requests, seed=args.seed, shards=args.shards, overwrite=args.overwrite
    )
    print(
        f"Wrote {summary.candidates:,} candidates of {summary.requests:,} requests to {summary.out_dir} "
        f"({len(summary.files)} files) in {summary.seconds:.1f} s."
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    from pipeline.config import load_config
    from pipeline.console import output_to

    config = load_config(args.config, args.set)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    log_file = os.path.abspath(args.log_file or os.path.join(config.root, "logs", f"run-{stamp}.log"))
    print(f"Pipeline '{config.name}' on {config.data.path}")
    print(f"Model: {config.model.kind} ({config.model.preset} preset), task {config.model.task}")
    print(f"Full log: {log_file}", flush=True)
    # TensorFlow prints while it loads: import it only once the output goes to the log.
    with output_to(log_file) as console:
        from pipeline.local_runner import run_local
        from pipeline.runs import latest_run, open_store
        from pipeline.summary import format_summary, thresholds_text

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
        raise (
            error
            if isinstance(error, _user_errors())
            else PipelineFailedError(f"{type(error).__name__}: {error}", log_file)
        )
    return 0


class PipelineFailedError(RuntimeError):
    """A component failed for a reason other than bad input; details are in the log."""

    def __init__(self, message: str, log_file: str) -> None:
        # TensorFlow errors open with "in user code:" and end with the real reason.
        lines = [line.strip() for line in message.splitlines() if line.strip()]
        summary = lines[0] if len(lines) < 2 else f"{lines[0]} ... {lines[-1]}"
        super().__init__(f"{summary or 'failed'}\n(full log: {log_file})")


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors the user can fix from the message alone: printed without a traceback."""
    from components.errors import DataAnomaliesError
    from kubeflow.errors import DeploymentError
    from pipeline.bench.errors import BenchInputError
    from pipeline.config import ConfigError
    from pipeline.evaluate import EvalInputError
    from pipeline.lineage import LineageError
    from pipeline.preflight import InputDataError

    return (
        ConfigError,
        InputDataError,
        EvalInputError,
        BenchInputError,
        DataAnomaliesError,
        DeploymentError,
        LineageError,
        FileExistsError,
        FileNotFoundError,
    )


def _count(minimum: int) -> Callable[[str], int]:
    """An argparse type for an integer flag of at least `minimum`, so a bad value exits 2 with its name."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below the minimum of {minimum}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per task."""
    parser = argparse.ArgumentParser(prog="lightrank", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="sample data").add_subparsers(dest="data_command", required=True)
    generate = data.add_parser("generate", help="write the embedded synthetic notification candidates")
    generate.add_argument("--out", default=DEFAULT_DATA_DIR, help="output directory (default: %(default)s)")
    generate.add_argument(
        "--requests",
        type=_count(1),
        default=None,
        help="number of requests, at least 1 (default: the sample size)",
    )
    generate.add_argument("--seed", type=_count(0), default=0, help="random seed (default: %(default)s)")
    generate.add_argument("--shards", type=_count(1), default=4, help="output files (default: %(default)s)")
    generate.add_argument("--overwrite", action="store_true", help="replace existing data (atomically)")
    generate.add_argument("--if-missing", action="store_true", help="do nothing if the directory has data")
    generate.set_defaults(handler=_generate)

    run = commands.add_parser("run", help="run the whole pipeline locally (LocalDagRunner, SQLite MLMD)")
    run.add_argument(
        "--config", default=DEFAULT_CONFIG, help="pipeline config YAML (default: the sample config)"
    )
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. model.kind=logistic",
    )
    run.add_argument(
        "--log-file", default=None, help="where the full log goes (default: <root>/logs/run-*.log)"
    )
    run.set_defaults(handler=_run)

    from kubeflow.cli import register as register_deploy
    from pipeline.bench.cli import register as register_bench
    from pipeline.evaluate import register as register_eval
    from pipeline.lineage_cli import register as register_lineage

    register_eval(commands)
    register_lineage(commands)
    register_deploy(commands)
    register_bench(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `lightrank` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except _user_errors() as error:
        print(f"lightrank: error: {error}", file=sys.stderr)
        return 2
    except PipelineFailedError as error:
        print(f"lightrank: the pipeline failed: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`lightrank lineage ... | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
