"""`lightrank-bench pipeline` through `main`: a real tiny run, measured and read back from ML Metadata.

The benchmark generates its own tiny sample data into `--root`, runs the whole pipeline there
with the cache off and a training budget of seconds (`--set`), and appends its table to
`--out`. Its rows must be exactly the components the progress display reported, with their
wall times from ML Metadata.
"""

from __future__ import annotations

import re

import pytest
from tiny_sample import TINY_REQUESTS

from lightrank.pipeline.config import SAMPLE_CONFIG
from lightrank_bench.cli import main
from lightrank_bench.pipeline_bench import read_run
from lightrank_bench.pipeline_workdir import MARKER_FILE, bench_config

pytestmark = pytest.mark.e2e

#: A progress line of a component that ran: "[ 3/11] StatisticsGen    done    6.0 s".
RAN = re.compile(r"^\[\s*\d+/\d+\] (\S+)\s+done\s+[\d.]+ s$", re.MULTILINE)
#: Seconds of training, and an Evaluator that blesses whatever it gets.
QUICK = ["model.training.max_steps=40", "model.training.eval_every_steps=20", "model.training.batch_size=64",
         "evaluation.thresholds={auc_unweighted: {lower_bound: 0.0}}"]  # fmt: skip


def test_pipeline_benchmark_times_every_component_that_ran(tmp_path, capfd):
    root, out = tmp_path / "bench", tmp_path / "pipeline.md"
    out.write_text("an earlier table\n")
    overrides = [item for override in QUICK for item in ("--set", override)]
    argv = ["pipeline", "--requests", str(TINY_REQUESTS), "--seed", "7", "--root", str(root), *overrides,
            "--out", str(out)]  # fmt: skip

    assert main(argv) == 0

    printed = capfd.readouterr().out
    table = out.read_text().removeprefix("an earlier table\n")
    assert out.read_text().startswith("an earlier table\n") and table.strip() in printed
    assert f"- Command: `lightrank-bench pipeline --requests {TINY_REQUESTS} --config " in table
    assert "--set model.training.max_steps=40 --set model.training.eval_every_steps=20" in table
    assert f"candidates of {TINY_REQUESTS} requests (`lightrank data generate`, seed 7; generated)" in table
    rows = [[cell.strip() for cell in line.strip("|").split("|")]
            for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]  # fmt: skip
    ran = RAN.findall(printed)
    assert len(ran) >= 10  # the progress display's components, in their order ...
    assert [row[0] for row in rows[:-1]] == ran  # ... are the table's, then the whole run
    assert all(row[1] == "complete" for row in rows)
    assert rows[-1][0] == "whole run" and float(rows[-1][2]) >= sum(float(row[2]) for row in rows[:-1]) - 1
    if "not measured (no /proc/self/status)" not in table:  # Linux: every peak is measured
        assert all(float(row[4].replace(",", "")) >= float(row[3].replace(",", "")) > 0 for row in rows)

    config = bench_config(SAMPLE_CONFIG, str(root))  # the default --config, moved into --root
    record = read_run(config.metadata, config.name)
    assert f"- Run: {record.run_id} (complete), cache off" in table
    assert [run.component for run in record.components] == ran  # wall times from ML Metadata
    assert [row[2] for row in rows[:-1]] == [f"{run.seconds:.1f}" for run in record.components]
    # A resolver only queries ML Metadata (a millisecond, 0 at its resolution); every other one works.
    assert all(run.seconds > 0 for run in record.components if "resolver" not in run.component)
    assert {run.component: run.seconds for run in record.components}["Trainer"] > 1.0  # 40 steps, an export
    assert (root / MARKER_FILE).is_file() and (root / "data").is_dir()
    with pytest.raises(LookupError, match="no run no-such-run"):
        read_run(config.metadata, config.name, "no-such-run")
