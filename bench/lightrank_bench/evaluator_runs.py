"""The pipeline Evaluator runs `lightrank-bench evaluation` reads back from ML Metadata.

An `--evaluator LABEL=METADATA_SQLITE` value names a `lightrank-bench pipeline` run's store. The
figure is the newest run whose Evaluator completed on one model: a run whose Evaluator also had
a baseline model evaluated every candidate twice (the Tuner's run that `make bench` adds to the
sample store is one), so it is skipped and named. Its candidates are the records of the
`Split-eval` files of the Examples artifact the Evaluator consumed, found through the
execution's input events.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lightrank.errors import UserError
from lightrank_bench.errors import BenchInputError

if TYPE_CHECKING:  # TensorFlow loads only when the benchmark runs, not when the CLI starts.
    import ml_metadata as mlmd

    from lightrank.pipeline.metadata.runs import RunRecord

#: The pipeline's Evaluator component id, and the split it evaluates.
EVALUATOR = "Evaluator"
EVAL_SPLIT = "Split-eval"
#: Input keys of the Evaluator's execution in ML Metadata.
EXAMPLES_KEY, BASELINE_KEY = "examples", "baseline_model"


class EvaluatorArgumentError(BenchInputError):
    """An `--evaluator LABEL=METADATA_SQLITE` value that names no usable Evaluator run."""


@dataclasses.dataclass(frozen=True)
class EvaluatorSource:
    """The Evaluator execution an `--evaluator` value names, as far as it is known without TensorFlow.

    Attributes:
        label: The value's label (`sample`, `large`, ...).
        store: The ML Metadata SQLite file.
        run_id: The run whose Evaluator is measured.
        seconds: The Evaluator's wall time from ML Metadata.
        eval_files: The `Split-eval` files of the Examples artifact it consumed.
        examples_uri: That artifact's directory.
        skipped: Newer runs passed over, each with why (e.g. a baseline model).
    """

    label: str
    store: str
    run_id: str
    seconds: float
    eval_files: tuple[str, ...]
    examples_uri: str
    skipped: tuple[str, ...] = ()


def parse_evaluator(text: str) -> tuple[str, str]:
    """`LABEL=METADATA_SQLITE` as `(label, path)`.

    Raises:
        EvaluatorArgumentError: If there is no `=`, or the label or the path is empty.
    """
    label, sign, path = text.partition("=")
    if not sign or not label.strip() or not path.strip():
        raise EvaluatorArgumentError(
            f"--evaluator {text!r} is invalid: expected LABEL=METADATA_SQLITE, e.g. "
            "large=runs/bench/large/metadata.db"
        )
    return label.strip(), path.strip()


def _input_artifact_ids(store: mlmd.MetadataStore, execution_id: int) -> dict[str, int]:
    """The execution's input artifacts by input key (TFX also records the channel, `_Evaluator...`)."""
    from ml_metadata.proto import metadata_store_pb2

    inputs: dict[str, int] = {}
    for event in store.get_events_by_execution_ids([execution_id]):
        if event.type != metadata_store_pb2.Event.INPUT:
            continue
        keys = [step.key for step in event.path.steps if step.HasField("key")]
        key = next((key for key in keys if not key.startswith("_")), keys[0] if keys else "")
        inputs.setdefault(key, event.artifact_id)
    return inputs


def _newest_evaluator(
    store: mlmd.MetadataStore, runs: Sequence[RunRecord]
) -> tuple[RunRecord, int, list[str]]:
    """The newest run whose Evaluator completed on one model: `(run, examples artifact id, skipped)`.

    Raises:
        LookupError: If no run has one; the message says what the runs had instead.
    """
    skipped: list[str] = []
    for run in runs:
        evaluator = next((c for c in run.components if c.component == EVALUATOR), None)
        if evaluator is None:
            skipped.append(f"{run.run_id} (no Evaluator)")
            continue
        if evaluator.state != "complete":
            skipped.append(f"{run.run_id} (Evaluator {evaluator.state})")
            continue
        inputs = _input_artifact_ids(store, evaluator.execution_id)
        if BASELINE_KEY in inputs:
            skipped.append(f"{run.run_id} (Evaluator also evaluated a baseline model)")
            continue
        if EXAMPLES_KEY not in inputs:
            skipped.append(f"{run.run_id} (Evaluator recorded no examples input)")
            continue
        return run, inputs[EXAMPLES_KEY], skipped
    raise LookupError("; ".join(skipped))


def read_evaluator(text: str, pipeline_name: str) -> EvaluatorSource:
    """The Evaluator execution an `--evaluator LABEL=METADATA_SQLITE` value names (ML Metadata only).

    Args:
        text: The argument.
        pipeline_name: The pipeline whose runs to read (the config's `name`, as the pipeline
            benchmark runs it).

    Raises:
        EvaluatorArgumentError: A malformed value, a missing or unreadable store, no run of the
            pipeline, no run whose Evaluator completed on one model, or an Examples artifact
            without `Split-eval` files.
    """
    from lightrank.pipeline.config import MetadataConfig
    from lightrank.pipeline.metadata.lineage import open_read_only, require_runs

    label, path = parse_evaluator(text)
    store_path = os.path.abspath(path)
    try:
        store = open_read_only(MetadataConfig(sqlite=store_path))
        runs = require_runs(store, pipeline_name, store_path)
    except (UserError, FileNotFoundError) as error:
        raise EvaluatorArgumentError(f"--evaluator {text}: {error}") from None
    try:
        run, examples_id, skipped = _newest_evaluator(store, runs)
    except LookupError as error:
        raise EvaluatorArgumentError(
            f"--evaluator {text}: no run of '{pipeline_name}' in {store_path} has an Evaluator that "
            f"completed on one model ({error}): pass the store of a `lightrank-bench pipeline` run"
        ) from None
    (examples,) = store.get_artifacts_by_id([examples_id])
    files = sorted(p for p in glob.glob(os.path.join(examples.uri, EVAL_SPLIT, "*")) if os.path.isfile(p))
    if not files:
        raise EvaluatorArgumentError(
            f"--evaluator {text}: the Examples the Evaluator of run {run.run_id} consumed, {examples.uri}, "
            f"has no {EVAL_SPLIT} files (moved or deleted since the run?)"
        )
    evaluator = next(c for c in run.components if c.component == EVALUATOR)
    return EvaluatorSource(label, store_path, run.run_id, evaluator.seconds, tuple(files), examples.uri,
                           tuple(skipped))  # fmt: skip
