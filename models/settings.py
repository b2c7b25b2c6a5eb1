"""From the pipeline's `model` section to the exact settings the Trainer uses.

The config names a preset and per-field overrides of it. The overrides are typed by the
settings models themselves (`DeepNormConfig`, `TrainingConfig`), so a misspelt or impossible
DeepNorm or training key fails when the config loads, not in the Trainer. This module applies
them to the preset and builds the JSON-safe `custom_config` the TFX Trainer records in ML
Metadata, so every run's effective hyper-parameters are queryable later
(docs/configuration.md, "Sections"; docs/model.md, "Presets").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, SerializerFunctionWrapHandler, create_model, model_serializer, model_validator

from lightrank.models.calibration import CalibrationName
from lightrank.models.config_model import ConfigModel
from lightrank.models.deepnorm.config import (
    DEFAULT_TASK,
    PRESETS,
    DeepNormConfig,
    PresetName,
    TaskName,
    TrainingConfig,
)
from lightrank.models.features import ResolvedFeatures
from lightrank.models.scaling import PRESET_SCALING

_Settings = TypeVar("_Settings", DeepNormConfig, TrainingConfig)


class Overrides(ConfigModel):
    """Per-field overrides of a settings model: only the keys the config sets count.

    Every field defaults to None, read as "the preset's value". A key written as `null` is an
    override too (`max_steps: null` trains until the data ends, whatever the preset says), so
    what counts is which keys were set, not their values: equality, dumps and thus the config
    digest hold exactly the keys the config wrote.
    """

    @model_serializer(mode="wrap")
    def _set_keys_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {key: value for key, value in handler(self).items() if key in self.model_fields_set}

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Overrides)
            and type(other) is type(self)
            and self.model_dump() == other.model_dump()
        )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        return ((key, value) for key, value in super().__repr_args__() if key in self.model_fields_set)

    def apply(self, settings: _Settings) -> _Settings:
        """`settings` with these overrides, validated again as a whole."""
        return type(settings).model_validate({**settings.model_dump(), **self.model_dump()})


def _overrides_of(
    settings: type[ConfigModel], name: str, *, without: tuple[str, ...] = ()
) -> type[Overrides]:
    """An `Overrides` model `name` with every field of `settings` (same types and bounds), all optional.

    `name` must be the module attribute it is bound to, so the model pickles like any other section.
    """
    fields: dict[str, Any] = {
        key: (Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation, None)
        for key, field in settings.model_fields.items()
        if key not in without
    }
    return create_model(
        name,
        __base__=Overrides,
        __module__=__name__,
        __doc__=f"Overrides of individual `{settings.__name__}` fields, each defaulting to the preset's.",
        **fields,
    )


#: `model.deepnorm`: the task is not among them, `model.task` is its one home.
DeepNormOverrides = _overrides_of(DeepNormConfig, "DeepNormOverrides", without=("task",))
#: `model.training`.
TrainingOverrides = _overrides_of(TrainingConfig, "TrainingOverrides")


class ModelConfig(ConfigModel):
    """Which model the Trainer builds and the task it learns.

    Attributes:
        kind: `deepnorm` (the light ranker) or `logistic` (the baseline).
        task: The original's task: which label the model learns (docs/model.md, "Data contract").
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
        calibration: `platt` fits `sigmoid(a * logit + b)` on the eval split after training and
            serves the calibrated prediction (`lightrank.models.calibration`); `none` serves
            `sigmoid(logit)`; unset, the preset's (`PRESET_CALIBRATION`, `resolve_calibration`).
        scale_with_data: Let the preset's settings for large train splits apply when the train
            split is large (`lightrank.models.scaling.PRESET_SCALING`; only "default" has them:
            wider id embeddings from 150,000 train candidates on). `false` keeps the preset's
            settings whatever the data; a setting the config overrides is never scaled.
    """

    kind: Literal["deepnorm", "logistic"] = "deepnorm"
    task: TaskName = DEFAULT_TASK
    preset: PresetName = "default"
    deepnorm: DeepNormOverrides = Field(default_factory=DeepNormOverrides)  # type: ignore[valid-type]
    training: TrainingOverrides = Field(default_factory=TrainingOverrides)  # type: ignore[valid-type]
    warm_start: bool = False
    warm_start_from: str | None = None
    calibration: CalibrationName | None = None
    scale_with_data: bool = True

    @model_validator(mode="after")
    def _one_warm_start(self) -> ModelConfig:
        if self.warm_start and self.warm_start_from:
            raise ValueError(
                "model.warm_start and model.warm_start_from exclude each other: the first takes the "
                "latest model of this pipeline, the second a model you name"
            )
        if self.warm_start_from is not None and not self.warm_start_from.strip():
            raise ValueError(
                "model.warm_start_from is empty: name an exported model directory or leave it out"
            )
        return self


#: Each preset's calibration when the config sets none. "default" stops early on NRCE, which
#: keeps the best ranking even when the mean prediction has drifted off the eval rate; Platt
#: scaling then puts that level back before serving, so the Evaluator's RCE gates judge a
#: calibrated model. "original" and "one_bag" stop on RCE and serve `sigmoid(logit)`.
PRESET_CALIBRATION: dict[PresetName, CalibrationName] = {
    "original": "none",
    "default": "platt",
    "one_bag": "none",
}


def resolve_calibration(model: ModelConfig) -> CalibrationName:
    """The calibration the Trainer applies: the config's `model.calibration`, else the preset's."""
    return model.calibration if model.calibration is not None else PRESET_CALIBRATION[model.preset]


def resolve_model_settings(model: ModelConfig) -> tuple[DeepNormConfig, TrainingConfig]:
    """The preset with the config's overrides and task applied."""
    deepnorm, training = PRESETS[model.preset]
    deepnorm = model.deepnorm.apply(deepnorm.model_copy(update={"task": model.task}))
    return deepnorm, model.training.apply(training)


