"""`lightrank-bench pipeline`: memory windows, the benchmark directory, the ML Metadata join, the table.

The real pipeline run the benchmark reads back is tested in `tests/e2e/test_bench_pipeline_e2e.py`
(on the e2e suite's shared run); nothing here starts a pipeline.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from lightrank.pipeline.config import SAMPLE_CONFIG
from lightrank.pipeline.metadata.runs import ComponentRun, RunRecord
from lightrank_bench import memory
from lightrank_bench.errors import BenchInputError
from lightrank_bench.memory import ComponentPeaks, PeakMeter, Window, parse_status
from lightrank_bench.pipeline_bench import ComponentRow, PipelineBenchResult, component_rows, pipeline_table
from lightrank_bench.pipeline_workdir import (
    DATA_MANIFEST,
    MARKER_FILE,
    PipelineBenchError,
    bench_config,
    check_arguments,
    prepare_data,
    prepare_root,
)

STATUS = """Name:\tpython
Umask:\t0022
State:\tR (running)
Pid:\t4242
VmPeak:\t 1234567 kB
VmHWM:\t  524288 kB
VmRSS:\t  262144 kB
RssAnon:\t  200000 kB
Threads:\t17
voluntary_ctxt_switches:\t12
"""
#: Big enough to stand out of the test process's noise, small enough for any CI machine.
ALLOCATION_MIB = 100

needs_clear_refs = pytest.mark.skipif(
    not os.access(memory.CLEAR_REFS_FILE, os.W_OK),
    reason=f"{memory.CLEAR_REFS_FILE} is absent or not writable (not Linux >= 4.0, or a sandbox)",
)


def _touch_allocation() -> np.ndarray:
    """`ALLOCATION_MIB` of resident memory (np.ones writes, so every page is really mapped)."""
    return np.ones(ALLOCATION_MIB * 2**20 // 8)


def test_status_parser_keeps_kib_fields_only():
    fields = parse_status(STATUS)
    assert fields["VmHWM"] == 524_288 and fields["VmRSS"] == 262_144 and fields["VmPeak"] == 1_234_567
    assert "Threads" not in fields and "Pid" not in fields and "Name" not in fields


def test_status_of_this_process_has_a_peak_at_least_its_resident_size():
    with open(memory.STATUS_FILE) as f:
        fields = parse_status(f.read())  # one read: the kernel's RSS counters move between reads
    assert fields["VmHWM"] >= fields["VmRSS"] > 1024


@needs_clear_refs
def test_peak_rises_with_an_allocation_and_falls_after_a_reset():
    memory.reset_peak()
    before = memory.peak_mib()
    block = _touch_allocation()
    high = memory.peak_mib()
    del block
    assert high >= before + 0.9 * ALLOCATION_MIB
    # Freed memory stays in the high-water mark (within the kernel's per-CPU counter slack) ...
    assert memory.peak_mib() >= high - 0.05 * ALLOCATION_MIB
    memory.reset_peak()
    assert memory.peak_mib() <= high - 0.9 * ALLOCATION_MIB  # ... until the reset


@pytest.mark.parametrize("force_sampling", [False, True], ids=["clear_refs", "sampling"])
def test_meter_windows_see_their_own_allocation_only(force_sampling):
    if not force_sampling and not os.access(memory.CLEAR_REFS_FILE, os.W_OK):
        pytest.skip(f"{memory.CLEAR_REFS_FILE} is absent or not writable")
    meter = PeakMeter(force_sampling=force_sampling, interval_s=0.01)
    try:
        assert meter.method == ("sampling" if force_sampling else "clear_refs")
        block = _touch_allocation()
        time.sleep(0.1)  # several sampling periods while the block is resident
        del block
        busy = meter.lap()
        quiet = meter.lap()
    finally:
        meter.close()
    assert busy.peak_mib >= busy.start_mib + 0.9 * ALLOCATION_MIB
    assert quiet.peak_mib <= busy.peak_mib - 0.9 * ALLOCATION_MIB
    assert meter.overall_mib == busy.peak_mib


def test_a_window_counts_the_cpu_time_of_its_child_processes():
    meter = PeakMeter(force_sampling=True, interval_s=1.0)
    try:
        subprocess.run([sys.executable, "-c", "sum(range(10**6))"], check=True)
        spawned = meter.lap()
        alone = meter.lap()
    finally:
        meter.close()
    assert spawned.children_cpu_s > 0 and alone.children_cpu_s == 0
    assert memory.children_peak_mib() > 1.0  # a Python interpreter is several MiB


def test_component_log_lines_open_and_close_windows():
    meter = PeakMeter(force_sampling=True, interval_s=1.0)
    peaks = ComponentPeaks(meter)
    logger = logging.getLogger("test_bench_pipeline.absl")
    logger.setLevel(logging.INFO)
    logger.addHandler(peaks)
    try:
        logger.info("Component %s is running.", "StatisticsGen")
        assert peaks.running == "StatisticsGen"
        logger.info("Component %s is finished.", "StatisticsGen")
        logger.info("Component %s is running.", "Trainer")
        peaks.finish()  # as after a component that raised
    finally:
        logger.removeHandler(peaks)
        meter.close()
    assert list(peaks.windows) == ["StatisticsGen", "Trainer"] and peaks.running is None
    assert all(window.peak_mib >= window.start_mib > 0 for window in peaks.windows.values())


def _result(**changes: object) -> PipelineBenchResult:
    values: dict = {
        "requests": 4_300, "seed": 0, "candidates": 1_002_345, "data_reused": True, "run_id": "2026-11-29T01",
        "status": "complete", "wall_s": 75.0, "memory_method": "clear_refs", "process_start_mib": 20.4,
        "imports_mib": 612.6, "run_start_mib": 700.0, "run_peak_mib": 2_345.6,
        "beam_args": ("--direct_running_mode=in_memory", "--direct_num_workers=1"), "children_peak_mib": 48.2,
        "components": (
            ComponentRow("ImportExampleGen", "complete", 21.74, 700.2, 1_500.4),
            ComponentRow("Trainer", "complete", 52.5, 1_200.0, 2_345.6),
            ComponentRow("RunReport", "complete", 0.25, 1_100.0, 1_150.0, children_cpu_s=0.012),
        ),
    }  # fmt: skip
    values.update(changes)
    return PipelineBenchResult(**values)


def test_table_has_one_row_per_component_and_the_whole_run():
    table = pipeline_table(_result(), ["lightrank-bench", "pipeline", "--requests", "4300"])
    assert "- Command: `lightrank-bench pipeline --requests 4300`" in table
    assert (
        "- Data: 1,002,345 candidates of 4,300 requests (`lightrank data generate`, seed 0; reused)" in table
    )
    assert "wall time 75.0 s, components 74.5 s (from ML Metadata)" in table  # 21.74 + 52.5 + 0.25
    assert "| ImportExampleGen | complete | 21.7 | 700 | 1,500 |" in table
    assert "| Trainer | complete | 52.5 | 1,200 | 2,346 |" in table
    assert "| whole run | complete | 75.0 | 700 | 2,346 |" in table
    assert "before TensorFlow and TFX are imported: 20 MiB; once they are: 613 MiB" in table
    assert "VmHWM, reset through /proc/self/clear_refs" in table
    assert (
        "- Child processes: RunReport (0.01 s CPU) ran some (the largest peaked at 48 MiB); "
        "their memory is not in the peaks." in table
    )
    assert "direct running mode in_memory; in this process" in table


def test_table_says_what_it_did_not_measure():
    unmeasured = (ComponentRow("Trainer", "complete", 52.5),)
    table = pipeline_table(
        _result(components=unmeasured, memory_method="sampling", run_peak_mib=None,
                beam_args=("--direct_running_mode=multi_processing",)),
        ["lightrank"],
    )  # fmt: skip
    assert "| Trainer | complete | 52.5 | n/a | n/a |" in table and "| n/a |\n" in table
    assert "sampled every 50 ms" in table and "none finished during any component" in table
    assert "multi_processing; its workers' memory is not in these peaks" in table


def test_component_rows_follow_ml_metadata_and_join_the_measured_windows():
    record = RunRecord(
        "run-1",
        (ComponentRun("ImportExampleGen", "complete", 3.5, 1), ComponentRun("Pusher", "complete", 0.5, 9)),
        blessed=True, pushed_model=None, evaluation_uri=None, model_uri=None,
    )  # fmt: skip
    windows = {"Pusher": Window(100.0, 150.0, 0.0), "NotInMetadata": Window(1.0, 2.0, 0.0)}
    assert component_rows(record, windows) == (
        ComponentRow("ImportExampleGen", "complete", 3.5),
        ComponentRow("Pusher", "complete", 0.5, 100.0, 150.0, 0.0),
    )


@pytest.mark.parametrize(
    ("requests", "seed", "match"),
    [(0, 0, "--requests=0 is invalid"), (5, -1, "--seed=-1 is invalid"), (5, 2**32, "--seed=4294967296")],
)
def test_bad_numbers_are_user_errors(tmp_path, requests, seed, match):
    with pytest.raises(PipelineBenchError, match=match):
        check_arguments(str(tmp_path / "bench"), requests, seed)


def test_a_foreign_directory_is_never_used_and_ours_loses_only_the_last_runs_outputs(tmp_path):
    foreign = tmp_path / "runs"
    (foreign / "pipeline").mkdir(parents=True)
    with pytest.raises(BenchInputError, match=f"--root {foreign} is not empty .*{MARKER_FILE}"):
        check_arguments(str(foreign), 5, 0)
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(PipelineBenchError, match="is a file"):
        check_arguments(str(tmp_path / "a-file"), 5, 0)

    ours = tmp_path / "bench"
    check_arguments(str(ours), 5, 0)  # new: fine
    prepare_root(str(ours))
    for name in ("pipeline/Trainer", "serving/1", "data", "logs"):
        (ours / name).mkdir(parents=True)
    (ours / "metadata.db").write_text("")
    check_arguments(str(ours), 5, 0)  # marked: fine
    prepare_root(str(ours))
    assert sorted(os.listdir(ours)) == sorted([MARKER_FILE, "data", "logs"])


def test_data_is_generated_once_per_requests_and_seed(tmp_path):
    root = str(tmp_path)
    console = io.StringIO()
    candidates, reused = prepare_data(root, 3, 1, console)
    assert not reused and 3 * 20 <= candidates <= 3 * 1_000  # 20 to 1,000 candidates per request
    assert f"wrote {candidates:,} candidates of 3 requests" in console.getvalue()
    assert len(os.listdir(tmp_path / "data")) == 4 and os.path.isfile(tmp_path / DATA_MANIFEST)
    assert prepare_data(root, 3, 1, console) == (candidates, True)
    assert "(reused)" in console.getvalue()
    assert prepare_data(root, 3, 2, console)[1] is False  # another seed: new data


def test_config_points_everything_into_the_bench_directory(tmp_path):
    config = bench_config(SAMPLE_CONFIG, str(tmp_path))
    assert config.root == str(tmp_path / "pipeline") and config.serving_dir == str(tmp_path / "serving")
    assert config.data.path == str(tmp_path / "data")
    assert config.metadata.sqlite == str(tmp_path / "metadata.db") and config.metadata.mysql is None
    assert config.enable_cache is False and config.name == "lightrank-sample"
    overridden = bench_config(SAMPLE_CONFIG, str(tmp_path), ["model.training.max_steps=7", "root=elsewhere"])
    assert overridden.model.training.max_steps == 7 and overridden.root == config.root  # root is the bench's
