"""The Evaluator's extractors: TFMA's own, with its per-candidate split replaced by request views.

TFMA's default extractors read, score and label batches of candidates, then split every batch
into one extract per candidate (`UnbatchExtractor`). Everything after that split ran once per
candidate, and once per slice a candidate falls in: slicing, pickling between Beam stages,
merging candidates back into requests for the grouped metrics, and every metric's per-example
conversion. That was where the Evaluator's time went (docs/performance.md).

`custom_extractors` keeps TFMA's extractors up to the scored batch and replaces the split with
`RequestViews` (`lightrank.components.request_views`): the batch becomes request views and
candidate cells, whole numpy arrays that hold only what a metric or a slice reads. TFMA's own
`SliceKeyExtractor` then slices each, and its evaluator computes the metrics, whose
computations read one of the two views (`lightrank.models.metrics.views`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.extractors import unbatch_extractor

from lightrank.components.cell_batches import CellBatches
from lightrank.components.eval_model import positional_signatures
from lightrank.components.request_views import ViewPlan, join_parts

#: The Beam stage name of the step replacing TFMA's unbatching.
STAGE_NAME = "ExtractRequestViews"


def used_features(eval_config: Any) -> set[str]:
    """Every raw feature an EvalConfig reads: slice keys, labels, weights, metric keys."""
    used = slice_features(eval_config) | metric_features(eval_config)
    for spec in eval_config.model_specs:
        used.update(key for key in (spec.label_key, spec.example_weight_key) if key)
        used.update(spec.label_keys.values())
        used.update(spec.example_weight_keys.values())
    return used


def metric_features(eval_config: Any) -> set[str]:
    """The raw features the metrics read themselves, beside labels, weights and predictions.

    Metric configs are searched for string values of keys ending in `_key` (the grouped
    metrics' `request_key` and `heavy_score_key`), so a metric that names a feature keeps it.
    """
    used: set[str] = set()
    for spec in eval_config.metrics_specs:
        if spec.query_key:
            used.add(spec.query_key)
        for config in _metric_configs(spec):
            used.update(v for k, v in config.items() if k.endswith("_key") and isinstance(v, str) and v)
    return used


def slice_features(eval_config: Any) -> set[str]:
    """The features the slicing specs name."""
    used: set[str] = set()
    for spec in eval_config.slicing_specs:
        used.update(spec.feature_keys)
        used.update(spec.feature_values)
    return used


def _metric_configs(spec: Any) -> Iterator[dict[str, Any]]:
    for metric in spec.metrics:
        yield json.loads(metric.config) if metric.config else {}


def request_key(eval_config: Any) -> str | None:
    """The request key the grouped metrics name (`request_key` of a metric config), if any."""
    keys = {
        config["request_key"]
        for spec in eval_config.metrics_specs
        for config in _metric_configs(spec)
        if config.get("request_key")
    }
    if len(keys) > 1:
        raise ValueError(f"the grouped metrics name different request keys: {sorted(keys)}")
    return next(iter(keys), None)


def view_plan(eval_config: Any) -> ViewPlan:
    """What the views of this EvalConfig keep."""
    # Labels, weights and predictions reach the views through TFMA's own extracts.
    key = request_key(eval_config)
    return ViewPlan(key, metric_features(eval_config), slice_features(eval_config), eval_config.slicing_specs)


@beam.ptransform_fn
def _RequestViews(extracts: beam.PCollection, plan: ViewPlan) -> beam.PCollection:  # noqa: N802
    parts = extracts | "SplitByRequest" >> beam.FlatMap(plan.split_batch)
    if plan.request_key is None:
        requests = parts
    else:
        requests = (
            parts
            | "GroupByRequest" >> beam.GroupByKey()
            | "JoinParts" >> beam.MapTuple(lambda key, grouped: (key, join_parts(list(grouped))))
        )
    return (
        requests
        | "Views" >> beam.FlatMapTuple(plan.views_of_request)
        | "MergeCells" >> beam.ParDo(CellBatches())
    )


def request_views(eval_config: Any) -> tfma.extractors.Extractor:
    """The extractor turning scored batches into request views and candidate cells."""
    return tfma.extractors.Extractor(stage_name=STAGE_NAME, ptransform=_RequestViews(view_plan(eval_config)))


def custom_extractors(
    eval_shared_model: Any, eval_config: Any, tensor_adapter_config: Any = None
) -> list[tfma.extractors.Extractor]:
    """TFMA's default extractors with `request_views` in place of the per-candidate split.

    The name and signature are those TFX's Evaluator looks up in its `module_path`
    (`tfx/components/evaluator/executor.py`), so the pipeline's Evaluator and `lightrank eval`
    run the same extractors.
    """
    extractors = tfma.default_extractors(
        eval_shared_model=positional_signatures(eval_shared_model),
        eval_config=eval_config,
        tensor_adapter_config=tensor_adapter_config,
    )
    names = [extractor.stage_name for extractor in extractors]
    at = names.index(unbatch_extractor.UNBATCH_EXTRACTOR_STAGE_NAME)
    return [*extractors[:at], request_views(eval_config), *extractors[at + 1 :]]
