"""The names, types and ranges of the values a person changes from run to run.

On Vertex AI and Kubeflow Pipelines these are pipeline inputs (TFX RuntimeParameters, defined
by `lightrank.kubeflow.run_parameters`); the run-time Trainer and Evaluator executors
(`runtime_trainer`, `runtime_evaluator`) read them back by these names and check them with the
same `coerce`, so the command line and a cloud worker accept exactly the same values.
`RunParameters` is what a runner hands to `create_pipeline`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from tfx.orchestration.data_types import RuntimeParameter

from lightrank.errors import UserError


class RunParameterError(UserError):
    """A run parameter value has the wrong name, type or range."""


DATA_ROOT = "data_root"
TRAIN_STEPS = "train_steps"
LEARNING_RATE = "learning_rate"
THRESHOLD_PREFIX = "threshold_"
#: Numeric threshold fields, in `ThresholdConfig` order; `change` (a direction) is structural.
THRESHOLD_FIELDS = ("lower_bound", "upper_bound", "absolute", "relative")
CHANGE_FIELDS = ("absolute", "relative")
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
