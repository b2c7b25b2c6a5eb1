"""The Evaluator's numbers did not move when it stopped working one candidate at a time.

The same model, data and EvalConfig (the sample config's slices, its Transform slice bucket
included) are evaluated twice:

* the Evaluator's way: `custom_extractors` (request views and candidate cells) and the
  production MetricsSpecs (the batched AUCs, plot and counts);
* TFMA's stock way: its default extractors, one extract per candidate, with TFMA's own `AUC`,
  `AUCPrecisionRecall`, `CalibrationPlot` and `ExampleCount` in place of the batched ones.

Every per-candidate metric of every slice, and the calibration plot, must agree. The grouped
metrics have no stock form; they must equal the per-request formulas averaged over the whole
requests that touch each slice (TFMA's query semantics), computed here from the raw data.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma

from lightrank.components.eval_extractors import custom_extractors
from lightrank.models.features import resolve_files
from lightrank.models.metrics.grouped import COUNT_NAMES, LightRankingGroupMetrics
from lightrank.models.metrics.ranking import RankedGroup, group_metric_values
from lightrank.pipeline.config import SAMPLE_CONFIG, load_config
from lightrank.pipeline.eval_config import EvalSettings, build_eval_config

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
REQUEST, HEAVY, SOURCE, AGE = (
    "meta.trace_id",
    "meta.ranking.weighted_oonc_model_score",
    "candidate.source",
    "user.account_age_days",
)
BUCKET = "user.account_age_days_bucket"
_STOCK = {
    "BatchedAUC": "AUC",
    "BatchedAUCPrecisionRecall": "AUCPrecisionRecall",
    "BatchedCalibrationPlot": "CalibrationPlot",
}


def _floats(parsed: dict[str, tf.Tensor], name: str) -> tf.Tensor:
    value = tf.reshape(parsed[name], [-1])
    return tf.where(tf.math.is_finite(value), value, 0.0)  # the sample holds a few NaN values


class _Ranker(tf.Module):
    """A deterministic stand-in for the exported model, with its slice-bucket signature."""

    _SPEC: ClassVar[dict[str, tf.io.FixedLenFeature]] = {
        "candidate.likes_1h": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0]),
        "user.push_open_rate_28d": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0]),
        "candidate.tweet_age_minutes": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0]),
        AGE: tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0]),
    }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        parsed = tf.io.parse_example(examples, self._SPEC)
        logit = 0.7 * tf.math.log1p(tf.maximum(_floats(parsed, "candidate.likes_1h"), 0.0))
        logit += 3.0 * _floats(parsed, "user.push_open_rate_28d") - 3.0
        # A continuous term: ties would make a request's ranking depend on candidate order.
        logit -= 1e-3 * _floats(parsed, "candidate.tweet_age_minutes")
        return {"prediction": tf.sigmoid(logit)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def slice_features(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        age = _floats(tf.io.parse_example(examples, self._SPEC), AGE)
        bucket = tf.where(age < 30.0, 0, tf.where(age < 365.0, 1, 2))
        return {BUCKET: tf.cast(bucket, tf.int64)}


def _load(output: str) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """TFMA's raw output: scalar metrics and calibration-plot buckets, by slice name."""
    metrics: dict[str, dict[str, float]] = {}
    for record in tfma.load_metrics(output):
        name = tfma.slicer.stringify_slice_key(tfma.slicer.deserialize_slice_key(record.slice_key))
        metrics[name or "Overall"] = {
            kv.key.name: kv.value.double_value.value
            for kv in record.metric_keys_and_values
            if kv.value.HasField("double_value")
        }
    plots: dict[str, np.ndarray] = {}
    for record in tfma.load_plots(output):
        name = tfma.slicer.stringify_slice_key(tfma.slicer.deserialize_slice_key(record.slice_key))
        for kv in record.plot_keys_and_values:
            buckets = kv.value.calibration_histogram_buckets.buckets
            plots[name or "Overall"] = np.array(
                [
                    [
                        b.num_weighted_examples.value,
                        b.total_weighted_label.value,
                        b.total_weighted_refined_prediction.value,
                    ]
                    for b in buckets
                ]
            )
    return metrics, plots


def _stock(eval_config: tfma.EvalConfig) -> tfma.EvalConfig:
    """The same config with TFMA's own per-candidate metrics and without the grouped family."""
    stock = tfma.EvalConfig()
    stock.CopyFrom(eval_config)
    del stock.metrics_specs[:]
    for spec in eval_config.metrics_specs:
        copy = stock.metrics_specs.add()
        copy.CopyFrom(spec)
        del copy.metrics[:]
        for metric in spec.metrics:
            if metric.class_name == LightRankingGroupMetrics.__name__:
                continue
            config = copy.metrics.add()
            config.CopyFrom(metric)
            if metric.class_name in _STOCK:
                config.class_name, config.module = _STOCK[metric.class_name], ""
            elif metric.class_name == "CandidateCount":
                config.class_name, config.module = "ExampleCount", ""
                config.config = json.dumps({"name": json.loads(metric.config)["name"]})
        if not copy.metrics:
            del stock.metrics_specs[-1]
    return stock


