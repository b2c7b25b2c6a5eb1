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

import dataclasses
import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tfx.dsl.components.base import base_node
from tfx.orchestration.data_types import RuntimeParameter

from kubeflow.errors import RunParameterError
from pipeline.config import PipelineConfig

DATA_ROOT = "data_root"
TRAIN_STEPS = "train_steps"
LEARNING_RATE = "learning_rate"
THRESHOLD_PREFIX = "threshold_"
#: Numeric threshold fields, in `ThresholdConfig` order; `change` (a direction) is structural.
THRESHOLD_FIELDS = ("lower_bound", "upper_bound", "absolute", "relative")
_CHANGE_FIELDS = ("absolute", "relative")
#: Kubeflow and Vertex accept letters, digits and `_`; lower case keeps names unambiguous.
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string"}

Value = int | float | str


def threshold_parameter_name(metric: str, field: str) -> str:
    """The run parameter of one threshold field, e.g. `threshold_auc_unweighted_lower_bound`.

    The Evaluator's executor finds a threshold's parameter with this same function,
    so the name is the only link between the pipeline input and the EvalConfig.
    """
    slug = re.sub(r"[^a-z0-9]+", "_", metric.lower()).strip("_")
    return f"{THRESHOLD_PREFIX}{slug}_{field}"


@dataclasses.dataclass(frozen=True)
class RunParameters:
    """The run parameters of one pipeline, grouped by the component that reads them.

    Attributes:
        data_root: ImportExampleGen's `input_base`; None when BigQuery is the source.
        train_steps: The Trainer's step budget.
        learning_rate: The Trainer's learning rate.
        thresholds: The Evaluator's gates, by parameter name.
    """

    data_root: RuntimeParameter | None
    train_steps: RuntimeParameter
    learning_rate: RuntimeParameter
    thresholds: dict[str, RuntimeParameter]

    def by_name(self) -> dict[str, RuntimeParameter]:
        """Every parameter by name, in the order a person reads them."""
        parameters = [self.data_root, self.train_steps, self.learning_rate, *self.thresholds.values()]
        return {p.name: p for p in parameters if p is not None}


def coerce(name: str, ptype: type, value: Any) -> Value:
    """`value` as `ptype` (an int is a valid float), or a `RunParameterError` naming `name`."""
    if ptype is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, ptype):
        raise RunParameterError(
            f"run parameter '{name}' must be {_TYPE_NAMES.get(ptype, ptype.__name__)}, got {value!r}"
        )
    if ptype is float and not math.isfinite(value):
        raise RunParameterError(f"run parameter '{name}' must be finite, got {value!r}")
    check_range(name, value)
    return value


def check_range(name: str, value: Value) -> None:
    """Rejects values no run can use; shared by the CLI and the cloud executors.

    Raises:
        RunParameterError: `learning_rate <= 0`, `train_steps < 0`, or an empty `data_root`.
    """
    if name == LEARNING_RATE and not (isinstance(value, float) and value > 0.0):
        raise RunParameterError(f"run parameter '{name}' must be > 0, got {value!r}")
    if name == TRAIN_STEPS and not (isinstance(value, int) and value >= 0):
        raise RunParameterError(f"run parameter '{name}' must be >= 0 (0: no step limit), got {value!r}")
    if name == DATA_ROOT and not (isinstance(value, str) and value.strip()):
        raise RunParameterError(f"run parameter '{name}' must name a directory, got {value!r}")


def _parameter(name: str, ptype: type, default: Any, description: str) -> RuntimeParameter:
    if not _NAME.match(name):
        raise RunParameterError(
            f"run parameter name {name!r} is not valid: use lower-case letters, digits and '_'"
        )
    value = coerce(name, ptype, default)
    return RuntimeParameter(name=name, ptype=ptype, default=value, description=description)


def define_run_parameters(
    config: PipelineConfig, *, data_root: str | None, model_config: Mapping[str, Any]
) -> RunParameters:
    """The run parameters of `config`, with the config's values as defaults.

    Args:
        config: The pipeline config (thresholds, baseline comparison).
        data_root: The directory ImportExampleGen reads; None without file input.
        model_config: The Trainer's custom config (`models.settings.model_custom_config`).

    Raises:
        RunParameterError: A default has the wrong type or range, or two thresholds
            map to the same parameter name.
    """
    training = model_config["training"]
    thresholds: dict[str, RuntimeParameter] = {}
    for metric, threshold in config.evaluation.thresholds.items():
        for field in THRESHOLD_FIELDS:
            value = getattr(threshold, field)
            if value is None or (field in _CHANGE_FIELDS and not config.evaluation.compare_to_baseline):
                continue  # without a baseline a change threshold never applies: no parameter for it
            name = threshold_parameter_name(metric, field)
            if name in thresholds:
                raise RunParameterError(f"thresholds on two metrics map to the run parameter '{name}'")
            thresholds[name] = _parameter(name, float, value, f"evaluation.thresholds.{metric}.{field}")
    return RunParameters(
        data_root=(
            _parameter(DATA_ROOT, str, data_root, "directory of the candidate TFRecord files")
            if data_root is not None
            else None
        ),
        train_steps=_parameter(
            TRAIN_STEPS, int, model_config["max_steps"], "training steps (0: until early stopping)"
        ),
        learning_rate=_parameter(LEARNING_RATE, float, training["learning_rate"], "learning rate"),
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
