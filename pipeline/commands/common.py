"""What every `lightrank` sub-command shares: the config flags, counts, quiet imports, failures.

Kept in the pipeline layer so that its commands and `lightrank.kubeflow.cli` use one
definition; `lightrank.cli` only wires the commands together.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
from collections.abc import Callable, Iterator

from lightrank.pipeline.config import SAMPLE_CONFIG


class PipelineFailedError(RuntimeError):
    """A component failed for a reason other than bad input; details are in the log.

    Not a `UserError`: the CLI prints it as one line with the log's path and exits 1.
    """

    def __init__(self, message: str, log_file: str) -> None:
        # TensorFlow errors open with "in user code:" and end with the real reason.
        lines = [line.strip() for line in message.splitlines() if line.strip()]
        summary = lines[0] if len(lines) < 2 else f"{lines[0]} ... {lines[-1]}"
        super().__init__(f"{summary or 'failed'}\n(full log: {log_file})")


def add_config_arguments(
    parser: argparse.ArgumentParser,
    *,
    default: str | None = SAMPLE_CONFIG,
    default_help: str = "the sample config",
) -> None:
    """`--config FILE` (default: `default`, described as `default_help`) and repeatable `--set KEY=VALUE`."""
    parser.add_argument("--config", default=default, help=f"pipeline config YAML (default: {default_help})")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. model.kind=logistic",
    )


def count(minimum: int) -> Callable[[str], int]:
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


@contextlib.contextmanager
def quiet_tensorflow(module: str = "tensorflow") -> Iterator[None]:
    """Imports `module` (which loads TensorFlow) without the start-up chatter; keeps INFO logs quiet.

    A command that reads or compiles (not one that runs the pipeline, whose output goes to its
    log file) prints only its own result.

    Args:
        module: The import that loads TensorFlow for the command, e.g. TFMA or the compiler.
    """
    from lightrank.pipeline.console import quiet_stderr

    with quiet_stderr():
        importlib.import_module(module)
        from absl import logging as absl_logging
    previous = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(previous)
