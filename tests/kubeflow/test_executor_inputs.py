"""Run parameter values as Vertex AI / Kubeflow hand them to our executors.

In a pipeline task, TFX's container entry point (`kubeflow_v2_run_executor`)
parses the ExecutorInput JSON the service sends and turns its parameter values
into execution properties with `parse_execution_properties`, using the
component's inputs spec baked into the compiled executor's arguments. The
service sends every number as a JSON number (a protobuf `number_value`, i.e. a
float: `500.0`), so an integer parameter is only an int again if that inputs
spec says NUMBER_INTEGER. These tests take the compiled Trainer and Evaluator of
the Vertex example, build the ExecutorInput a run with new values would carry,
and feed TFX's parse into `apply_training_values` / `apply_threshold_values`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import tensorflow_model_analysis as tfma
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils
from tfx.proto import trainer_pb2
from tfx.utils import json_utils, proto_utils

from lightrank.components.run_values import THRESHOLD_PREFIX
from lightrank.components.runtime_evaluator import apply_threshold_values
from lightrank.components.runtime_trainer import apply_training_values


def _execution_properties(spec: dict, task: str, run_values: dict[str, Any]) -> dict[str, Any]:
    """What TFX's entry point passes to the executor of `task` in a run with `run_values`."""
    task_spec = spec["root"]["dag"]["tasks"][task]
    values = {}
    for name, binding in task_spec["inputs"]["parameters"].items():
        if "componentInputParameter" in binding:
            values[name] = run_values[binding["componentInputParameter"]]
        else:
            values[name] = binding["runtimeValue"]["constant"]
    # The wire format: JSON, so 500.0 is a number like any other.
    executor_input = json_format.Parse(
        json.dumps({"inputs": {"parameterValues": values}}),
        pipeline_spec_pb2.ExecutorInput(),
        ignore_unknown_fields=True,
    )
    label = spec["components"][task_spec["componentRef"]["name"]]["executorLabel"]
    args = spec["deploymentSpec"]["executors"][label]["container"]["args"]
    inputs_spec = json_format.Parse(
        args[args.index("--json_serialized_inputs_spec_args") + 1],
        pipeline_spec_pb2.ComponentInputsSpec(),
        ignore_unknown_fields=True,
    )
    return kubeflow_v2_entrypoint_utils.parse_execution_properties(
        executor_input.inputs.parameter_values, executor_input.inputs.parameters, inputs_spec
    )


def test_a_float_step_count_from_vertex_reaches_the_trainer_as_an_int(vertex_example):
    properties = _execution_properties(
        vertex_example.pipeline_spec, "Trainer", {"train_steps": 500.0, "learning_rate": 0.02}
    )
    assert properties["train_steps"] == 500 and type(properties["train_steps"]) is int
    assert properties["learning_rate"] == 0.02 and type(properties["learning_rate"]) is float

    applied = apply_training_values(properties)
    train_args = trainer_pb2.TrainArgs()
    proto_utils.json_to_proto(applied["train_args"], train_args)
    assert train_args.num_steps == 500
    custom_config = json_utils.loads(applied["custom_config"])
    assert custom_config["max_steps"] == 500 and type(custom_config["max_steps"]) is int
    assert custom_config["training"]["learning_rate"] == 0.02
    assert '"max_steps": 500,' in applied["custom_config"]  # not 500.0: run_fn reads an int
    # What the Vertex AI custom job receives is unchanged apart from the two values.
    assert custom_config["ai_platform_training_args"]["project"] == "my-project"
    assert applied["run_fn"] == "lightrank.models.trainer.run_fn"


def test_a_whole_number_learning_rate_stays_a_float(vertex_example):
    properties = _execution_properties(
        vertex_example.pipeline_spec, "Trainer", {"train_steps": 0.0, "learning_rate": 1.0}
    )
    custom_config = json_utils.loads(apply_training_values(properties)["custom_config"])
    assert custom_config["training"]["learning_rate"] == 1.0
    assert type(custom_config["training"]["learning_rate"]) is float
    assert custom_config["max_steps"] == 0  # 0: no step limit


def _gates(eval_config_json: str) -> dict[str, tfma.MetricThreshold]:
    config = tfma.EvalConfig()
    proto_utils.json_to_proto(eval_config_json, config)
    return {
        json.loads(metric.config)["name"]: per_slice.threshold
        for spec in config.metrics_specs
        for metric in spec.metrics
        for per_slice in metric.per_slice_thresholds
    }


def test_a_threshold_from_vertex_replaces_the_compiled_gate(vertex_example):
    run_values = {
        "threshold_auc_unweighted_lower_bound": 0.75,
        "threshold_rce_unweighted_lower_bound": 1.0,  # a whole number: still a float on the wire
        "threshold_rce_unweighted_absolute": -0.25,
    }
    properties = _execution_properties(vertex_example.pipeline_spec, "Evaluator", run_values)
    thresholds = {name: value for name, value in properties.items() if name.startswith(THRESHOLD_PREFIX)}
    assert thresholds == run_values
    assert all(type(value) is float for value in thresholds.values())

    before = _gates(properties["eval_config"])
    assert before["auc_unweighted"].value_threshold.lower_bound.value == pytest.approx(0.6)
    after = _gates(apply_threshold_values(properties["eval_config"], thresholds))
    assert after["auc_unweighted"].value_threshold.lower_bound.value == pytest.approx(0.75)
    assert after["rce_unweighted"].value_threshold.lower_bound.value == pytest.approx(1.0)
    assert after["rce_unweighted"].change_threshold.absolute.value == pytest.approx(-0.25)
