"""Each benchmark runs end to end for about a second on a tiny exported model and Transform output.

No speed is asserted: the numbers only have to be present, positive and consistent.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from tiny_transform import RAW_SPEC, serialize_example, transformed_records, write_transform_graph

from lightrank.models.deepnorm.config import DeepNormConfig, TrainingConfig
from lightrank.models.deepnorm.model import deepnorm_light_ranker
from lightrank.models.export import export_serving_model
from lightrank.models.features import ResolvedFeatures
from lightrank.models.preprocessing import CONTINUOUS, SPARSE_IDS, serving_parse_spec
from lightrank_bench.cli import register, resolve_serving_model
from lightrank_bench.errors import BenchInputError
from lightrank_bench.serving import load_candidates, run_serving
from lightrank_bench.serving_spec import serving_feature_spec
from lightrank_bench.tables import serving_table, training_table
from lightrank_bench.training import ModelUnderTest, locate_transform_output, training_throughput

BITS = 8
FEATURES = ResolvedFeatures(
    continuous=("u.age", "c.likes"),
    sparse=("c.source", "u.id"),
    int_sparse=("u.id",),
    request_key="meta.key",
    example_weight="meta.weight",
    heavy_score="meta.score",
    labels={"HeavyRankPosition": "label.top3"},
    missing_value=-1.23456789,
    slice_buckets={},
)
SPEC = {name: spec for name, spec in RAW_SPEC.items() if name != "u.opens"}
DEEPNORM = DeepNormConfig(input_size_bits=BITS, sparse_embedding_size=4, dense_embedding_size=8)


def _row(rng: np.random.Generator, i: int) -> dict[str, object]:
    return {
        "u.age": [float(rng.gamma(2.0, 100.0))],
        "c.likes": [float(rng.poisson(20))] if i % 4 else [],
        "c.source": [rng.choice([b"in", b"oon", b"topic"])],
        "u.id": [int(rng.integers(1, 10**9)), int(rng.integers(1, 10**9))][: 1 + i % 2],
        "meta.key": i // 20,
        "meta.weight": float(i % 20),
        "meta.score": float(rng.uniform()),
        "label.top3": int(i % 20 < 3),
    }


def _write_gz(path: str, records: list[bytes]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for record in records:
            writer.write(record)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Raw candidates (with labels), a Transform output in TFX's layout and an exported model."""
    rng = np.random.default_rng(0)
    rows = [_row(rng, i) for i in range(300)]
    work = tmp_path_factory.mktemp("bench")
    _write_gz(str(work / "data" / "part-00000.tfrecord.gz"), [serialize_example(row) for row in rows])
    graph_dir = str(work / "Transform" / "transform_graph" / "3")
    transform_output = write_transform_graph(rows, SPEC, FEATURES, BITS, graph_dir)

    records = transformed_records(rows, SPEC, transform_output)
    _write_gz(str(work / "Transform" / "transformed_examples" / "3" / "Split-train" / "part-0.gz"), records)

    tf.keras.utils.set_random_seed(1)
    model = deepnorm_light_ranker(DEEPNORM, len(FEATURES.continuous))
    model_dir = str(work / "serving" / "1700000000")
    settings = {"kind": "deepnorm", "task": "HeavyRankPosition", "deepnorm": DEEPNORM.to_dict()}
    export_serving_model(model, transform_output, FEATURES, (CONTINUOUS, SPARSE_IDS), model_dir, settings)
    return {"data": str(work / "data"), "transform": str(work / "Transform"), "model": model_dir,
            "serving": str(work / "serving")}  # fmt: skip


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
    table = serving_table([result], ["lightrank", "bench", "serving"])
    assert (
        "`lightrank bench serving`" in table
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
    assert "| 16 | 20 |" in training_table(rows, ["lightrank", "bench", "training"])


def test_inputs_that_are_not_benchmark_inputs_are_user_errors(tiny, tmp_path):
    assert resolve_serving_model(tiny["serving"]) == tiny["model"]
    with pytest.raises(BenchInputError, match="not an exported model"):
        resolve_serving_model(str(tmp_path))
    with pytest.raises(BenchInputError, match="not a Transform output"):
        locate_transform_output(str(tmp_path))


def test_register_adds_both_benchmarks_to_the_cli():
    parser = argparse.ArgumentParser(prog="lightrank")
    register(parser.add_subparsers(dest="command", required=True))
    serving = parser.parse_args(["bench", "serving", "--model", "m"])
    assert (
        serving.batch_sizes == [100, 1_000, 5_000] and serving.threads == [1, 0] and callable(serving.handler)
    )
    training = parser.parse_args(["bench", "training", "--transform", "t", "--batch-sizes", "32"])
    assert training.batch_sizes == [32] and training.steps == 200 and callable(training.handler)
