"""Wall time and peak memory of every pipeline component on N requests of sample data.

`run_pipeline_bench` generates the sample data once per (requests, seed) into `<root>/data`,
runs the whole pipeline locally with the config's root, serving directory and ML Metadata
moved into `<root>` (so a user's own runs are never touched) and the cache off (so every
component really runs), reads each component's wall time back from ML Metadata (what
`lightrank runs` reports) and joins it with the component's peak resident memory
(`lightrank_bench.memory`). Every run starts from an empty pipeline root and store, so the
Evaluator never has a blessed baseline to compare with and runs are comparable.

Memory is measured in this process, which is where LocalDagRunner runs the components; the
table also gives the process's resident memory before anything heavy is imported and once
TensorFlow and TFX are, which every component's figure includes.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from lightrank_bench.memory import (
    ComponentPeaks,
    MemoryUnavailableError,
    PeakMeter,
    Window,
    children_peak_mib,
    rss_mib,
)
from lightrank_bench.pipeline_workdir import bench_config, check_arguments, prepare_data, prepare_root
from lightrank_bench.tables import header

if TYPE_CHECKING:  # TensorFlow loads only when the benchmark runs, not when the CLI starts.
    from lightrank.pipeline.config import MetadataConfig
    from lightrank.pipeline.metadata.runs import RunRecord


@dataclasses.dataclass(frozen=True)
class ComponentRow:
    """One component of the measured run.

    Attributes:
        component: Component id.
        state: Its execution state in ML Metadata ("complete", "cached", "failed", ...).
        seconds: Wall time from ML Metadata (execution registered to outcome published).
        start_mib: Process resident memory when it started; None if not measured.
        peak_mib: Process peak resident memory while it ran; None if not measured.
        children_cpu_s: CPU seconds of child processes that finished while it ran (their
            memory is not in `peak_mib`).
    """

    component: str
    state: str
    seconds: float
    start_mib: float | None = None
    peak_mib: float | None = None
    children_cpu_s: float = 0.0


@dataclasses.dataclass(frozen=True)
class PipelineBenchResult:
    """One measured pipeline run.

    Attributes:
        requests, seed, candidates: The sample data (`lightrank data generate`).
        data_reused: The data was already in `<root>/data` from an earlier run.
        run_id: The run's ML Metadata `pipeline_run` context.
        status: "complete", "failed" or "running" (as `lightrank runs`).
        components: Every component ML Metadata recorded, in execution order.
        wall_s: Wall time of the whole run, launcher work between components included.
        memory_method: "clear_refs", "sampling" or "unavailable" (`lightrank_bench.memory`).
        process_start_mib: Resident memory before TensorFlow and TFX were imported.
        imports_mib: Resident memory once they were (before the data was generated).
        run_start_mib: Resident memory when the pipeline started.
        run_peak_mib: Peak resident memory of the whole run.
        beam_args: The run's Beam arguments (where Beam's workers ran).
        children_peak_mib: Peak resident memory of the largest child process of the run.
    """

    requests: int
    seed: int
    candidates: int
    data_reused: bool
    run_id: str
    status: str
    components: tuple[ComponentRow, ...]
    wall_s: float
    memory_method: str
    process_start_mib: float | None
    imports_mib: float | None
    run_start_mib: float | None
    run_peak_mib: float | None
    beam_args: tuple[str, ...] = ()
    children_peak_mib: float | None = None


def read_run(metadata: MetadataConfig, pipeline_name: str, run_id: str | None = None) -> RunRecord:
    """A run of the pipeline as ML Metadata recorded it: `run_id`, or the newest if None.

    Raises:
        LookupError: If the store holds no such run.
    """
    from lightrank.pipeline.metadata.runs import list_runs, open_store

    runs = [run for run in list_runs(open_store(metadata), pipeline_name) if run_id in (None, run.run_id)]
    if not runs:
        raise LookupError(f"no run {run_id or ''} of {pipeline_name!r} in ML Metadata ({metadata.sqlite})")
    return runs[0]


def component_rows(record: RunRecord, windows: dict[str, Window]) -> tuple[ComponentRow, ...]:
    """The run's components from ML Metadata, each with its memory window if one was measured."""
    rows = []
    for run in record.components:
        window = windows.get(run.component)
        measured = (window.start_mib, window.peak_mib, window.children_cpu_s) if window else ()
        rows.append(ComponentRow(run.component, run.state, run.seconds, *measured))
    return tuple(rows)


