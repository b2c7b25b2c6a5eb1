"""Evaluation speed: the pipeline's Evaluator and `lightrank eval` beside plain serving, in one run.

The goals on evaluation speed are wall times and throughputs, and both depend on the machine.
So every figure here comes with its ratio to plain serving: the exported model's
`serving_default` on serialized candidates at batch 1,000 on all cores, measured by the same
command on the same machine (`lightrank_bench.serving`'s worker, in a fresh process). The ratio
is the share of the model's own scoring speed that evaluating keeps, which a slower or faster
machine leaves about the same.

Three kinds of figure, measured in this order:

1. plain serving, the reference;
2. `lightrank eval`: the product's `evaluate` called in this process on `--data` with the
   config's metrics and slices, writing into a temporary directory that is removed afterwards;
   the whole call is timed (input scan, TFMA, metrics JSON), as a user waits for it;
3. the pipeline's Evaluator, read back from a `lightrank-bench pipeline` run's ML Metadata
   (`lightrank_bench.evaluator_runs`): its wall time as the pipeline table computes it, and the
   records of the eval split it consumed.

Every argument is checked before anything is measured (`plan_evaluation`): a mistyped
`--evaluator` fails at once, not after minutes of measuring.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from lightrank.errors import UserError
from lightrank_bench.errors import BenchInputError
from lightrank_bench.evaluator_runs import EVAL_SPLIT, EvaluatorArgumentError, EvaluatorSource, read_evaluator
from lightrank_bench.tables import header

if TYPE_CHECKING:  # TensorFlow loads only when the benchmark runs, not when the CLI starts.
    from lightrank.pipeline.config import PipelineConfig

#: The plain-serving reference: one request size and thread setting (0: all cores).
SERVING_BATCH = 1_000
SERVING_THREADS = 0


@dataclasses.dataclass(frozen=True)
class Goal:
    """A goal of the issue: a wall time not to exceed, or a throughput to reach.

    Attributes:
        max_seconds: At most this wall time, if set.
        min_per_sec: At least this many candidates/s, if set.
    """

    max_seconds: float | None = None
    min_per_sec: float | None = None

    def describe(self) -> str:
        """The goal as the table prints it, e.g. `<= 90 s`."""
        if self.max_seconds is not None:
            return f"<= {self.max_seconds:,.0f} s"
        return f">= {self.min_per_sec:,.0f} candidates/s"

    def met(self, figure: Figure) -> bool:
        """Whether `figure` reaches the goal."""
        if self.max_seconds is not None:
            return figure.seconds <= self.max_seconds
        return self.min_per_sec is not None and figure.per_sec >= self.min_per_sec


#: The goals of `--evaluator` labels; any other label is measured without one.
EVALUATOR_GOALS: dict[str, Goal] = {"large": Goal(max_seconds=90), "sample": Goal(max_seconds=10)}
#: The goal of `lightrank eval` (the sample model, all metrics and slices, on 2 cores).
EVAL_GOAL = Goal(min_per_sec=10_000)


@dataclasses.dataclass(frozen=True)
class Figure:
    """One measured figure: how many candidates in how long.

    Attributes:
        what: The row's label.
        candidates: Candidates scored (serving) or evaluated.
        seconds: Wall time they took.
        goal: The goal it is measured against; None if it has none.
    """

    what: str
    candidates: int
    seconds: float
    goal: Goal | None = None

    @property
    def per_sec(self) -> float:
        """Candidates per second (0 for a zero duration, which no measurement gives)."""
        return self.candidates / self.seconds if self.seconds > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class EvaluationPlan:
    """Every input of the benchmark, checked.

    Attributes:
        model_dir: The exported serving SavedModel (a resolved version directory).
        data: `--data` as given.
        data_files: The candidate files it stands for.
        config: The pipeline config `lightrank eval` runs with (`--config` plus `--set`).
        evaluators: One per `--evaluator`, in the given order.
        seconds: Timed seconds of the serving measurement.
    """

    model_dir: str
    data: str
    data_files: tuple[str, ...]
    config: PipelineConfig
    evaluators: tuple[EvaluatorSource, ...]
    seconds: float


@dataclasses.dataclass(frozen=True)
class EvaluationBenchResult:
    """What one run measured.

    Attributes:
        plan: What was measured.
        serving: The plain-serving reference.
        serving_requests: Timed requests of that reference.
        lightrank_eval: `lightrank eval` on `--data`.
        evaluators: The Evaluator figures, in `plan.evaluators` order.
    """

    plan: EvaluationPlan
    serving: Figure
    serving_requests: int
    lightrank_eval: Figure
    evaluators: tuple[Figure, ...]


def candidate_files(data: str) -> list[str]:
    """The files a `--data` directory or glob stands for, sorted.

    `lightrank eval`'s own check (`checked_candidate_files`) is stricter but loads TensorFlow,
    whose start-up lines would bury the one-line error of a mistyped argument; it still runs,
    inside `evaluate`, before anything is written.

    Raises:
        BenchInputError: If nothing matches.
    """
    pattern = os.path.join(data, "*") if os.path.isdir(data) else data
    files = sorted(path for path in glob.glob(pattern) if os.path.isfile(path))
    if not files:
        raise BenchInputError(f"--data {data} matches no file")
    return files


def plan_evaluation(
    model_dir: str,
    data: str,
    config_path: str,
    overrides: Sequence[str],
    evaluators: Sequence[str],
    seconds: float,
) -> EvaluationPlan:
    """Checks every input without measuring or writing anything.

    Args:
        model_dir: The exported serving SavedModel (already resolved from a serving directory).
        data: Directory or glob of TFRecord tf.Example candidates.
        config_path: The pipeline config `lightrank eval` runs with.
        overrides: `KEY=VALUE` overrides of it, as `lightrank eval --set`.
        evaluators: `--evaluator LABEL=METADATA_SQLITE` values.
        seconds: Timed seconds of the serving measurement.

    Raises:
        BenchInputError: A non-positive duration, `--data` matching no file, or a bad or repeated
            `--evaluator`.
        ConfigError: The config or an override is invalid.
    """
    from lightrank.pipeline.config import load_config

    if not seconds > 0:
        raise BenchInputError(f"--seconds={seconds} is invalid: expected a positive duration")
    files = candidate_files(data)
    config = load_config(config_path, list(overrides))
    sources = [read_evaluator(text, config.name) for text in evaluators]
    labels = [source.label for source in sources]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise EvaluatorArgumentError(f"--evaluator labels must differ: {', '.join(repeated)} given twice")
    return EvaluationPlan(model_dir, data, tuple(files), config, tuple(sources), seconds)


def count_records(files: Sequence[str]) -> int:
    """The records of TFRecord files (gzipped if `.gz`, as Beam reads them), counted in TensorFlow."""
    import tensorflow as tf

    from lightrank.pipeline.io import compression

    total = 0
    for path in files:
        dataset = tf.data.TFRecordDataset(path, compression_type=compression(path))
        total += int(dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))
    return total


def _serving_figure(plan: EvaluationPlan) -> tuple[Figure, int]:
    """Plain serving through the serving table's worker: `(figure, timed requests)`."""
    from lightrank_bench.serving import run_serving

    result = run_serving(plan.model_dir, plan.data, [SERVING_BATCH], plan.seconds, SERVING_THREADS)
    (row,) = result.rows
    candidates = row.requests * row.batch_size
    what = f"plain serving: `serving_default`, batch {SERVING_BATCH:,}, all cores"
    return Figure(what, candidates, candidates / row.candidates_per_sec), row.requests


