"""Reading what the components wrote: statistics, anomalies, training history, TFMA output.

Both the `lightrank report` command (artifacts found through ML Metadata) and
the pipeline's RunReport component (artifacts handed to it) read the same
directories, so the two reports cannot disagree. Paths go through
`tf.io.gfile`, so `gs://` artifacts of a Vertex run read like local ones.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any

import tensorflow as tf
import tensorflow_model_analysis as tfma
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2
from tensorflow_model_analysis.writers import eval_config_writer

from lightrank.components.anomaly_gate import ANOMALIES_FILE, describe_anomalies
from lightrank.errors import shorten

#: Written by `lightrank.models.trainer.run_fn` into the ModelRun directory (the name is not imported from
#: there: that would load the whole training stack just to read a JSON file).
TRAINING_SUMMARY_FILE = "training_summary.json"
STATISTICS_FILE = "FeatureStats.pb"
SETTINGS_FILE = "model_settings.json"
#: What TFX's Tuner writes into its `best_hyperparameters` artifact.
BEST_HYPERPARAMETERS_FILE = "best_hyperparameters.txt"
_SPLIT_PREFIX = "Split-"


@dataclasses.dataclass(frozen=True)
class FeatureSummary:
    """One feature of the training split: type, share missing, and its range or cardinality."""

    name: str
    type: str
    missing: float
    summary: str


@dataclasses.dataclass(frozen=True)
class DataSummary:
    """Rows per split and the features of the training split."""

    rows: dict[str, int]
    features: tuple[FeatureSummary, ...]


@dataclasses.dataclass(frozen=True)
class Gate:
    """One quality gate of the Evaluator and how the model did against it.

    Attributes:
        metric: The metric name.
        rule: The bound in words, e.g. `>= 0.6` or `change vs baseline >= -0.5`.
        value: The candidate's value (for a change gate: candidate minus baseline).
        passed: Whether TFMA's validation found no failure for this metric.
    """

    metric: str
    rule: str
    value: float | None
    passed: bool


def unreadable(role: str, artifact_id: int | None, uri: str) -> str | None:
    """Why an artifact's files cannot be read (deleted, or a `gs://` bucket without access), else None.

    The readers below return nothing for a missing directory (TFMA, too), which
    would look like "no metrics" or "no anomalies"; callers check first and show
    this note instead, so a missing evaluation is never mistaken for an empty one.
    """
    try:
        if tf.io.gfile.exists(uri):
            return None
        reason = ""
    except tf.errors.OpError as error:
        reason = f" ({shorten(error.message.strip().splitlines()[0])})" if error.message.strip() else ""
    named = f"{role} artifact {artifact_id}" if artifact_id is not None else f"{role} artifact"
    return f"{named} at {uri} is missing or unreadable{reason}"


def _read_text(path: str) -> str | None:
    return tf.io.gfile.GFile(path, "r").read() if tf.io.gfile.exists(path) else None


def _splits(uri: str) -> list[str]:
    if not tf.io.gfile.isdir(uri):
        return []
    names = [name.rstrip("/") for name in tf.io.gfile.listdir(uri)]
    return sorted(name[len(_SPLIT_PREFIX) :] for name in names if name.startswith(_SPLIT_PREFIX))


def training_summary(model_run_uri: str) -> dict[str, Any] | None:
    """The Trainer's `training_summary.json` (evaluation history, stop reason), if written."""
    text = _read_text(os.path.join(model_run_uri, TRAINING_SUMMARY_FILE))
    return json.loads(text) if text else None


def best_hyperparameters(hyperparameters_uri: str) -> dict[str, Any] | None:
    """The values of the Tuner's best trial (`best_hyperparameters.txt`), if readable."""
    text = _read_text(os.path.join(hyperparameters_uri, BEST_HYPERPARAMETERS_FILE))
    return dict(json.loads(text).get("values", {})) if text else None


def model_settings(model_uri: str) -> dict[str, Any] | None:
    """The exported model's `model_settings.json` (kind, task, preset, DeepNorm and training settings)."""
    for directory in (os.path.join(model_uri, "Format-Serving"), model_uri):
        text = _read_text(os.path.join(directory, SETTINGS_FILE))
        if text:
            return json.loads(text)
    return None


def _feature_summary(feature: statistics_pb2.FeatureNameStatistics, rows: int) -> FeatureSummary:
    name = ".".join(feature.path.step) or feature.name
    kind = statistics_pb2.FeatureNameStatistics.Type.Name(feature.type)
    if feature.HasField("num_stats"):
        stats = feature.num_stats
        common = stats.common_stats
        summary = f"mean {stats.mean:.4g}, std {stats.std_dev:.4g}, range [{stats.min:.4g}, {stats.max:.4g}]"
    elif feature.HasField("string_stats"):
        common = feature.string_stats.common_stats
        summary = f"{feature.string_stats.unique:,} distinct values"
    else:
        common = feature.struct_stats.common_stats
        summary = ""
    missing = common.num_missing / rows if rows else math.nan
    return FeatureSummary(name, kind, missing, summary)


