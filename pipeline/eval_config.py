"""The Evaluator's TFMA configuration, built from the pipeline config or an exported model.

The same `EvalConfig` drives the pipeline's Evaluator and `lightrank eval`, so a
number printed by one is the number gated by the other. The model is evaluated
through its `serving_default` signature on raw candidates (the model featurises
them with the Transform's own code, `models/export.py`), labels and weights are
read from the raw examples, and metrics are computed overall and per configured
slice.

`build_eval_config` is the one builder. Its input, `EvalSettings`, is what evaluation
needs, from either source: a `PipelineConfig` (the Evaluator, `lightrank eval --config`)
or the `ModelAsset` an exported model carries (`lightrank eval` without a config: overall
slice only, no gates, the default grouped cut-offs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import tensorflow_model_analysis as tfma

from lightrank.models.export import SLICE_SIGNATURE, ModelAsset
from lightrank.models.features import ResolvedFeatures, slice_bucket_feature
from lightrank.models.metrics.grouped import DEFAULT_K_VALUES, DEFAULT_N_VALUES
from lightrank.models.metrics.specs import light_ranking_metrics_specs
from lightrank.pipeline.config import PipelineConfig

#: The output key of the exported `serving_default` signature.
PREDICTION_KEY = "prediction"


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    """Everything `build_eval_config` reads: features and task, slices, gates, grouped cut-offs.

    Attributes:
        features: The resolved feature spec (label, weight, request key, heavy score).
        task: The model's task; its label is the one evaluated.
        slices: Feature-key lists to slice by; the overall slice is always computed.
        thresholds: Gates by metric name, as `metric_threshold` fields.
        light_n: The light ranker's top N of the grouped metrics.
        heavy_k: The heavy ranker's top K of the grouped metrics.
    """

    features: ResolvedFeatures
    task: str
    slices: tuple[tuple[str, ...], ...] = ()
    thresholds: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    light_n: tuple[int, ...] = DEFAULT_N_VALUES
    heavy_k: tuple[int, ...] = DEFAULT_K_VALUES

    @classmethod
    def from_config(cls, config: PipelineConfig, features: ResolvedFeatures) -> EvalSettings:
        """The settings of a pipeline config (task, slices, thresholds, `evaluation.grouped`)."""
        evaluation = config.evaluation
        return cls(
            features=features,
            task=config.model.task,
            slices=tuple(tuple(keys) for keys in evaluation.slices),
            thresholds={
                name: threshold.model_dump(exclude_none=True)
                for name, threshold in evaluation.thresholds.items()
            },
            light_n=tuple(evaluation.grouped.light_n),
            heavy_k=tuple(evaluation.grouped.heavy_k),
        )

    @classmethod
    def from_model(cls, asset: ModelAsset) -> EvalSettings:
        """The settings of an exported model alone: its features and task, nothing a config adds.

        Slices and gates are a pipeline's choices, not the model's, so there are none; the
        grouped metrics use the default cut-offs.
        """
        return cls(features=asset.features, task=asset.task)


def build_eval_config(settings: EvalSettings) -> tfma.EvalConfig:
    """The TFMA EvalConfig: model spec, slices, metrics and quality gates.

    Args:
        settings: What to evaluate (`EvalSettings.from_config` or `from_model`).

    Returns:
        An EvalConfig whose thresholds decide the blessing. Change thresholds
        are ignored by TFX when no blessed baseline exists yet (first run, or
        `evaluation.compare_to_baseline: false`).

    Raises:
        ValueError: A threshold on a metric these settings do not compute, or bad
            threshold fields.
    """
    features = settings.features
    bucket_features = {slice_bucket_feature(name) for name in features.slice_buckets}
    sliced_by = {key for keys in settings.slices for key in keys}
    model_spec = tfma.ModelSpec(
        signature_name="serving_default",
        prediction_key=PREDICTION_KEY,
        label_key=features.label_key(settings.task),
        example_weight_key=features.example_weight,
        # Slices on Transform outputs (e.g. an account-age bucket) read them from the model's
        # `slice_features` signature; only added when a slice needs it.
        preprocessing_function_names=[SLICE_SIGNATURE] if sliced_by & bucket_features else [],
    )
    slicing_specs = [tfma.SlicingSpec()]
    slicing_specs += [tfma.SlicingSpec(feature_keys=list(keys)) for keys in settings.slices]
    return tfma.EvalConfig(
        model_specs=[model_spec],
        slicing_specs=slicing_specs,
        metrics_specs=light_ranking_metrics_specs(
            features.request_key,
            features.heavy_score,
            n_values=settings.light_n,
            k_values=settings.heavy_k,
            thresholds=settings.thresholds,
        ),
    )
