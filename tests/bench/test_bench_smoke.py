"""Each benchmark's measurement runs for about a second on a tiny exported model and Transform output.

No speed is asserted: the numbers only have to be present, positive and consistent.
"""

from __future__ import annotations

import os

import pytest
import tensorflow as tf
import tensorflow_transform as tft
from bench_tiny import DEEPNORM, FEATURES, SPEC

from lightrank.models.deepnorm.config import TrainingConfig
from lightrank.models.preprocessing import serving_parse_spec
from lightrank_bench.cli import resolve_serving_model
from lightrank_bench.errors import BenchInputError
from lightrank_bench.serving import load_candidates, run_serving
from lightrank_bench.serving_spec import serving_feature_spec
from lightrank_bench.tables import serving_table, training_table
from lightrank_bench.training import ModelUnderTest, locate_transform_output, training_throughput


def test_serving_spec_is_read_back_from_the_exported_graph(tiny):
    signature = tf.saved_model.load(tiny["model"]).signatures["serving_default"]
    spec = serving_feature_spec(signature)
    expected = serving_parse_spec(SPEC, FEATURES)  # continuous: dense scalars, marker as default
    assert spec.keys() == expected.keys()
    for name, feature in expected.items():
        assert type(spec[name]) is type(feature) and spec[name].dtype == feature.dtype, name
        if isinstance(feature, tf.io.FixedLenFeature):
            assert spec[name].shape == feature.shape == []
            assert spec[name].default_value == pytest.approx(FEATURES.missing_value), name


def test_candidates_lose_labels_and_meta_and_cycle_to_the_count(tiny):
    candidates = load_candidates(tiny["data"], 450)
    assert len(candidates) == 450 and candidates[300] == candidates[0]
    names = set(tf.train.Example.FromString(candidates[0]).features.feature)
    assert names == {"u.age", "c.source", "u.id"}  # candidate 0 has no c.likes
    with pytest.raises(FileNotFoundError):
        load_candidates(os.path.join(tiny["data"], "nothing-*.gz"), 10)


def test_serving_benchmark_runs_one_thread_in_a_subprocess(tiny):
    result = run_serving(tiny["model"], tiny["data"], [10, 50], seconds=0.3, threads=1)
    assert result.threads == 1 and [row.batch_size for row in result.rows] == [10, 50]
    assert result.matmul_gflops > 0 and result.flops_per_candidate > 0
    assert result.ids_per_row == pytest.approx(1.5 + 1.0)  # u.id: 1 or 2 values, c.source: 1
    assert result.peak_rss_mib is not None and result.peak_rss_mib > 200  # TensorFlow alone is more
    assert result.ceiling_candidates_per_sec == pytest.approx(
        result.matmul_gflops * 1e9 / result.flops_per_candidate
    )
    for row in result.rows:
        assert row.requests >= 5 and row.candidates_per_sec > 0 and row.parse_candidates_per_sec > 0
        assert 0 < row.p50_ms <= row.p99_ms
        assert row.ceiling_fraction == pytest.approx(
            row.candidates_per_sec / result.ceiling_candidates_per_sec
        )
    table = serving_table([result], ["lightrank-bench", "serving"])
    assert (
        "`lightrank-bench serving`" in table
        and "| 1 thread | 50 |" in table
        and "Packages: tensorflow" in table
    )


def test_training_benchmark_times_steady_state_steps(tiny):
    graph_dir, train_files = locate_transform_output(tiny["transform"])
    subject = ModelUnderTest("deepnorm", "HeavyRankPosition", DEEPNORM, TrainingConfig(), FEATURES)
    rows = training_throughput(
        subject, tft.TFTransformOutput(graph_dir), train_files, [16], steps=20, warmup_steps=2
    )
    assert [(row.batch_size, row.steps) for row in rows] == [(16, 20)]
    assert rows[0].examples_per_sec == pytest.approx(16 * 1000.0 / rows[0].ms_per_step)
    assert "| 16 | 20 |" in training_table(rows, ["lightrank-bench", "training"])


def test_inputs_that_are_not_benchmark_inputs_are_user_errors(tiny, tmp_path):
    assert resolve_serving_model(tiny["serving"]) == tiny["model"]
    with pytest.raises(BenchInputError, match="not an exported model"):
        resolve_serving_model(str(tmp_path))
    with pytest.raises(BenchInputError, match="not a Transform output"):
        locate_transform_output(str(tmp_path))