def _lightrank_eval_figure(plan: EvaluationPlan, workdir: str, console: TextIO) -> Figure:
    """`lightrank eval` as its command runs it, outputs in `workdir`, the whole call timed."""
    import time

    from lightrank.pipeline.eval.evaluate import evaluate
    from lightrank.pipeline.eval.outputs import EvalOutputs

    outputs = EvalOutputs.plan(os.path.join(workdir, "eval"), None, None, plan.model_dir)
    started = time.monotonic()
    result = evaluate(plan.config, plan.model_dir, plan.data, outputs, console, progress=console)
    seconds = time.monotonic() - started
    return Figure(f"`lightrank eval`, config `{plan.config.name}`", result.candidates, seconds, EVAL_GOAL)


def _evaluator_figure(source: EvaluatorSource) -> Figure:
    candidates = count_records(source.eval_files)
    what = f"Evaluator `{source.label}` (run {source.run_id})"
    return Figure(what, candidates, source.seconds, EVALUATOR_GOALS.get(source.label))


def run_evaluation_bench(plan: EvaluationPlan, workdir: str, console: TextIO) -> EvaluationBenchResult:
    """Measures plain serving, then `lightrank eval`, then reads each Evaluator run.

    Args:
        plan: The checked inputs (`plan_evaluation`).
        workdir: An existing directory for `lightrank eval`'s outputs (`<workdir>/eval`).
        console: Where progress lines go.

    Raises:
        RuntimeError: If the serving worker fails.
        Whatever `evaluate` raises (its user errors are `UserError`s).
    """
    steps = 2 + len(plan.evaluators)
    console.write(f"[1/{steps}] Plain serving: `serving_default` of {plan.model_dir}, "
                  f"batch {SERVING_BATCH:,}, all cores, {plan.seconds:g} s timed ...\n")  # fmt: skip
    serving, requests = _serving_figure(plan)
    console.write(f"      {serving.per_sec:,.0f} candidates/s\n")
    console.write(f"[2/{steps}] lightrank eval: {len(plan.data_files)} file(s) of {plan.data} ...\n")
    lightrank_eval = _lightrank_eval_figure(plan, workdir, console)
    console.write(f"      {lightrank_eval.candidates:,} candidates in {lightrank_eval.seconds:.1f} s\n")
    figures = []
    for step, source in enumerate(plan.evaluators, start=3):
        console.write(f"[{step}/{steps}] Evaluator `{source.label}`: run {source.run_id}, counting the "
                      f"candidates of {source.examples_uri}/{EVAL_SPLIT} ...\n")  # fmt: skip
        figures.append(_evaluator_figure(source))
        console.write(f"      {figures[-1].candidates:,} candidates in {source.seconds:.1f} s\n")
    return EvaluationBenchResult(plan, serving, requests, lightrank_eval, tuple(figures))


