"""`tfma.MetricsSpec`s for the light ranker: the one metric configuration Evaluator and CLI share.

`light_ranking_metrics_specs` returns, in order:

1. per-example, example-weighted (TFMA weights by the ModelSpec's `example_weight_key`, the raw
   `meta.weight`, when one is set): `rce`, `nrce`, `arce`, `log_loss`, `ctr`, `predicted_ctr`,
   `weighted_example_count`, `auc`, `auc_precision_recall`;
2. per-example, unweighted: the same with `_unweighted` (`example_count` for the count) plus
   `calibration_plot`. The unweighted metrics are the primary ones (docs/model.md, Metrics);
3. per request (`request_key` of the metric), unweighted: `LightRankingGroupMetrics` (CGR, Recall,
   ExpectedLoss, NDCG@10 by heavy score and the request/candidate counts). TFMA's own
   `QueryStatistics` is left out: in TFMA 0.47 it ignores model names, so it crashes as soon as
   a baseline model is evaluated; `num_requests` gives the request count. TFMA's own `NDCG` is
   left out too: its combiner raises on a single candidate without a heavy score, which would
   fail the Evaluator on such data; `ndcg_at_10` uses its formula under our missing-data rules.

The request-level spec is unweighted: `meta.weight` differs between the candidates of a
request. AUCs use 200 thresholds like twml.

Every metric reads whole arrays of candidates, the views the Evaluator's extractors build
(`lightrank.models.metrics.views`): the counts come from the RCE family's sums
(`CandidateCount`), the AUCs and the calibration plot are TFMA's own on a batched histogram
(`lightrank.models.metrics.histograms`). The grouped spec has no `query_key`: TFMA would
regroup the request views one candidate at a time.

Thresholds are given by metric name and land on that metric's `MetricConfig` as a per-slice
threshold on the overall slice (TFMA binds a config's threshold to the metric instance name;
spec-level thresholds only reach model-native metrics; per-slice gates would let a small
slice's noise block a push). Grouped metrics get a single-key `LightRankingGroupMetrics`
config of their own, which shares its computation with the main one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.proto import config_pb2

from lightrank.models.metrics.grouped import (
    DEFAULT_K_VALUES,
    DEFAULT_N_VALUES,
    FAMILY_NAME,
    LightRankingGroupMetrics,
    grouped_metric_names,
)
from lightrank.models.metrics.histograms import BatchedAUC, BatchedAUCPrecisionRecall, BatchedCalibrationPlot
from lightrank.models.metrics.rce_metrics import RCE_FAMILY, CandidateCount

#: twml's `tf.metrics.auc` used 200 thresholds.
AUC_NUM_THRESHOLDS = 200
_CALIBRATION_PLOT = "calibration_plot"
_DIRECTIONS = {
    "higher_is_better": tfma.MetricDirection.HIGHER_IS_BETTER,
    "lower_is_better": tfma.MetricDirection.LOWER_IS_BETTER,
}
_THRESHOLD_FIELDS = {"lower_bound", "upper_bound", "change", "absolute", "relative"}


def _own_metric(metric: Any) -> tfma.MetricConfig:
    cls = type(metric)
    return tfma.MetricConfig(
        class_name=cls.__name__, module=cls.__module__, config=json.dumps(metric.get_config(), sort_keys=True)
    )


def _number(name: str, field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"threshold {name}.{field} must be a number, got {value!r}")
    return float(value)


def metric_threshold(name: str, spec: Mapping[str, Any]) -> tfma.MetricThreshold:
    """Turns `{"lower_bound": 0, "change": "higher_is_better", "absolute": -1e-10}` into a threshold.

    Fields: `lower_bound` / `upper_bound` (value bounds); `change` ("higher_is_better" or
    "lower_is_better") with `absolute` and/or `relative` (change against the baseline model).

    Raises:
        ValueError: On unknown fields, a bad direction, a change without amounts (or amounts
            without a direction), non-numbers, or an empty threshold.
    """
    unknown = set(spec) - _THRESHOLD_FIELDS
    if unknown:
        raise ValueError(
            f"threshold {name} has unknown fields {sorted(unknown)}; allowed: {sorted(_THRESHOLD_FIELDS)}"
        )
    threshold = tfma.MetricThreshold()
    for field in ("lower_bound", "upper_bound"):
        if field in spec:
            getattr(threshold.value_threshold, field).value = _number(name, field, spec[field])
    amounts = [field for field in ("absolute", "relative") if field in spec]
    if "change" in spec:
        if spec["change"] not in _DIRECTIONS:
            raise ValueError(
                f"threshold {name}.change must be one of {sorted(_DIRECTIONS)}, got {spec['change']!r}"
            )
        if not amounts:
            raise ValueError(f"threshold {name}.change needs 'absolute' and/or 'relative'")
        threshold.change_threshold.direction = _DIRECTIONS[spec["change"]]
        for field in amounts:
            getattr(threshold.change_threshold, field).value = _number(name, field, spec[field])
    elif amounts:
        raise ValueError(f"threshold {name} sets {amounts} without 'change' (the direction)")
    if not threshold.HasField("value_threshold") and not threshold.HasField("change_threshold"):
        raise ValueError(f"threshold {name} sets nothing")
    return threshold


def _base_specs(family: LightRankingGroupMetrics) -> list[tfma.MetricsSpec]:
    """The specs, without thresholds."""

    def auc(cls: type[tfma.metrics.Metric], name: str) -> tfma.MetricConfig:
        return _own_metric(cls(name=name, num_thresholds=AUC_NUM_THRESHOLDS))

    weighted = tfma.MetricsSpec(
        metrics=[_own_metric(cls()) for cls in RCE_FAMILY]
        + [
            _own_metric(CandidateCount(name="weighted_example_count")),
            auc(BatchedAUC, "auc"),
            auc(BatchedAUCPrecisionRecall, "auc_precision_recall"),
        ]
    )
    unweighted = tfma.MetricsSpec(
        metrics=[_own_metric(cls(unweighted=True)) for cls in RCE_FAMILY]
        + [
            _own_metric(CandidateCount(name="example_count")),
            auc(BatchedAUC, "auc_unweighted"),
            auc(BatchedAUCPrecisionRecall, "auc_precision_recall_unweighted"),
            _own_metric(BatchedCalibrationPlot(name=_CALIBRATION_PLOT)),
        ],
        example_weights=tfma.ExampleWeightOptions(unweighted=True),
    )
    grouped = tfma.MetricsSpec(
        metrics=[_own_metric(family)],
        example_weights=tfma.ExampleWeightOptions(unweighted=True),
    )
    return [weighted, unweighted, grouped]


def _overall_only(threshold: tfma.MetricThreshold) -> config_pb2.PerSliceMetricThreshold:
    """Gates apply to the overall slice: a small slice's noise must not block a push."""
    return config_pb2.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)