def data_summary(statistics_uri: str) -> DataSummary:
    """Rows per split and per-feature statistics of the training split (or the first split)."""
    rows: dict[str, int] = {}
    features: tuple[FeatureSummary, ...] = ()
    splits = _splits(statistics_uri)
    for split in splits:
        path = os.path.join(statistics_uri, _SPLIT_PREFIX + split, STATISTICS_FILE)
        if not tf.io.gfile.exists(path):
            continue
        stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(tf.io.gfile.GFile(path, "rb").read())
        dataset = stats.datasets[0] if stats.datasets else statistics_pb2.DatasetFeatureStatistics()
        rows[split] = int(dataset.num_examples)
        if split == "train" or not features:
            features = tuple(
                sorted((_feature_summary(f, rows[split]) for f in dataset.features), key=lambda f: f.name)
            )
    return DataSummary(rows, features)


def anomaly_lines(anomalies_uri: str) -> list[str]:
    """One readable line per schema anomaly, as the anomaly gate words them."""
    per_split = {}
    for split in _splits(anomalies_uri):
        path = os.path.join(anomalies_uri, _SPLIT_PREFIX + split, ANOMALIES_FILE)
        if tf.io.gfile.exists(path):
            per_split[split] = anomalies_pb2.Anomalies.FromString(tf.io.gfile.GFile(path, "rb").read())
    return describe_anomalies(per_split)


def _overall_candidate(slice_key: Any) -> bool:
    return not tfma.slicer.deserialize_slice_key(slice_key)


def calibration_bins(evaluation_uri: str, bins: int = 20) -> list[tuple[float, float, float]]:
    """TFMA's calibration histogram (overall slice, candidate model) merged into `bins` equal-width bins.

    Returns:
        (mean prediction, observed label rate, weight) per non-empty bin.
    """
    sums = [[0.0, 0.0, 0.0] for _ in range(bins)]
    for plots in tfma.load_plots(evaluation_uri):
        if not _overall_candidate(plots.slice_key):
            continue
        for kv in plots.plot_keys_and_values:
            if kv.key.model_name not in ("", "candidate"):
                continue
            for bucket in kv.value.calibration_histogram_buckets.buckets:
                weight = bucket.num_weighted_examples.value
                if weight <= 0:
                    continue
                low = min(max(bucket.lower_threshold_inclusive, 0.0), 1.0)
                index = min(int(low * bins), bins - 1)
                sums[index][0] += bucket.total_weighted_refined_prediction.value
                sums[index][1] += bucket.total_weighted_label.value
                sums[index][2] += weight
    return [(p / w, y / w, w) for p, y, w in sums if w > 0]


def _overall_diffs(evaluation_uri: str) -> dict[str, float]:
    """Candidate-minus-baseline values TFMA computed on the overall slice (empty without a baseline)."""
    diffs = {}
    for metrics in tfma.load_metrics(evaluation_uri):
        if not _overall_candidate(metrics.slice_key):
            continue
        for kv in metrics.metric_keys_and_values:
            if kv.key.is_diff and not kv.key.HasField("sub_key") and kv.value.HasField("double_value"):
                diffs[kv.key.name] = kv.value.double_value.value
    return diffs


def _bounds(threshold: Any, overall: dict[str, float], diffs: dict[str, float], name: str) -> list[tuple]:
    rules = []
    if threshold.HasField("value_threshold"):
        bound = threshold.value_threshold
        if bound.HasField("lower_bound"):
            rules.append((f">= {bound.lower_bound.value:g}", overall.get(name)))
        if bound.HasField("upper_bound"):
            rules.append((f"<= {bound.upper_bound.value:g}", overall.get(name)))
    if threshold.HasField("change_threshold"):
        change = threshold.change_threshold
        sign = ">=" if change.direction == tfma.MetricDirection.HIGHER_IS_BETTER else "<="
        for field in ("absolute", "relative"):
            if change.HasField(field):
                limit = getattr(change, field).value
                rules.append((f"{field} change vs. baseline {sign} {limit:g}", diffs.get(name)))
    return rules


def gates(evaluation_uri: str, overall: dict[str, float]) -> list[Gate]:
    """The overall-slice gates the Evaluator applied, with values and outcomes.

    Args:
        evaluation_uri: The ModelEvaluation directory (holds the EvalConfig as run:
            TFX drops change thresholds when there is no baseline yet).
        overall: The candidate's overall metrics (`metrics_by_slice(...)["Overall"]`).
    """
    eval_config = eval_config_writer.load_eval_run(evaluation_uri)[0]
    if eval_config is None:
        return []
    failed = {
        failure.metric_key.name
        for per_slice in tfma.load_validation_result(evaluation_uri).metric_validations_per_slice
        for failure in per_slice.failures
    }
    diffs = _overall_diffs(evaluation_uri)
    result = []
    for spec in eval_config.metrics_specs:
        for metric in spec.metrics:
            name = json.loads(metric.config or "{}").get("name", metric.class_name)
            thresholds = [metric.threshold] if metric.HasField("threshold") else []
            thresholds += [t.threshold for t in metric.per_slice_thresholds]
            for threshold in thresholds:
                for rule, value in _bounds(threshold, overall, diffs, name):
                    result.append(Gate(name, rule, value, name not in failed))
    return result


def recall_curves(overall: dict[str, float]) -> dict[int, list[tuple[int, float]]]:
    """Recall at (N, K) of the light ranker, as {K: [(N, recall), ...]} sorted by N."""
    curves: dict[int, list[tuple[int, float]]] = {}
    for name, value in overall.items():
        if name.startswith("recall_atLight_") and "_atHeavy_" in name:
            light, heavy = name[len("recall_atLight_") :].split("_atHeavy_")
            curves.setdefault(int(heavy), []).append((int(light), value))
    return {k: sorted(points) for k, points in sorted(curves.items())}
