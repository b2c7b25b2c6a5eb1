"""From the pipeline's `model` section to the exact settings the Trainer uses.

The config names a preset and per-field overrides; this module turns them into
validated `DeepNormConfig` / `TrainingConfig` objects and into the JSON-safe
`custom_config` the TFX Trainer records in ML Metadata, so every run's effective
hyper-parameters are queryable later (spec 7.19: record every chosen value).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from lightrank.errors import ConfigError
from lightrank.models.deepnorm.config import PRESETS, DeepNormConfig, TrainingConfig
from lightrank.models.features import ResolvedFeatures

#: The original's three tasks: which label the model learns (docs/model.md).
TaskName = Literal["Sent", "HeavyRankPosition", "HeavyRankProbability"]


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Which model the Trainer builds and the task it learns.

    Attributes:
        kind: `deepnorm` (the light ranker) or `logistic` (the baseline).
        task: The original's task: which label the model learns (spec 1.4).
        preset: DeepNorm starting point: `original` (the original's defaults
            exactly) or `default` (the best settings measured here).
        deepnorm: Overrides of individual DeepNorm hyper-parameters.
        training: Overrides of individual training settings (optimiser, learning
            rate, batch size, steps, early stopping).
        warm_start: Start from the latest trained model of this pipeline (a
            resolver: local runs and Vertex AI, not open-source Kubeflow Pipelines).
        warm_start_from: Start from this exported model instead: a pushed
            version (`<serving_dir>/<timestamp>`) or a Trainer's model directory,
            local or `gs://`. Imported with a TFX Importer, which every runner
            supports, open-source Kubeflow Pipelines included.
    """

    kind: Literal["deepnorm", "logistic"] = "deepnorm"
    task: TaskName = "HeavyRankPosition"
    preset: Literal["default", "original"] = "default"
    deepnorm: dict[str, Any] = dataclasses.field(default_factory=dict)
    training: dict[str, Any] = dataclasses.field(default_factory=dict)
    warm_start: bool = False
    warm_start_from: str | None = None

    def __post_init__(self) -> None:
        if self.warm_start and self.warm_start_from:
            raise ValueError(
                "model.warm_start and model.warm_start_from exclude each other: the first takes the "
                "latest model of this pipeline, the second a model you name"
            )
        if self.warm_start_from is not None and not self.warm_start_from.strip():
            raise ValueError(
                "model.warm_start_from is empty: name an exported model directory or leave it out"
            )


def resolve_model_settings(model: ModelConfig) -> tuple[DeepNormConfig, TrainingConfig]:
    """The preset with the config's overrides applied, validated.

    Raises:
        ConfigError: An override names an unknown field or has an invalid value.
    """
    deepnorm, training = PRESETS[model.preset]
    try:
        deepnorm = DeepNormConfig.from_dict({**deepnorm.to_dict(), **model.deepnorm, "task": model.task})
    except (TypeError, ValueError) as error:
        raise ConfigError(f"model.deepnorm: {error}") from error
    try:
        training = TrainingConfig.from_dict({**training.to_dict(), **model.training})
    except (TypeError, ValueError) as error:
        raise ConfigError(f"model.training: {error}") from error
    return deepnorm, training


def validate_model_config(model: ModelConfig, *, source: str = "") -> None:
    """Fails at config load, not in the Trainer, on an impossible model setting."""
    try:
        resolve_model_settings(model)
    except ConfigError as error:
        raise ConfigError(f"{error}" + (f" ({source})" if source else "")) from error


def model_custom_config(model: ModelConfig, features: ResolvedFeatures) -> dict[str, Any]:
    """The Trainer's `custom_config`: everything `run_fn` needs, JSON-safe.

    Returns:
        A dict with the resolved features, the model kind and task, the full
        DeepNorm and training settings, the hashing width shared with
        Transform and the step budget. Nothing else goes in: any change here makes
        the Trainer re-run instead of coming from the cache.
    """
    deepnorm, training = resolve_model_settings(model)
    return {
        "features": features.to_dict(),
        "kind": model.kind,
        "task": model.task,
        "preset": model.preset,
        "deepnorm": deepnorm.to_dict(),
        "training": training.to_dict(),
        "input_size_bits": deepnorm.input_size_bits,
        "max_steps": training.max_steps or 0,
    }
