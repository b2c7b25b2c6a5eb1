"""The end-of-run summary: what was pushed, how good it is, where things are.

`metrics_by_slice` is also how every other view (`lightrank eval`, the run report, `compare`,
`lineage`) reads an evaluation, so it is where a number TFMA computes but that means nothing
on a slice becomes NaN, shown as n/a (`undefined_as_nan`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import tensorflow_model_analysis as tfma

from models.metrics.grouped import NUM_CANDIDATES_IN_REQUESTS, needs_whole_requests
from pipeline.config import PipelineConfig
from pipeline.report.numbers import format_number
from pipeline.runs import RunRecord

#: Metrics shown in the summary when present, in this order.
KEY_METRICS = (
    "example_count",
    "num_requests",
    "auc_unweighted",
    "rce_unweighted",
    "nrce_unweighted",
    "log_loss_unweighted",
    "auc_precision_recall_unweighted",
    "predicted_ctr_unweighted",
    "ctr_unweighted",
    "recall_atLight_50_atHeavy_3",
    "recall_atLight_100_atHeavy_3",
    "recall_atLight_100_atHeavy_10",
    "cgr_atLight_100_atHeavy_10",
    "ndcg_at_10",
)
#: Each AUC and the label rate of the same weighting: an AUC needs both classes.
_AUC_LABEL_RATE = {
    "auc": "ctr",
    "auc_precision_recall": "ctr",
    "auc_unweighted": "ctr_unweighted",
    "auc_precision_recall_unweighted": "ctr_unweighted",
}


def _value(metric_value: object) -> float | None:
    """A scalar out of a TFMA MetricValue proto (None for plots, arrays, errors)."""
    if metric_value.HasField("double_value"):
        return metric_value.double_value.value
    return None


def undefined_as_nan(metrics: Mapping[str, float]) -> dict[str, float]:
    """One slice's metrics with the values that are undefined on it replaced by NaN.

    * AUC and PR-AUC on a slice with a single label class (its ctr of the same weighting 0 or
      1): TFMA 0.47 reports 0.0 there.
    * Grouped metrics (`grouped.needs_whole_requests`) on a slice that splits requests, e.g. by
      `candidate.source`: TFMA scores every request touching the slice with all its candidates,
      so the value describes whole requests, not the slice. A slice splits requests exactly
      when those requests hold more candidates (`num_candidates_in_requests`) than the slice
      (`example_count`); the overall slice and slices by request-level features never do.
    """
    result = dict(metrics)
    for auc, label_rate in _AUC_LABEL_RATE.items():
        if auc in result and label_rate in result and not 0.0 < result[label_rate] < 1.0:
            result[auc] = math.nan
    in_requests = result.get(NUM_CANDIDATES_IN_REQUESTS)
    if in_requests is not None and in_requests != result.get("example_count", in_requests):
        for name in result:
            if needs_whole_requests(name):
                result[name] = math.nan
    return result


def metrics_by_slice(evaluation_uri: str, model_name: str = "") -> dict[str, dict[str, float]]:
    """Scalar metrics of an Evaluator output, keyed by slice name then metric name.

    Args:
        evaluation_uri: A ModelEvaluation artifact's directory.
        model_name: With a baseline, TFMA names models "candidate" and
            "baseline"; the candidate's values are kept (or all, if "").

    Returns:
        `{"Overall": {...}, "candidate.source:topic_tweet": {...}, ...}`, values that are
        undefined on their slice as NaN (`undefined_as_nan`).
    """
    result: dict[str, dict[str, float]] = {}
    for metrics_for_slice in tfma.load_metrics(evaluation_uri):
        slice_name = tfma.slicer.stringify_slice_key(
            tfma.slicer.deserialize_slice_key(metrics_for_slice.slice_key)
        )
        slice_name = slice_name or "Overall"
        row = result.setdefault(slice_name, {})
        for kv in metrics_for_slice.metric_keys_and_values:
            key = kv.key
            if key.model_name not in ("", "candidate") or (model_name and key.model_name != model_name):
                continue
            if key.HasField("sub_key") or key.is_diff:
                continue
            value = _value(kv.value)
            if value is not None:
                row[key.name] = value
    return {name: undefined_as_nan(row) for name, row in result.items()}


def format_summary(
    config: PipelineConfig, run: RunRecord, *, log_file: str, ok: bool, expected: Iterable[str] = ()
) -> str:
    """A short, human-readable report of one run.

    Args:
        config: The run's config.
        run: The run as recorded in ML Metadata.
        log_file: The full log, named at the end.
        ok: Whether the run finished without an error.
        expected: The pipeline's component ids; those without an execution
            (e.g. the Pusher when the model was not blessed) show as skipped.
    """
    lines = [f"\nRun {run.run_id} of pipeline '{config.name}'"]
    for component in run.components:
        lines.append(f"  {component.component:<32} {component.state:<9} {component.seconds:7.1f} s")
    recorded = {component.component for component in run.components}
    lines.extend(f"  {name:<32} {'skipped':<9}" for name in expected if name not in recorded and ok)
    total = sum(c.seconds for c in run.components)
    lines.append(f"  {'total':<32} {'':<9} {total:7.1f} s")
    if run.blessed is not None:
        lines.append(f"Blessed:        {'yes' if run.blessed else 'NO (a quality gate failed)'}")
    lines.append(f"Pushed model:   {run.pushed_model or 'nothing was pushed'}")
    if run.evaluation_uri:
        overall = metrics_by_slice(run.evaluation_uri).get("Overall", {})
        shown = [(name, overall[name]) for name in KEY_METRICS if name in overall]
        if shown:
            lines.append("Metrics (eval split, overall):")
            lines.extend(f"  {name:<32} {format_number(value)}" for name, value in shown)
        lines.append(f"Evaluation:     {run.evaluation_uri}")
    if run.model_uri:
        lines.append(f"Trained model:  {run.model_uri}")
    if config.metadata.sqlite:
        lines.append(f"ML Metadata:    {config.metadata.sqlite}")
    lines.append(f"Pipeline root:  {config.root}")
    lines.append(f"Full log:       {log_file}")
    if not ok:
        lines.append("The run FAILED; the error is above and in the full log.")
    return "\n".join(lines)


def thresholds_text(config: PipelineConfig) -> Iterable[str]:
    """The configured gates, one per line, e.g. `auc >= 0.5`."""
    for name, threshold in config.evaluation.thresholds.items():
        if threshold.lower_bound is not None:
            yield f"{name} >= {threshold.lower_bound}"
        if threshold.upper_bound is not None:
            yield f"{name} <= {threshold.upper_bound}"
        if threshold.change is not None:
            yield f"{name} no worse than the last blessed model ({threshold.change.replace('_', ' ')})"