def _configs_by_name(specs: Sequence[tfma.MetricsSpec]) -> dict[str, tfma.MetricConfig]:
    """The MetricConfig (live, inside `specs`) of every single-name metric a threshold can bind to.

    Left out: the plot and the grouped family (thresholds go on single-key copies, see
    `light_ranking_metrics_specs`).
    """
    by_name: dict[str, tfma.MetricConfig] = {}
    for spec in specs:
        for config in spec.metrics:
            name = json.loads(config.config or "{}").get("name")
            if name and name not in (_CALIBRATION_PLOT, FAMILY_NAME):
                by_name[name] = config
    return by_name


def light_ranking_metrics_specs(
    request_key: str,
    heavy_score_key: str,
    *,
    n_values: Sequence[int] = DEFAULT_N_VALUES,
    k_values: Sequence[int] = DEFAULT_K_VALUES,
    thresholds: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[tfma.MetricsSpec]:
    """The light ranker's MetricsSpecs (see module docstring for what each holds).

    Args:
        request_key: Feature grouping candidates into requests, e.g. `meta.trace_id`.
        heavy_score_key: Feature with the heavy-ranker score, the reference ranking.
        n_values: Light-ranker cut sizes N of the grouped metrics.
        k_values: Heavy-ranker top sizes K of the grouped metrics.
        thresholds: Metric name -> threshold fields (see `metric_threshold`).

    Returns:
        The MetricsSpecs, to put into `tfma.EvalConfig(metrics_specs=...)`.

    Raises:
        ValueError: For a threshold on an unknown (or not thresholdable) metric name, bad
            threshold fields, a missing key, or bad N/K lists.
    """
    if not request_key or not heavy_score_key:
        raise ValueError("request_key and heavy_score_key must both name features")
    family = LightRankingGroupMetrics(
        heavy_score_key=heavy_score_key, n_values=n_values, k_values=k_values, request_key=request_key
    )
    specs = _base_specs(family)
    by_name = _configs_by_name(specs)
    grouped_spec = specs[2]
    grouped_names = grouped_metric_names(family.kwargs["n_values"], family.kwargs["k_values"])
    for name, fields in (thresholds or {}).items():
        if name not in by_name and name not in grouped_names:
            known = sorted(set(by_name) | set(grouped_names))
            raise ValueError(f"threshold on unknown metric {name!r}; thresholdable metrics: {known}")
        threshold = _overall_only(metric_threshold(name, fields))
        if name in by_name:
            by_name[name].per_slice_thresholds.append(threshold)
        else:
            single = LightRankingGroupMetrics(
                heavy_score_key=heavy_score_key,
                n_values=n_values,
                k_values=k_values,
                name=name,
                request_key=request_key,
            )
            config = _own_metric(single)
            config.per_slice_thresholds.append(threshold)
            grouped_spec.metrics.append(config)
    return specs


def thresholdable_metric_names(
    n_values: Sequence[int] = DEFAULT_N_VALUES,
    k_values: Sequence[int] = DEFAULT_K_VALUES,
) -> list[str]:
    """Every name `light_ranking_metrics_specs` accepts in `thresholds`, per-example ones first."""
    family = LightRankingGroupMetrics(n_values=n_values, k_values=k_values)
    by_name = _configs_by_name(_base_specs(family))
    return list(by_name) + grouped_metric_names(family.kwargs["n_values"], family.kwargs["k_values"])