def _requests_by_slice(data: str, predictions: np.ndarray) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """(heavy scores, predictions) of every whole request touching each slice, from the raw data."""
    spec = {
        REQUEST: tf.io.FixedLenFeature([], tf.int64),
        HEAVY: tf.io.FixedLenFeature([], tf.float32),
        SOURCE: tf.io.FixedLenFeature([], tf.string),
        AGE: tf.io.FixedLenFeature([], tf.float32),
    }
    rows = tf.io.parse_example(tf.constant(_records(data)), spec)
    requests, heavy = rows[REQUEST].numpy(), rows[HEAVY].numpy()
    sources = [s.decode() for s in rows[SOURCE].numpy()]
    age = rows[AGE].numpy()
    buckets = np.where(age < 30.0, 0, np.where(age < 365.0, 1, 2))
    touched: dict[str, set[int]] = defaultdict(set)
    for request, source, bucket in zip(requests, sources, buckets, strict=True):
        for name in (
            "Overall",
            f"{SOURCE}:{source}",
            f"{BUCKET}:{bucket}",
            f"{SOURCE}_X_{BUCKET}:{source}_X_{bucket}",
        ):
            touched[name].add(int(request))
    whole = {int(r): (heavy[requests == r], predictions[requests == r]) for r in np.unique(requests)}
    return {name: [whole[r] for r in sorted(ids)] for name, ids in touched.items()}


def _records(data: str) -> list[bytes]:
    files = sorted(str(path) for path in Path(data).glob("*"))
    return [record.numpy() for record in tf.data.TFRecordDataset(files, compression_type="GZIP")]


@pytest.fixture(scope="module")
def evaluations(tiny_data: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("equality")
    model_dir = str(root / "model")
    ranker = _Ranker()
    tf.saved_model.save(
        ranker,
        model_dir,
        signatures={"serving_default": ranker.serve, "slice_features": ranker.slice_features},
    )
    config = load_config(
        SAMPLE_CONFIG,
        [
            f"schema.path={REPO / 'schema' / 'sample' / 'schema.pbtxt'}",
            f"schema.feature_spec={REPO / 'schema' / 'sample' / 'feature_spec.yaml'}",
        ],
    )
    features = resolve_files(config.schema.path, config.schema.feature_spec)
    eval_config = build_eval_config(EvalSettings.from_config(config, features))
    assert {BUCKET} <= {key for spec in eval_config.slicing_specs for key in spec.feature_keys}
    shared = tfma.default_eval_shared_model(
        eval_saved_model_path=model_dir, eval_config=eval_config, rubber_stamp=True
    )
    pattern = str(Path(tiny_data) / "*")
    ours, stock = str(root / "ours"), str(root / "stock")
    tfma.run_model_analysis(
        eval_shared_model=shared,
        eval_config=eval_config,
        data_location=pattern,
        output_path=ours,
        extractors=custom_extractors(shared, eval_config),
    )
    tfma.run_model_analysis(
        eval_shared_model=shared, eval_config=_stock(eval_config), data_location=pattern, output_path=stock
    )
    predictions = ranker.serve(tf.constant(_records(tiny_data)))["prediction"].numpy().astype(np.float64)
    grouped = next(
        json.loads(m.config)
        for s in eval_config.metrics_specs
        for m in s.metrics
        if m.class_name == "LightRankingGroupMetrics"
    )
    return {
        "ours": _load(ours),
        "stock": _load(stock),
        "requests": _requests_by_slice(tiny_data, predictions),
        "grouped": grouped,
    }


def test_every_per_candidate_metric_of_every_slice_equals_tfmas_own(evaluations):
    ours, _ = evaluations["ours"]
    stock, _ = evaluations["stock"]
    assert set(ours) == set(stock) and len(stock) > 10  # overall, sources, buckets, crosses
    compared = 0
    for slice_name, values in stock.items():
        for name, value in values.items():
            mine = ours[slice_name][name]
            if math.isnan(value):
                assert math.isnan(mine), (slice_name, name)
            else:
                # abs: RCE-style values (percent) near 0 differ by float rounding of bucket means
                assert mine == pytest.approx(value, rel=1e-6, abs=1e-7), (slice_name, name)
            compared += 1
    assert compared >= 18 * len(stock)  # nine metrics, weighted and unweighted


def test_the_calibration_plot_equals_tfmas_own(evaluations):
    _, ours = evaluations["ours"]
    _, stock = evaluations["stock"]
    assert set(ours) == set(stock)
    for slice_name, buckets in stock.items():
        np.testing.assert_allclose(ours[slice_name], buckets, rtol=1e-6, atol=1e-9)


def test_grouped_metrics_are_the_per_request_formulas_over_the_requests_touching_each_slice(evaluations):
    ours, _ = evaluations["ours"]
    config = evaluations["grouped"]
    for slice_name, requests in evaluations["requests"].items():
        sums: dict[str, list[float]] = defaultdict(list)
        for heavy, predictions in requests:
            for name, value in group_metric_values(
                RankedGroup(heavy, predictions), config["n_values"], config["k_values"]
            ).items():
                if value is not None:
                    sums[name].append(value)
        values = ours[slice_name]
        assert values["num_requests"] == len(requests), slice_name
        assert values["num_candidates_in_requests"] == sum(len(h) for h, _ in requests), slice_name
        for name, per_request in sums.items():
            assert values[name] == pytest.approx(np.mean(per_request), rel=1e-9), (slice_name, name)
        assert set(COUNT_NAMES) <= set(values)
