"""The Markdown tables: derived columns, thread labels and the reproducible command."""

from __future__ import annotations

import dataclasses

from lightrank_bench.serving import ServingResult, ServingRow
from lightrank_bench.tables import serving_table, training_table
from lightrank_bench.training import TrainingRow

ROW = ServingRow(batch_size=1_000, requests=50, candidates_per_sec=100_000.0, p50_ms=9.5, p99_ms=12.25,
                 parse_candidates_per_sec=400_000.0, parse_share=0.25, ceiling_fraction=0.2)  # fmt: skip
RESULT = ServingResult(threads=1, matmul_gflops=100.0, flops_per_candidate=200_000.0, ids_per_row=8.0,
                       ceiling_candidates_per_sec=500_000.0, rows=(ROW,))  # fmt: skip


def test_serving_table_derives_the_time_after_parsing_and_labels_thread_settings():
    table = serving_table([RESULT, dataclasses.replace(RESULT, threads=0)], ["lightrank-bench", "serving"])
    # 1/100k - 1/400k = 7.5 us per candidate after parsing -> 133,333 candidates/s.
    assert "| 1 thread | 1,000 | 100,000 | 9.50 | 12.25 | 400,000 | 25% | 133,333 | 20.0% |" in table
    assert "| all cores | 1,000 |" in table
    assert "ceiling 500,000 candidates/s" in table and "200.0 kFLOP/candidate" in table
    assert "- Command: `lightrank-bench serving`" in table
    assert "peak RSS" not in table  # not measured: not printed
    measured = serving_table([dataclasses.replace(RESULT, peak_rss_mib=1234.4)], ["lightrank"])
    assert "serving process peak RSS 1,234 MiB" in measured


def test_parsing_slower_than_the_whole_request_gives_no_derived_rate():
    noisy = dataclasses.replace(ROW, parse_candidates_per_sec=90_000.0, parse_share=100_000 / 90_000)
    table = serving_table([dataclasses.replace(RESULT, rows=(noisy,))], ["lightrank"])
    assert "| n/a |" in table


def test_serving_result_survives_the_workers_json_round_trip():
    assert ServingResult.from_dict(dataclasses.asdict(RESULT)) == RESULT


def test_training_table_has_one_row_per_batch_size():
    table = training_table([TrainingRow(32, 200, 12_000.0, 2.67), TrainingRow(1_024, 200, 50_000.0, 20.48)],
                           ["lightrank-bench", "training", "--transform", "a dir"])  # fmt: skip
    assert "| 32 | 200 | 12,000 | 2.67 |" in table and "| 1,024 | 200 | 50,000 | 20.48 |" in table
    assert "`lightrank-bench training --transform 'a dir'`" in table
