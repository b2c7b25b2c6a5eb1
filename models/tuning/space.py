"""The `tuning` section: which DeepNorm and training settings TFX's Tuner searches, and how long.

A search space names settings of `DeepNormConfig` and `TrainingConfig` by their field names
(`learning_rate`, `optimizer`, `sparse_embedding_size`, `dropout`, ...): the same names the
config's `model.deepnorm` and `model.training` overrides use, so a tuned value means exactly
what the same value written by hand would. Each entry is either a list of choices or a range
`{min, max, log, step}`. Every choice and both ends of every range are validated against the
setting itself when the config loads, so an impossible search space fails in one line before
any data is read, not in the middle of the third trial (docs/configuration.md, `tuning`).

Settings that must agree with other components are not tunable: the hashing width is shared
with Transform, the task and missing marker with the data, and the step budget and seed belong
to the search itself (`steps_per_trial`, `seed`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, StrictBool, StrictInt, Tag, ValidationError, model_validator

from lightrank.models.config_model import ConfigModel
from lightrank.models.deepnorm.config import DeepNormConfig, TrainingConfig

#: Fields that the search may not change (see the module docstring).
FIXED_SETTINGS = frozenset(
    {"task", "input_size_bits", "missing_value", "trainable_regexes", "max_steps", "seed"}
)
#: Every tunable setting, by the settings model it belongs to.
TUNABLE: dict[str, type[ConfigModel]] = {
    name: settings
    for settings in (DeepNormConfig, TrainingConfig)
    for name in settings.model_fields
    if name not in FIXED_SETTINGS
}

Choice = StrictBool | StrictInt | float | str


class SearchRange(ConfigModel):
    """A numeric range: integers for integer settings, floats otherwise.

    Attributes:
        min: The smallest value tried.
        max: The largest value tried; must be greater than `min`.
        log: Sample evenly in log space (learning rates, widths); needs `min > 0`.
        step: Only values `min + k * step` (not with `log`); None samples floats continuously and
            integers by 1.
    """

    min: StrictInt | float
    max: StrictInt | float
    log: bool = False
    step: Annotated[float, Field(gt=0.0)] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> SearchRange:
        if not self.min < self.max:
            raise ValueError(f"the range is empty: min {self.min} must be below max {self.max}")
        if self.log and self.min <= 0:
            raise ValueError(f"a log range needs min > 0, got {self.min}")
        if self.log and self.step is not None:
            # KerasTuner reads a log range's step as a factor, not as the `min + k * step` above.
            raise ValueError("a range takes 'log' or 'step', not both")
        return self


def _values_kind(value: Any) -> str:
    """Tells a range (a mapping) from a list of choices, so an error speaks of the one meant."""
    return "range" if isinstance(value, Mapping | SearchRange) else "choices"


#: One setting's search values: a list of choices or a `SearchRange`.
Values = Annotated[
    Annotated[list[Choice], Tag("choices")] | Annotated[SearchRange, Tag("range")],
    Discriminator(_values_kind),
]


class TuningConfig(ConfigModel):
    """The Tuner's search: its space, its algorithm and its budget.

    Attributes:
        space: Setting name -> list of choices or `SearchRange`; at least one setting.
        trials: How many settings are trained and compared (the oracle's `max_trials`).
        steps_per_trial: Training steps of each trial; the Trainer then trains the best
            settings with the preset's own budget.
        algorithm: `bayesian` (KerasTuner's Gaussian-process oracle: later trials learn from
            earlier ones) or `random`.
        seed: Seeds the oracle and every trial, so a search can be repeated.
    """

    space: Annotated[dict[str, Values], Field(min_length=1)]
    trials: Annotated[int, Field(ge=1)] = 10
    steps_per_trial: Annotated[int, Field(ge=1)] = 1000
    algorithm: Literal["bayesian", "random"] = "bayesian"
    seed: int = 0

    @model_validator(mode="after")
    def _known_and_valid(self) -> TuningConfig:
        for name, values in self.space.items():
            if name not in TUNABLE:
                raise ValueError(_unknown(name))
            if isinstance(values, SearchRange):
                kind = type(setting_value(name, values.min))
                if kind not in (int, float):
                    raise ValueError(f"'{name}' is not numeric: list its choices instead of a range")
                setting_value(name, values.max)
                if kind is int and values.step is not None and not float(values.step).is_integer():
                    raise ValueError(f"'{name}' is an integer: its range needs an integer step")
                continue
            if not values:
                raise ValueError(f"'{name}' lists no choices")
            repeated = sorted({str(value) for value in values if values.count(value) > 1})
            if repeated:
                raise ValueError(f"'{name}' lists {', '.join(repeated)} more than once")
            for value in values:
                setting_value(name, value)
        return self


def _unknown(name: str) -> str:
    if name in FIXED_SETTINGS:
        return f"'{name}' cannot be tuned: it is fixed by the data, Transform or the search budget"
    close = difflib.get_close_matches(name, list(TUNABLE), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f"; tunable: {', '.join(sorted(TUNABLE))}"
    return f"unknown hyperparameter '{name}'{hint}"


def setting_value(name: str, value: Any) -> Any:
    """`value` as the setting `name` holds it (e.g. `1` as `1.0` for a float setting).

    Raises:
        ValueError: The setting refuses the value; the message names both.
    """
    settings = TUNABLE[name]
    try:
        return getattr(settings.model_validate({name: value}), name)
    except ValidationError as error:
        reason = error.errors()[0]["msg"]
        raise ValueError(f"'{name}' cannot be {value!r}: {reason}") from None


def apply_values(
    values: Mapping[str, Any], deepnorm: DeepNormConfig, training: TrainingConfig
) -> tuple[DeepNormConfig, TrainingConfig]:
    """The settings with tuned `values` on top, each model validated again as a whole.

    Names the search does not know (KerasTuner's own bookkeeping, e.g. `tuner/epochs`) are
    refused rather than ignored: a best-hyperparameters artifact from another search space
    must not be applied half.

    Raises:
        ValueError: A name that is not a tunable setting, or a value the setting refuses.
    """
    unknown = sorted(name for name in values if name not in TUNABLE)
    if unknown:
        raise ValueError(f"the tuned hyperparameters name unknown settings {unknown}")
    updates = {name: setting_value(name, value) for name, value in values.items()}
    deepnorm = DeepNormConfig.model_validate(
        {**deepnorm.model_dump(), **{k: v for k, v in updates.items() if TUNABLE[k] is DeepNormConfig}}
    )
    training = TrainingConfig.model_validate(
        {**training.model_dump(), **{k: v for k, v in updates.items() if TUNABLE[k] is TrainingConfig}}
    )
    return deepnorm, training
