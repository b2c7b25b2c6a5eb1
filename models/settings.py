"""From the pipeline's `model` section to the exact settings the Trainer uses.

The config names a preset and per-field overrides; this module turns them into
validated `DeepNormConfig` / `TrainingConfig` objects and into the JSON-safe
`custom_config` the TFX Trainer records in ML Metadata, so every run's effective
hyper-parameters are queryable later (spec 7.19: record every chosen value).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from models.deepnorm.config import PRESETS, DeepNormConfig, TrainingConfig
from models.features import ResolvedFeatures
from pipeline.config_loader import ConfigError

if TYPE_CHECKING:
    from pipeline.config import ModelConfig, PipelineConfig


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


def model_custom_config(config: PipelineConfig, features: ResolvedFeatures) -> dict[str, Any]:
    """The Trainer's `custom_config`: everything `run_fn` needs, JSON-safe.

    Returns:
        A dict with the resolved features, the model kind and task, the full
        DeepNorm and training settings, the hashing width shared with
        Transform and the step budget. Nothing else goes in: any change here makes
        the Trainer re-run instead of coming from the cache.
    """
    deepnorm, training = resolve_model_settings(config.model)
    return {
        "features": features.to_dict(),
        "kind": config.model.kind,
        "task": config.model.task,
        "preset": config.model.preset,
        "deepnorm": deepnorm.to_dict(),
        "training": training.to_dict(),
        "input_size_bits": deepnorm.input_size_bits,
        "max_steps": training.max_steps or 0,
    }
