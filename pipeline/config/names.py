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
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from lightrank.errors import ConfigError

if TYPE_CHECKING:
    from lightrank.models.features import ResolvedFeatures
    from lightrank.pipeline.config import PipelineConfig


#: The grouped metrics that take N (and K) in their name (`models/metrics/ranking.py`).
_GROUPED_NAME = re.compile(r"(?P<kind>cgr|recall|expected_loss)_atLight_(?P<n>\d+)(?:_atHeavy_(?P<k>\d+))?")


def _unknown(kind: str, key: str, name: str, known: Iterable[str]) -> ConfigError:
    known = sorted(set(known))
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known {kind}s: {', '.join(known)}"
    return ConfigError(f"{key}: unknown {kind} {name!r}; {hint}")


def _unconfigured_grouped(name: str, light_n: Sequence[int], heavy_k: Sequence[int]) -> str | None:
    """Why a well-formed grouped metric name is not computed, or None if `name` is not one.

    `recall_atLight_10_atHeavy_3` is a valid name that exists only when 10 and 3 are in
    `evaluation.grouped`; "did you mean recall_atLight_100_atHeavy_3" would mislead.
    """
    match = _GROUPED_NAME.fullmatch(name)
    if not match or (match["kind"] == "expected_loss") != (match["k"] is None):
        return None
    n, k = int(match["n"]), int(match["k"]) if match["k"] else None
    missing = [f"{n} to evaluation.grouped.light_n {list(light_n)}"] if n not in light_n else []
    if k is not None and k not in heavy_k:
        missing.append(f"{k} to evaluation.grouped.heavy_k {list(heavy_k)}")
    if missing:
        return f"this grouped metric is not computed; add {' and '.join(missing)}"
    if match["kind"] == "recall" and k is not None and k > n:
        return f"recall exists only for N >= K (the light top {n} cannot hold the heavy top {k})"
    return None


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
            `evaluation.slices[i]`), the unknown name and the closest known one; for a
            grouped metric at an N or K that `evaluation.grouped` does not list, which to add.
    """
    from lightrank.models.metrics.specs import thresholdable_metric_names

    grouped = config.evaluation.grouped
    metrics = thresholdable_metric_names(grouped.light_n, grouped.heavy_k)
    for name in config.evaluation.thresholds:
        if name not in metrics:
            unconfigured = _unconfigured_grouped(name, grouped.light_n, grouped.heavy_k)
            if unconfigured:
                raise ConfigError(f"evaluation.thresholds.{name}: {unconfigured}")
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
    if config.model.task not in features.labels:
        raise _unknown(
            "task (a key of the feature spec's labels)", "model.task", config.model.task, features.labels
        )
    check_evaluation_names(config, features, (feature.name for feature in schema.feature))
    return features
