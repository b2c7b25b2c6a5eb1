"""The Evaluator with its quality gates as run parameters, and a push decision Vertex can read.

Two things the standard Evaluator cannot do on Vertex AI / Kubeflow Pipelines:

1. Take a threshold from a pipeline input: the gates live inside `eval_config`
   (one proto), and a RuntimeParameter replaces a whole execution property or
   nothing. `RuntimeEvaluator` adds one float execution property per threshold
   field (`threshold_<metric>_<field>`, see `lightrank.kubeflow.run_parameters`), and its
   executor writes their values into the EvalConfig before TFX's executor runs.
2. Say "this is a new model" in a form the Pusher's condition can test there.
   Locally the pipeline compares the blessing's `current_model_id` with its
   `baseline_model_id`; on Vertex those become artifact names, and without a
   baseline (the first run) `baseline_model_id` is absent, which a condition
   cannot compare. The executor therefore also writes `differs_from_baseline`
   (1 or 0) on every blessing.

Its executor also evaluates a model that is its own baseline once instead of twice
(`lightrank.components.self_comparison`), so the local pipeline uses this component too,
without run parameters: one executor decides every blessing. Its `module_path` names
`lightrank.components.eval_extractors`, whose `custom_extractors` TFX's executor uses instead
of TFMA's defaults (the same extractors without the features no metric reads).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, ClassVar

import tensorflow_model_analysis as tfma
from tfx import types
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.orchestration.data_types import RuntimeParameter
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import json_utils, proto_utils

from lightrank.components import eval_extractors
from lightrank.components.run_values import (
    THRESHOLD_PREFIX,
    RunParameterError,
    coerce,
    threshold_parameter_name,
)
from lightrank.components.self_comparison import baseline_is_candidate, evaluate_against_itself

EVAL_CONFIG = standard_component_specs.EVAL_CONFIG_KEY
#: Blessing custom property: 1 if the evaluated model is not the resolved baseline model.
DIFFERS_FROM_BASELINE = "differs_from_baseline"
_VALUE_FIELDS = ("lower_bound", "upper_bound")
_CHANGE_FIELDS = ("absolute", "relative")


def _set_fields(metric: str, threshold: Any, values: Mapping[str, float], used: set[str]) -> None:
    """Overwrites the fields of one `tfma.MetricThreshold` that have a run parameter."""
    for group, fields in (("value_threshold", _VALUE_FIELDS), ("change_threshold", _CHANGE_FIELDS)):
        if not threshold.HasField(group):
            continue
        for field in fields:
            name = threshold_parameter_name(metric, field)
            if name in values:
                getattr(getattr(threshold, group), field).value = values[name]
                used.add(name)


def apply_threshold_values(eval_config_json: str, values: Mapping[str, float]) -> str:
    """The EvalConfig (TFX's JSON form) with the run's threshold values written in.

    A threshold is found by the `name` in its metric's config, the way
    `lightrank.models.metrics.specs` attaches it, whether it sits on the metric, per slice,
    or in a MetricsSpec's `thresholds` map.

    Raises:
        RunParameterError: A value is not a finite number, or a parameter matches no
            threshold in the EvalConfig (the gates and the parameters drifted apart:
            silently gating on the compiled value instead would be wrong).
    """
    values = {name: coerce(name, float, value) for name, value in values.items()}
    config = tfma.EvalConfig()
    proto_utils.json_to_proto(eval_config_json, config)
    used: set[str] = set()
    for spec in config.metrics_specs:
        for metric_config in spec.metrics:
            metric = json.loads(metric_config.config or "{}").get("name") or metric_config.class_name
            if metric_config.HasField("threshold"):
                _set_fields(metric, metric_config.threshold, values, used)
            for per_slice in metric_config.per_slice_thresholds:
                _set_fields(metric, per_slice.threshold, values, used)
        for metric, threshold in spec.thresholds.items():
            _set_fields(metric, threshold, values, used)
        for metric, per_slice_list in spec.per_slice_thresholds.items():
            for per_slice in per_slice_list.thresholds:
                _set_fields(metric, per_slice.threshold, values, used)
    unused = sorted(set(values) - used)
    if unused:
        raise RunParameterError(f"run parameters {unused} match no threshold in the Evaluator's eval_config")
    return proto_utils.proto_to_json(config)


def differs_from_baseline(input_dict: Mapping[str, list[types.Artifact]]) -> bool:
    """True unless the evaluated model is the resolved baseline (a re-run of a cached Trainer)."""
    return not baseline_is_candidate(input_dict)


class RuntimeEvaluatorExecutor(evaluator_executor.Executor):
    """TFX's Evaluator executor: run-time thresholds, one pass for its own baseline, the new-model mark."""

    def Do(  # noqa: N802  (TFX's executor interface)
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        """Evaluates with the run's gates (once when the model is the baseline), then marks the blessing."""
        properties = copy.copy(exec_properties)
        values = {
            name: properties.pop(name) for name in list(properties) if name.startswith(THRESHOLD_PREFIX)
        }
        properties[EVAL_CONFIG] = apply_threshold_values(properties[EVAL_CONFIG], values)
        if baseline_is_candidate(input_dict):
            evaluate_against_itself(super().Do, input_dict, output_dict, properties)
        else:
            super().Do(input_dict, output_dict, properties)
        blessing = artifact_utils.get_single_instance(output_dict[standard_component_specs.BLESSING_KEY])
        blessing.set_int_custom_property(DIFFERS_FROM_BASELINE, int(differs_from_baseline(input_dict)))


def _spec_class(threshold_names: tuple[str, ...]) -> type[standard_component_specs.EvaluatorSpec]:
    """EvaluatorSpec plus one float execution property per threshold parameter."""

    class RuntimeEvaluatorSpec(standard_component_specs.EvaluatorSpec):
        PARAMETERS: ClassVar[dict[str, ExecutionParameter]] = {
            **standard_component_specs.EvaluatorSpec.PARAMETERS,
            **{name: ExecutionParameter(type=float) for name in threshold_names},
        }

    return RuntimeEvaluatorSpec


class RuntimeEvaluator(base_beam_component.BaseBeamComponent):
    """A TFX Evaluator whose thresholds may be run inputs, and that never scores a model twice.

    Give it the id `Evaluator` (`.with_id("Evaluator")`) so runs read the same in every UI.
    Without thresholds it is the local pipeline's Evaluator: the stock one's inputs, outputs
    and gates, with this executor (see the module docstring).
    """

    SPEC_CLASS = standard_component_specs.EvaluatorSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(RuntimeEvaluatorExecutor)

    def __init__(
        self,
        *,
        examples: types.BaseChannel,
        model: types.BaseChannel,
        eval_config: tfma.EvalConfig,
        thresholds: Mapping[str, RuntimeParameter | float],
        example_splits: list[str],
        baseline_model: types.BaseChannel | None = None,
    ) -> None:
        """Builds the component.

        Args:
            examples: The raw examples to evaluate on.
            model: The model to evaluate.
            eval_config: The EvalConfig with the compiled thresholds.
            thresholds: One value per threshold field, by `threshold_parameter_name`; empty
                for the compiled gates (no run parameters).
            example_splits: The splits to evaluate, e.g. `["eval"]`.
            baseline_model: The last blessed model, for change thresholds.
        """
        for name in thresholds:
            if not name.startswith(THRESHOLD_PREFIX):
                raise ValueError(f"threshold parameter {name!r} must start with {THRESHOLD_PREFIX!r}")
        spec = _spec_class(tuple(thresholds))(
            examples=examples,
            model=model,
            baseline_model=baseline_model,
            eval_config=eval_config,
            example_splits=json_utils.dumps(example_splits),
            fairness_indicator_thresholds=json_utils.dumps(None),
            # TFX's executor takes `custom_extractors` from here: TFMA's extractors with the
            # features no metric reads dropped before the per-example stages.
            module_path=eval_extractors.__name__,
            evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing),
            **thresholds,
        )
        super().__init__(spec=spec)
