"""TFMA's extractors with the candidates' unused features dropped before slicing.

TFMA carries every raw feature of a candidate through its per-example stages: split from the
batch, pickled between Beam stages once per slice the candidate falls in, and merged back into
requests for the grouped metrics. The metrics read none of them but the request key, the heavy
score and the slice features (labels, weights and predictions have their own extracts by then),
so `FeaturePruning` keeps only those, and the serialized input the model has already scored is
dropped too. The numbers cannot change: every value a metric or a slice reads is kept as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import apache_beam as beam
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis import constants
from tensorflow_model_analysis.extractors import unbatch_extractor

#: The Beam stage name of the pruning step.
STAGE_NAME = "PruneUnusedFeatures"


def _prune(extracts: dict[str, Any], keep: frozenset[str]) -> dict[str, Any]:
    pruned = {key: value for key, value in extracts.items() if key != constants.INPUT_KEY}
    features = extracts.get(constants.FEATURES_KEY)
    if isinstance(features, dict):
        pruned[constants.FEATURES_KEY] = {name: value for name, value in features.items() if name in keep}
    return pruned


def feature_pruning(keep: Iterable[str]) -> tfma.extractors.Extractor:
    """An extractor keeping only the `keep` raw features (and dropping the serialized input)."""
    return tfma.extractors.Extractor(stage_name=STAGE_NAME, ptransform=beam.Map(_prune, frozenset(keep)))


def used_features(eval_config: Any) -> set[str]:
    """Every raw feature an EvalConfig reads: slice keys, query keys, labels, weights, metric keys.

    Metric configs are searched for string values of keys ending in `_key` (our grouped
    metrics' `heavy_score_key`), so a metric that names a feature keeps it.
    """
    used: set[str] = set()
    for spec in eval_config.slicing_specs:
        used.update(spec.feature_keys)
        used.update(spec.feature_values)
    for spec in eval_config.model_specs:
        used.update(key for key in (spec.label_key, spec.example_weight_key) if key)
        used.update(spec.label_keys.values())
        used.update(spec.example_weight_keys.values())
    for spec in eval_config.metrics_specs:
        if spec.query_key:
            used.add(spec.query_key)
        for metric in spec.metrics:
            config = json.loads(metric.config) if metric.config else {}
            used.update(v for k, v in config.items() if k.endswith("_key") and isinstance(v, str))
    return used


def custom_extractors(
    eval_shared_model: Any, eval_config: Any, tensor_adapter_config: Any = None
) -> list[tfma.extractors.Extractor]:
    """TFMA's default extractors with `feature_pruning` just before the unbatching.

    The name and signature are those TFX's Evaluator looks up in its `module_path`
    (`tfx/components/evaluator/executor.py`), so the pipeline's Evaluator and `lightrank eval`
    run the same extractors.
    """
    extractors = tfma.default_extractors(
        eval_shared_model=eval_shared_model,
        eval_config=eval_config,
        tensor_adapter_config=tensor_adapter_config,
    )
    names = [extractor.stage_name for extractor in extractors]
    at = names.index(unbatch_extractor.UNBATCH_EXTRACTOR_STAGE_NAME)
    return [*extractors[:at], feature_pruning(used_features(eval_config)), *extractors[at:]]
