"""The Trainer with its step budget and learning rate as run parameters.

TFX's Trainer takes the step budget inside `train_args` (a proto) and our
hyper-parameters inside `custom_config` (a JSON dict); a RuntimeParameter can
replace neither field in part. `RuntimeTrainer` is the standard Trainer spec with
two more execution properties, `train_steps` and `learning_rate`, which Vertex
and Kubeflow bind to pipeline inputs. Its executors fold them into `train_args`
and `custom_config` and then run TFX's own Trainer executor unchanged, locally or
as a Vertex AI custom job, so `run_fn` sees an ordinary Trainer invocation.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.extensions.google_cloud_ai_platform.trainer import executor as vertex_trainer_executor
from tfx.orchestration.data_types import RuntimeParameter
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import json_utils, proto_utils

from lightrank.components.run_values import LEARNING_RATE, TRAIN_STEPS, coerce

TRAIN_ARGS = standard_component_specs.TRAIN_ARGS_KEY
CUSTOM_CONFIG = standard_component_specs.CUSTOM_CONFIG_KEY


class RuntimeTrainerSpec(standard_component_specs.TrainerSpec):
    """TrainerSpec plus the two run parameters."""

    PARAMETERS: ClassVar[dict[str, ExecutionParameter]] = {
        **standard_component_specs.TrainerSpec.PARAMETERS,
        TRAIN_STEPS: ExecutionParameter(type=int),
        LEARNING_RATE: ExecutionParameter(type=float),
    }


def apply_training_values(exec_properties: dict[str, Any]) -> dict[str, Any]:
    """Folds `train_steps` and `learning_rate` into `train_args` and `custom_config`.

    Args:
        exec_properties: The Trainer's execution properties as the orchestrator
            resolved them (run parameters already bound to values).

    Returns:
        A copy without the two run parameters, with `train_args.num_steps` set to
        `train_steps` and `custom_config["training"]["learning_rate"]` set to the
        learning rate, so TFX's executor and `run_fn` need to know nothing new.

    Raises:
        RunParameterError: A value entered in the Vertex or Kubeflow UI has the
            wrong type or range (the CLI checks the same before submitting).
    """
    properties = copy.copy(exec_properties)
    steps = coerce(TRAIN_STEPS, int, properties.pop(TRAIN_STEPS))
    learning_rate = coerce(LEARNING_RATE, float, properties.pop(LEARNING_RATE))

    train_args = trainer_pb2.TrainArgs()
    proto_utils.json_to_proto(properties.get(TRAIN_ARGS) or "{}", train_args)
    train_args.num_steps = steps
    properties[TRAIN_ARGS] = proto_utils.proto_to_json(train_args)

    custom_config = json_utils.loads(properties[CUSTOM_CONFIG])
    custom_config["training"] = {**custom_config["training"], "learning_rate": learning_rate}
    custom_config["max_steps"] = steps
    properties[CUSTOM_CONFIG] = json_utils.dumps(custom_config)
    return properties


class RuntimeTrainerExecutor(trainer_executor.GenericExecutor):
    """TFX's generic Trainer executor, after applying the run parameters."""

    def Do(  # noqa: N802  (TFX's executor interface)
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        """Trains in this container with the run's step budget and learning rate."""
        super().Do(input_dict, output_dict, apply_training_values(exec_properties))


class VertexRuntimeTrainerExecutor(vertex_trainer_executor.GenericExecutor):
    """Starts the Vertex AI custom job with the run parameters already applied.

    The custom job runs TFX's generic Trainer executor in the pipeline image with
    the execution properties this executor forwards, so the values are folded in
    before they leave the pipeline task.
    """

    def Do(  # noqa: N802  (TFX's executor interface)
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        """Launches the custom job and waits for it."""
        super().Do(input_dict, output_dict, apply_training_values(exec_properties))


class RuntimeTrainer(base_component.BaseComponent):
    """A TFX Trainer (generic executor, `run_fn`) whose steps and learning rate are run inputs.

    Give it the id `Trainer` (`.with_id("Trainer")`) so runs read the same in every UI.
    """

    SPEC_CLASS = RuntimeTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(RuntimeTrainerExecutor)

    def __init__(
        self,
        *,
        examples: types.BaseChannel,
        transform_graph: types.BaseChannel,
        schema: types.BaseChannel,
        run_fn: str,
        custom_config: dict[str, Any],
        train_steps: RuntimeParameter | int,
        learning_rate: RuntimeParameter | float,
        base_model: types.BaseChannel | None = None,
        hyperparameters: types.BaseChannel | None = None,
        on_vertex: bool = False,
    ) -> None:
        """Builds the component.

        Args:
            examples: Transformed examples (Transform's `transformed_examples`).
            transform_graph: Transform's graph.
            schema: The schema.
            run_fn: Dotted path of the training function, baked into the image.
            custom_config: The model settings; with `on_vertex`, also the Vertex
                AI training keys of `tfx.extensions.google_cloud_ai_platform`.
            train_steps: The step budget (0: no limit), usually a RuntimeParameter.
            learning_rate: The learning rate, usually a RuntimeParameter.
            base_model: A previous model to warm-start from, if any.
            hyperparameters: The Tuner's best hyperparameters, applied on top of
                `custom_config` by `run_fn` (they replace the learning-rate run parameter
                when the search covers the learning rate).
            on_vertex: Train in a Vertex AI custom job instead of the pipeline task.
        """
        spec = RuntimeTrainerSpec(
            examples=examples,
            transform_graph=transform_graph,
            schema=schema,
            base_model=base_model,
            hyperparameters=hyperparameters,
            run_fn=run_fn,
            train_args=trainer_pb2.TrainArgs(),
            eval_args=trainer_pb2.EvalArgs(num_steps=0),
            custom_config=json_utils.dumps(custom_config),
            model=types.Channel(type=standard_artifacts.Model),
            model_run=types.Channel(type=standard_artifacts.ModelRun),
            **{TRAIN_STEPS: train_steps, LEARNING_RATE: learning_rate},
        )
        executor = executor_spec.ExecutorClassSpec(VertexRuntimeTrainerExecutor) if on_vertex else None
        super().__init__(spec=spec, custom_executor_spec=executor)
