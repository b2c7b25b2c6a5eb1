"""`lightrank bench pipeline` reads per-component wall times of a real run back from ML Metadata.

It reuses the suite's shared first run (no pipeline of its own): memory is measured only while
the benchmark itself runs the pipeline, so here every peak is "n/a" and only the ML Metadata
side, the part that needs a real store, is under test.
"""

from __future__ import annotations

import re

import pytest

from lightrank_bench.pipeline_bench import PipelineBenchResult, component_rows, pipeline_table, read_run

pytestmark = pytest.mark.e2e

#: A progress line of a component that ran: "[ 3/11] StatisticsGen    done    6.0 s".
RAN = re.compile(r"^\[\s*\d+/\d+\] (\S+)\s+done\s+[\d.]+ s$", re.MULTILINE)


def test_table_lists_every_component_that_ran_with_its_time_from_ml_metadata(first_pipeline_run):
    config = first_pipeline_run.config
    record = read_run(config.metadata, config.name, first_pipeline_run.record.run_id)
    rows = component_rows(record, {})
    result = PipelineBenchResult(
        requests=24, seed=7, candidates=1, data_reused=False, run_id=record.run_id, status=record.status,
        components=rows, wall_s=1.0, memory_method="unavailable", process_start_mib=None,
        imports_mib=None, run_start_mib=None, run_peak_mib=None,
    )  # fmt: skip
    table = pipeline_table(result, ["lightrank", "bench", "pipeline"])
    table_rows = [
        line.strip("|").split("|")
        for line in table.splitlines()
        if line.endswith("| n/a | n/a |") and not line.startswith("| whole run |")
    ]
    ran = RAN.findall(first_pipeline_run.output)

    assert len(ran) >= 10  # the progress display's components, in their order ...
    assert [cells[0].strip() for cells in table_rows] == ran  # ... are the table's
    assert [cells[2].strip() for cells in table_rows] == [f"{row.seconds:.1f}" for row in rows]
    assert all(row.state == "complete" for row in rows)
    # A resolver only queries ML Metadata (a millisecond, 0 at its resolution); every other one works.
    assert all(row.seconds > 0 for row in rows if "resolver" not in row.component)
    assert {row.component: row.seconds for row in rows}["Trainer"] > 1.0  # 40 steps and an export
    with pytest.raises(LookupError, match="no run no-such-run"):
        read_run(config.metadata, config.name, "no-such-run")
