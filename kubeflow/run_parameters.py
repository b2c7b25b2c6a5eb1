"""The values a person changes from run to run, as TFX RuntimeParameters.

On Vertex AI and Kubeflow Pipelines a RuntimeParameter is a pipeline input: it
shows up in the run form of the UI with its default, and `lightrank submit
--param NAME=VALUE` sets it. Everything else stays fixed at compile time (a new
feature list or model shape is a new compiled pipeline). The run parameters are:

- `data_root`: the directory ImportExampleGen reads (a new day of candidates);
- `train_steps`: the Trainer's step budget (0: until the data ends or early stopping);
- `learning_rate`: the optimiser's learning rate;
- `threshold_<metric>_<field>`: every numeric field of every quality gate in
  `evaluation.thresholds` (e.g. `threshold_auc_unweighted_lower_bound`).

Their defaults come from the config. Their types are checked here, when the
pipeline is compiled and when a run is submitted, so a wrong value fails on the
command line instead of in a cloud worker an hour later.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tfx.dsl.components.base import base_node
from tfx.orchestration.data_types import RuntimeParameter

from lightrank.components.run_values import (
    CHANGE_FIELDS,
    DATA_ROOT,
    LEARNING_RATE,
    THRESHOLD_FIELDS,
    TRAIN_STEPS,
    RunParameterError,
    RunParameters,
    Value,
    coerce,
    threshold_parameter_name,
)
from lightrank.pipeline.config import PipelineConfig

#: Kubeflow and Vertex accept letters, digits and `_`; lower case keeps names unambiguous.
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _parameter(name: str, ptype: type, default: Any, description: str) -> RuntimeParameter:
    if not _NAME.match(name):
        raise RunParameterError(
            f"run parameter name {name!r} is not valid: use lower-case letters, digits and '_'"
        )
    value = coerce(name, ptype, default)
    return RuntimeParameter(name=name, ptype=ptype, default=value, description=description)


def _threshold_description(metric: str, field: str, change: str | None) -> str:
    """A quality gate's run parameter in words, as the run form of the UI shows it."""
    worse = "rise above" if change == "lower_is_better" else "fall below"
    words = {
        "lower_bound": f"Quality gate: the lowest {metric} (eval split) a pushed model may have",
        "upper_bound": f"Quality gate: the highest {metric} (eval split) a pushed model may have",
        "absolute": f"Quality gate: how far {metric} may {worse} the last blessed model's (absolute)",
        "relative": f"Quality gate: how far {metric} may {worse} the last blessed model's (relative)",
    }
    return f"{words[field]} (evaluation.thresholds.{metric}.{field})"


def define_run_parameters(
    config: PipelineConfig, *, data_root: str | None, model_config: Mapping[str, Any]
) -> RunParameters:
    """The run parameters of `config`, with the config's values as defaults.

    Args:
        config: The pipeline config (thresholds, baseline comparison).
        data_root: The directory ImportExampleGen reads; None without file input.
        model_config: The Trainer's custom config (`lightrank.models.settings.model_custom_config`).

    Raises:
        RunParameterError: A default has the wrong type or range, or two thresholds
            map to the same parameter name.
    """
    training = model_config["training"]
    thresholds: dict[str, RuntimeParameter] = {}
    for metric, threshold in config.evaluation.thresholds.items():
        for field in THRESHOLD_FIELDS:
            value = getattr(threshold, field)
            if value is None or (field in CHANGE_FIELDS and not config.evaluation.compare_to_baseline):
                continue  # without a baseline a change threshold never applies: no parameter for it
            name = threshold_parameter_name(metric, field)
            if name in thresholds:
                raise RunParameterError(f"thresholds on two metrics map to the run parameter '{name}'")
            thresholds[name] = _parameter(
                name, float, value, _threshold_description(metric, field, threshold.change)
            )
    return RunParameters(
        data_root=(
            _parameter(
                DATA_ROOT,
                str,
                data_root,
                "Directory of the candidate files (gzipped TFRecords of tf.Example) to read",
            )
            if data_root is not None
            else None
        ),
        train_steps=_parameter(
            TRAIN_STEPS,
            int,
            model_config["max_steps"],
            "Most training steps (0: train until the data ends or early stopping stops it)",
        ),
        learning_rate=_parameter(
            LEARNING_RATE,
            float,
            training["learning_rate"],
            "Learning rate of the optimizer (model.training.learning_rate)",
        ),
        thresholds=thresholds,
    )


def collect_runtime_parameters(nodes: Iterable[base_node.BaseNode]) -> dict[str, RuntimeParameter]:
    """Every RuntimeParameter the components' execution properties use, by name."""
    found: dict[str, RuntimeParameter] = {}
    for node in nodes:
        for value in node.exec_properties.values():
            if isinstance(value, RuntimeParameter):
                found[value.name] = value
    return found


def _parse(name: str, ptype: type, text: str) -> Value:
    if ptype is int:
        if not re.fullmatch(r"[+-]?\d+", text.strip()):
            raise RunParameterError(f"run parameter '{name}' must be an integer, got {text!r}")
        return coerce(name, int, int(text))
    if ptype is float:
        try:
            number = float(text)
        except ValueError:
            raise RunParameterError(f"run parameter '{name}' must be a number, got {text!r}") from None
        return coerce(name, float, number)
    return coerce(name, str, text)


def parse_assignments(
    assignments: Sequence[str], parameters: Mapping[str, RuntimeParameter]
) -> dict[str, Value]:
    """Parses `NAME=VALUE` strings into typed values of known run parameters.

    Raises:
        RunParameterError: A malformed assignment, an unknown name (with the closest
            known one), or a value of the wrong type or range.
    """
    values: dict[str, Value] = {}
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        name = name.strip()
        if not sep or not name:
            raise RunParameterError(f"--param {assignment!r}: expected NAME=VALUE, e.g. learning_rate=0.01")
        if name not in parameters:
            close = difflib.get_close_matches(name, list(parameters), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known: {', '.join(sorted(parameters))}"
            raise RunParameterError(f"unknown run parameter '{name}'{hint}")
        values[name] = _parse(name, parameters[name].ptype or str, text)
    return values


def describe(parameters: Mapping[str, RuntimeParameter]) -> list[str]:
    """One line per parameter: name, type and default, for the command line."""
    width = max((len(name) for name in parameters), default=0)
    return [
        f"{name:<{width}}  {(p.ptype or str).__name__:<5}  default {p.default!r}"
        for name, p in parameters.items()
    ]
