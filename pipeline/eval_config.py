"""The Evaluator's TFMA configuration, built from the pipeline config.

The same `EvalConfig` drives the pipeline's Evaluator and `lightrank eval`, so a
number printed by one is the number gated by the other. The model is evaluated
through its `serving_default` signature on raw candidates (the model featurises
them with the Transform's own code, `models/export.py`), labels and weights are
read from the raw examples, and metrics are computed overall and per configured
slice.
"""

from __future__ import annotations

import tensorflow_model_analysis as tfma

from lightrank.models.export import SLICE_SIGNATURE
from lightrank.models.features import ResolvedFeatures, slice_bucket_feature
from lightrank.models.metrics.specs import light_ranking_metrics_specs
from lightrank.pipeline.config import PipelineConfig

#: The output key of the exported `serving_default` signature.
PREDICTION_KEY = "prediction"


def build_eval_config(config: PipelineConfig, features: ResolvedFeatures) -> tfma.EvalConfig:
    """The TFMA EvalConfig: model spec, slices, metrics and quality gates.

    Args:
        config: The pipeline config (task, slices, thresholds).
        features: The resolved feature spec (label, weight, request key, heavy score).

    Returns:
        An EvalConfig whose thresholds decide the blessing. Change thresholds
        are ignored by TFX when no blessed baseline exists yet (first run, or
        `evaluation.compare_to_baseline: false`).
    """
    bucket_features = {slice_bucket_feature(name) for name in features.slice_buckets}
    sliced_by = {key for keys in config.evaluation.slices for key in keys}
    model_spec = tfma.ModelSpec(
        signature_name="serving_default",
        prediction_key=PREDICTION_KEY,
        label_key=features.label_key(config.model.task),
        example_weight_key=features.example_weight,
        # Slices on Transform outputs (e.g. an account-age bucket) read them from the model's
        # `slice_features` signature; only added when a slice needs it.
        preprocessing_function_names=[SLICE_SIGNATURE] if sliced_by & bucket_features else [],
    )
    slicing_specs = [tfma.SlicingSpec()]
    slicing_specs += [tfma.SlicingSpec(feature_keys=list(keys)) for keys in config.evaluation.slices]
    thresholds = {
        name: threshold.model_dump(exclude_none=True)
        for name, threshold in config.evaluation.thresholds.items()
    }
    return tfma.EvalConfig(
        model_specs=[model_spec],
        slicing_specs=slicing_specs,
        metrics_specs=light_ranking_metrics_specs(
            features.request_key, features.heavy_score, thresholds=thresholds
        ),
    )
