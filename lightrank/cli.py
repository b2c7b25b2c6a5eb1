"""`lightrank`: the command line of the light-ranker pipeline, the top layer of the package.

    lightrank data generate [--profile sample|catalog] [--out DIR] [--requests N] [--seed S] [--shards K]
    lightrank schema infer --data [SPLIT=]GLOB ... --out DIR [--request-key NAME] [--label NAME ...] ...
    lightrank run [--config FILE] [--set KEY=VALUE ...]
    lightrank eval --model PATH --data GLOB [--config FILE] [--out DIR] [--json FILE] [--predictions FILE]
    lightrank runs | lineage [MODEL] | compare RUN_A RUN_B | report [RUN]
    lightrank compile --target vertex|kubeflow --out FILE | submit --target vertex|kubeflow
    lightrank run-spec SPEC [--config FILE] [--param NAME=VALUE ...]

This module only wires the sub-commands together; each lives with its layer
(`lightrank.pipeline.commands.*`, `lightrank.kubeflow.cli`, `lightrank.kubeflow.spec_cli`) and
nothing imports this one.
Errors a user can fix (`lightrank.errors.UserError`: a bad config key, missing data, a corrupt
file, schema anomalies) print one clear message and exit with status 2; nothing is pushed.
A pipeline that fails for another reason prints one line and the log's path and exits 1.
"""

from __future__ import annotations

import os

# TFT and TFMA need Keras 2 (tf_keras); this must be set before TensorFlow loads.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import argparse
import sys
import warnings

from lightrank.errors import UserError
from lightrank.kubeflow import cli as deploy_commands
from lightrank.kubeflow import spec_cli as spec_commands
from lightrank.pipeline.commands import data as data_commands
from lightrank.pipeline.commands import eval as eval_commands
from lightrank.pipeline.commands import lineage as lineage_commands
from lightrank.pipeline.commands import run as run_commands
from lightrank.pipeline.commands import schema as schema_commands
from lightrank.pipeline.commands.common import PipelineFailedError

# google-api-core warns about Python 3.10 on import; TFX 1.16 supports nothing newer.
warnings.filterwarnings(
    "ignore", message="You are using a non-supported Python version", category=FutureWarning
)

#: Errors printed as one line with exit status 2: every `UserError`, and a missing or
#: existing file that the message names.
USER_ERRORS = (UserError, FileExistsError, FileNotFoundError)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per task."""
    parser = argparse.ArgumentParser(prog="lightrank", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    modules = (
        data_commands,
        schema_commands,
        run_commands,
        eval_commands,
        lineage_commands,
        deploy_commands,
        spec_commands,
    )
    for module in modules:
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `lightrank` console script."""
    args = build_parser().parse_args(argv)
    try:
        status = args.handler(args)
        sys.stdout.flush()  # a reader that left before the last buffered line is seen here
        return status
    except USER_ERRORS as error:
        print(f"lightrank: error: {error}", file=sys.stderr)
        return 2
    except PipelineFailedError as error:
        print(f"lightrank: the pipeline failed: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`lightrank lineage ... | head`): stop quietly, as Unix tools do.
        # Python flushes stdout again at exit: point it at /dev/null so that flush cannot fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141


if __name__ == "__main__":
    sys.exit(main())