def data_scaling_config(model: ModelConfig) -> dict[str, Any] | None:
    """The preset's `DataScaling` for the Trainer, without the settings the config overrides.

    None when it cannot change anything: the model is not DeepNorm, the preset has no rule,
    `model.scale_with_data` is off, or the config sets every setting the rule would.
    """
    rule = PRESET_SCALING.get(model.preset)
    if rule is None or not model.scale_with_data or model.kind != "deepnorm":
        return None
    overridden = model.deepnorm.model_fields_set | model.training.model_fields_set
    settings = {key: value for key, value in rule.settings.items() if key not in overridden}
    if not settings:
        return None
    return {**rule.to_dict(), "settings": settings}


def model_custom_config(model: ModelConfig, features: ResolvedFeatures) -> dict[str, Any]:
    """The Trainer's `custom_config`: everything `run_fn` needs, JSON-safe.

    Returns:
        A dict with the resolved features, the model kind and task, the full
        DeepNorm and training settings, the hashing width shared with
        Transform and the step budget; `calibration` only when it is on and `data_scaling`
        only when the preset has a rule that can apply (`data_scaling_config`), so the
        `original` preset keeps its Trainer cache. Nothing else goes in: any change here makes
        the Trainer re-run instead of coming from the cache.
    """
    deepnorm, training = resolve_model_settings(model)
    calibration_name = resolve_calibration(model)
    calibration = {"calibration": calibration_name} if calibration_name != "none" else {}
    scaling = data_scaling_config(model)
    data_scaling = {"data_scaling": scaling} if scaling is not None else {}
    return {
        "features": features.to_dict(),
        "kind": model.kind,
        "task": model.task,
        "preset": model.preset,
        "deepnorm": deepnorm.model_dump(mode="json"),
        "training": training.model_dump(mode="json"),
        "input_size_bits": deepnorm.input_size_bits,
        "max_steps": training.max_steps or 0,
        **calibration,
        **data_scaling,
    }