def run_pipeline_bench(
    config_path: str, root: str, requests: int, seed: int, console: TextIO, overrides: Sequence[str] = ()
) -> PipelineBenchResult:
    """Generates (or reuses) the data, runs the pipeline and measures every component.

    Args:
        config_path: Pipeline config; its data path, root, serving directory and ML Metadata
            are replaced by ones in `root`, and its cache is turned off.
        root: The benchmark's directory (see `prepare_root`).
        requests: Sample requests to generate (430 is the sample: 100,374 candidates).
        seed: Sample data seed.
        console: Where progress lines go.
        overrides: `KEY=VALUE` overrides of the config, as `lightrank run --set`.

    Raises:
        PipelineBenchError: If `requests`, `seed` or `root` is unusable.
        ConfigError: If the config is invalid.
        Whatever the failing component raised.
    """
    check_arguments(root, requests, seed)
    process_start_mib = _rss_or_none()
    config = bench_config(config_path, root, overrides)
    prepare_root(root)
    from lightrank.pipeline.local_runner import run_local  # TensorFlow and TFX

    imports_mib = _rss_or_none()
    candidates, reused = prepare_data(root, requests, seed, console)
    try:
        meter: PeakMeter | None = PeakMeter()
    except MemoryUnavailableError:
        meter = None
    peaks = ComponentPeaks(meter) if meter else None
    absl_logger = logging.getLogger("absl")
    if peaks:
        absl_logger.addHandler(peaks)
    run_start_mib = _rss_or_none()
    started = time.monotonic()
    try:
        run_local(config, console=console)
    finally:
        wall_s = time.monotonic() - started
        if peaks and meter:
            peaks.finish()
            absl_logger.removeHandler(peaks)
            meter.lap()
            meter.close()
    record = read_run(config.metadata, config.name)
    return PipelineBenchResult(
        requests=requests,
        seed=seed,
        candidates=candidates,
        data_reused=reused,
        run_id=record.run_id,
        status=record.status,
        components=component_rows(record, peaks.windows if peaks else {}),
        wall_s=wall_s,
        memory_method=meter.method if meter else "unavailable",
        process_start_mib=process_start_mib,
        imports_mib=imports_mib,
        run_start_mib=run_start_mib,
        run_peak_mib=meter.overall_mib if meter else None,
        beam_args=tuple(config.beam_args),
        children_peak_mib=children_peak_mib(),
    )


def _rss_or_none() -> float | None:
    try:
        return rss_mib()
    except MemoryUnavailableError:
        return None


def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


METHODS = {
    "clear_refs": "the process's peak resident memory (VmHWM, reset through /proc/self/clear_refs at each "
    "component's start): exact",
    "sampling": "the process's resident memory sampled every 50 ms (/proc/self/clear_refs not writable): "
    "a shorter spike can be missed",
    "unavailable": "not measured (no /proc/self/status)",
}


def _notes(result: PipelineBenchResult) -> list[str]:
    modes = [arg.split("=", 1)[1] for arg in result.beam_args if arg.startswith("--direct_running_mode=")]
    mode = modes[-1] if modes else "in_memory"
    where = "its workers' memory is not in these peaks" if mode == "multi_processing" else "in this process"
    spawned = [f"{row.component} ({row.children_cpu_s:.2f} s CPU)" for row in result.components
               if row.children_cpu_s > 0]  # fmt: skip
    return [
        f"- Memory: {METHODS.get(result.memory_method, result.memory_method)}. Components run one after "
        "another in one process: a peak includes what earlier ones left resident (see RSS at start).",
        f"- Process RSS before TensorFlow and TFX are imported: {_mib(result.process_start_mib)} MiB; "
        f"once they are: {_mib(result.imports_mib)} MiB.",
        f"- Beam: `{' '.join(result.beam_args) or '(defaults)'}` (direct running mode {mode}; {where}).",
        "- Child processes: "
        + (
            f"{', '.join(spawned)} ran some (the largest peaked at {_mib(result.children_peak_mib)} MiB); "
            "their memory is not in the peaks."
            if spawned
            else "none finished during any component (all work ran in this process)."
        ),
    ]


def pipeline_table(result: PipelineBenchResult, command: Sequence[str]) -> str:
    """The pipeline table: one row per component, then the whole run."""
    components_s = sum(row.seconds for row in result.components)
    data = "reused" if result.data_reused else "generated"
    lines = header("Pipeline: wall time and peak memory per component", command)
    lines += [
        f"- Data: {result.candidates:,} candidates of {result.requests:,} requests "
        f"(`lightrank data generate`, seed {result.seed}; {data})",
        f"- Run: {result.run_id} ({result.status}), cache off; wall time {result.wall_s:.1f} s, "
        f"components {components_s:.1f} s (from ML Metadata)",
        *_notes(result),
        "",
        "| component | state | wall time (s) | RSS at start (MiB) | peak RSS (MiB) |",
        "|---|---|---:|---:|---:|",
    ]
    for row in result.components:
        lines.append(f"| {row.component} | {row.state} | {row.seconds:.1f} | {_mib(row.start_mib)} "
                     f"| {_mib(row.peak_mib)} |")  # fmt: skip
    lines.append(f"| whole run | {result.status} | {result.wall_s:.1f} | {_mib(result.run_start_mib)} "
                 f"| {_mib(result.run_peak_mib)} |")  # fmt: skip
    return "\n".join(lines) + "\n"
