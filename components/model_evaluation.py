"""How every view reads an Evaluator's output (a ModelEvaluation artifact): metrics by slice.

The end-of-run summary, `lightrank eval`, the run report, `compare` and `lineage` all read
TFMA's output through `metrics_by_slice`, so this is the one place where a number TFMA computes
but that means nothing on a slice becomes NaN, shown as n/a (`undefined_as_nan`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

import tensorflow_model_analysis as tfma

from lightrank.models.metrics.grouped import (
    DEFAULT_K_VALUES,
    DEFAULT_N_VALUES,
    NUM_CANDIDATES_IN_REQUESTS,
    needs_whole_requests,
)
from lightrank.models.metrics.ranking import recall_pairs

#: Metrics shown in the summary when present, in this order (see `key_metric_names`).
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
_RECALL_NAME = re.compile(r"recall_atLight_(\d+)_atHeavy_(\d+)")
_DEFAULT_RECALL_PAIRS = frozenset(recall_pairs(DEFAULT_N_VALUES, DEFAULT_K_VALUES))
#: Each AUC and the label rate of the same weighting: an AUC needs both classes.
_AUC_LABEL_RATE = {
    "auc": "ctr",
    "auc_precision_recall": "ctr",
    "auc_unweighted": "ctr_unweighted",
    "auc_precision_recall_unweighted": "ctr_unweighted",
}


def added_recall_names(names: Iterable[str]) -> list[str]:
    """The recall metrics among `names` at an (N, K) the default grouped cut-offs lack, by N then K.

    They are what a config's `evaluation.grouped` added (e.g. `recall_atLight_10_atHeavy_3`),
    the numbers its author asked for, so every view shows them next to `KEY_METRICS`.
    """
    pairs = {}
    for name in names:
        match = _RECALL_NAME.fullmatch(name)
        if match and (int(match[1]), int(match[2])) not in _DEFAULT_RECALL_PAIRS:
            pairs[(int(match[1]), int(match[2]))] = name
    return [pairs[pair] for pair in sorted(pairs)]


def key_metric_names(names: Iterable[str]) -> list[str]:
    """The metrics a summary shows, in order: `KEY_METRICS` among `names`, plus added recalls.

    The recall metrics of `added_recall_names` go before `ndcg_at_10`, next to the recalls
    of `KEY_METRICS`.

    Args:
        names: The metric names an evaluation computed (e.g. one slice's keys).
    """
    names = set(names)
    shown = [name for name in KEY_METRICS if name in names and name != "ndcg_at_10"]
    shown += added_recall_names(names)
    return shown + (["ndcg_at_10"] if "ndcg_at_10" in names else [])


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
