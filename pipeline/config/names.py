"""Checks of the names a config gives to the evaluation: metrics to gate on, features to slice by.

The config loader checks keys and types, but a threshold or a slice names a metric
or a feature, and which ones exist depends on the metric code and the schema. Left
unchecked, a misspelt threshold metric fails deep inside the pipeline build, after
the input data was read, and a misspelt slice key is worse: TFMA quietly produces
no such slice and the run looks fine. This module fails first, with the config key,
the bad name and the closest valid one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from lightrank.errors import ConfigError

if TYPE_CHECKING:
    from lightrank.models.features import ResolvedFeatures
    from lightrank.pipeline.config import PipelineConfig


def _unknown(kind: str, key: str, name: str, known: Iterable[str]) -> ConfigError:
    known = sorted(set(known))
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known {kind}s: {', '.join(known)}"
    return ConfigError(f"{key}: unknown {kind} {name!r}; {hint}")


def sliceable_features(features: ResolvedFeatures, schema_features: Iterable[str]) -> set[str]:
    """Every feature TFMA can slice on: the raw schema features and the Transform slice buckets."""
    from lightrank.models.features import slice_bucket_feature

    return set(schema_features) | {slice_bucket_feature(name) for name in features.slice_buckets}


def check_evaluation_names(
    config: PipelineConfig, features: ResolvedFeatures, schema_features: Iterable[str]
) -> None:
    """Raises ConfigError for a threshold on an unknown metric or a slice on an unknown feature.

    Args:
        config: The loaded pipeline config.
        features: The feature spec resolved against the schema.
        schema_features: The names of the schema's features.

    Raises:
        ConfigError: Naming the config key (`evaluation.thresholds.<name>` or
            `evaluation.slices[i]`), the unknown name and the closest known one.
    """
    from lightrank.models.metrics.specs import thresholdable_metric_names

    metrics = thresholdable_metric_names()
    for name in config.evaluation.thresholds:
        if name not in metrics:
            raise _unknown("metric", f"evaluation.thresholds.{name}", name, metrics)
    sliceable = sliceable_features(features, schema_features)
    for index, keys in enumerate(config.evaluation.slices):
        if not keys:
            raise ConfigError(f"evaluation.slices[{index}] is empty; the overall slice is always computed")
        for key in keys:
            if key not in sliceable:
                raise _unknown("feature", f"evaluation.slices[{index}]", key, sliceable)


def check_config_names(config: PipelineConfig) -> ResolvedFeatures:
    """`check_evaluation_names` for a config whose schema and feature spec are local files.

    Returns:
        The feature spec resolved against the schema, read once here for the callers
        (`run_local`, `create_pipeline`) that need it next.

    Raises:
        ConfigError: As `check_evaluation_names`, or for an unreadable schema.
    """
    from lightrank.models.features import FeatureSpec, load_schema, resolve

    schema = load_schema(config.schema.path)
    features = resolve(FeatureSpec.load(config.schema.feature_spec), schema)
    check_evaluation_names(config, features, (feature.name for feature in schema.feature))
    return features