def measure_evaluation(plan: EvaluationPlan) -> EvaluationBenchResult:
    """`run_evaluation_bench` with TensorFlow's and Beam's output in a log, progress on the terminal.

    The log and `lightrank eval`'s outputs go to a new temporary directory, removed at the end;
    only after an unexpected failure does the log stay (its path is printed first), since it
    then holds the only account of what went wrong.
    """
    from lightrank.pipeline.console import output_to

    workdir = tempfile.mkdtemp(prefix="lightrank-bench-evaluation-")
    log_file = os.path.join(workdir, "evaluation.log")
    print(f"Full log: {log_file} (removed at the end unless the benchmark fails)", flush=True)
    try:
        # TensorFlow, Beam and TFMA log thousands of lines: only the progress lines reach the terminal.
        with output_to(log_file) as console:
            result = run_evaluation_bench(plan, workdir, console)
    except UserError:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    except BaseException:
        shutil.rmtree(os.path.join(workdir, "eval"), ignore_errors=True)
        print(f"The log stays at {log_file}", file=sys.stderr, flush=True)
        raise
    shutil.rmtree(workdir, ignore_errors=True)
    return result


def _ratio(figure: Figure, reference: Figure) -> str:
    """Candidates/s over the reference's, to three significant digits (`0.123x`)."""
    return f"{figure.per_sec / reference.per_sec:#.3g}x" if reference.per_sec > 0 else "n/a"


def _notes(result: EvaluationBenchResult) -> list[str]:
    from lightrank.pipeline.eval.evaluate import beam_workers

    plan = result.plan
    beam_args, where = beam_workers(plan.config.beam_args, None, len(plan.data_files))
    notes = [
        f"- Plain serving: `serving_default` of `{plan.model_dir}` on the first {SERVING_BATCH:,} candidates "
        f"of `{plan.data}` (labels and `meta.*` removed), {result.serving_requests:,} timed requests of "
        f"{SERVING_BATCH:,} on all cores in a fresh process, as in the serving table.",
        f"- `lightrank eval`: {len(plan.data_files)} file(s) of `{plan.data}`, the config's metrics and "
        f"slices ({len(plan.config.evaluation.slices)} slice definitions besides the overall one), Beam "
        f"{where} (`{' '.join(beam_args)}`: the default `--workers`, one per file up to the cores); the "
        "whole call timed (input scan, TFMA, metrics JSON), outputs written to a temporary directory and "
        "removed.",
    ]
    for source in plan.evaluators:
        skipped = f"; newer runs skipped: {', '.join(source.skipped)}" if source.skipped else ""
        notes.append(
            f"- Evaluator `{source.label}`: run {source.run_id} of `{source.store}`, the newest whose "
            f"Evaluator completed on one model{skipped}. Wall time from ML Metadata, as in the pipeline "
            f"table; candidates: the records of `{EVAL_SPLIT}` of `{source.examples_uri}`, its input."
        )
    notes.append(
        "- *vs serving*: candidates/s over plain serving's, both measured on this machine: the share of "
        "the model's own scoring speed that evaluating keeps, comparable across machines."
    )
    return notes


def evaluation_table(result: EvaluationBenchResult, command: Sequence[str]) -> str:
    """The table: plain serving first, then `lightrank eval`, then each Evaluator run."""
    lines = header("Evaluation speed: the Evaluator and `lightrank eval` against plain serving", command)
    lines += [
        *_notes(result),
        "",
        "| what | candidates | seconds | candidates/s | vs serving | goal | goal met |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for figure in (result.serving, result.lightrank_eval, *result.evaluators):
        goal = figure.goal.describe() if figure.goal else "–"
        met = ("met" if figure.goal.met(figure) else "not met") if figure.goal else "–"
        ratio = _ratio(figure, result.serving)
        lines.append(f"| {figure.what} | {figure.candidates:,} | {figure.seconds:.2f} "
                     f"| {figure.per_sec:,.0f} | {ratio} | {goal} | {met} |")  # fmt: skip
    return "\n".join(lines) + "\n"
