"""`create_pipeline(config)`: the one pipeline definition every runner shares.

ImportExampleGen -> StatisticsGen -> ImportSchemaGen -> ExampleValidator ->
AnomalyGate -> Transform -> Trainer -> Evaluator -> Pusher (under the blessing)
-> RunReport.
The local runner, the Kubeflow Pipelines v2 and the Vertex AI compilers call this
function with the same `PipelineConfig`. The compilers also ask for run-time
parameters (`runtime_parameters=True`: the data directory, training steps,
learning rate and quality gates become inputs of each run) and for the cloud
components of the config's `cloud` section (`cloud=True`); the local pipeline is
built without either.
"""

from __future__ import annotations

import os
from typing import Any

from tfx import v1 as tfx
from tfx.dsl.components.base.base_component import BaseComponent
from tfx.dsl.placeholder import placeholder as ph
from tfx.proto import example_gen_pb2

from components.anomaly_gate import AnomalyGate
from components.run_report import run_report_node
from components.run_settings import run_settings
from kubeflow.cloud import (
    beam_pipeline_args,
    cloud_of,
    schema_file_in_image,
    vertex_serving_config,
    vertex_training_config,
)
from kubeflow.evaluator import DIFFERS_FROM_BASELINE, RuntimeEvaluator
from kubeflow.run_parameters import RunParameters, define_run_parameters
from kubeflow.trainer import RuntimeTrainer
from models.features import ResolvedFeatures
from models.settings import model_custom_config
from pipeline.config import PipelineConfig
from pipeline.config_names import check_config_names
from pipeline.evaluation import build_eval_config

#: Dotted paths of the user code, baked into the image (never packaged via module_file).
PREPROCESSING_FN = "models.preprocessing.preprocessing_fn"
RUN_FN = "models.training.run_fn"


def _input_config(data_path: str) -> tuple[str, example_gen_pb2.Input]:
    """Splits a directory or glob into ImportExampleGen's input_base and pattern."""
    if any(ch in os.path.basename(data_path) for ch in "*?["):
        base, pattern = os.path.dirname(data_path), os.path.basename(data_path)
    else:
        base, pattern = data_path.rstrip("/"), "*"
    return base, example_gen_pb2.Input(
        splits=[example_gen_pb2.Input.Split(name="single_split", pattern=pattern)]
    )


def _output_config(config: PipelineConfig, features: ResolvedFeatures) -> example_gen_pb2.Output:
    """Train/eval split by hashing the request key, so requests are never cut in two."""
    return example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[
                example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=config.data.train_buckets),
                example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=config.data.eval_buckets),
            ],
            partition_feature_name=features.request_key,
        )
    )


def _example_gen(
    config: PipelineConfig, features: ResolvedFeatures, parameters: RunParameters | None, cloud: bool
) -> BaseComponent:
    """ImportExampleGen over the data files, or BigQueryExampleGen over `cloud.bigquery.query`."""
    output_config = _output_config(config, features)
    if cloud and cloud_of(config).bigquery is not None:
        return tfx.extensions.google_cloud_big_query.BigQueryExampleGen(
            query=cloud_of(config).bigquery.query, output_config=output_config
        )
    input_base, input_config = _input_config(config.data.path)
    return tfx.components.ImportExampleGen(
        input_base=parameters.data_root if parameters and parameters.data_root else input_base,
        input_config=input_config,
        output_config=output_config,
    )


def _trainer(
    config: PipelineConfig,
    model_config: dict[str, Any],
    parameters: RunParameters | None,
    cloud: bool,
    **channels: Any,
) -> BaseComponent:
    """The Trainer: standard, with run parameters, and/or as a Vertex AI custom job."""
    on_vertex = cloud and cloud_of(config).vertex_training is not None
    custom_config = {**model_config, **(vertex_training_config(config) if on_vertex else {})}
    if parameters is not None:
        return RuntimeTrainer(
            run_fn=RUN_FN,
            custom_config=custom_config,
            train_steps=parameters.train_steps,
            learning_rate=parameters.learning_rate,
            on_vertex=on_vertex,
            **channels,
        ).with_id("Trainer")
    trainer_class = tfx.extensions.google_cloud_ai_platform.Trainer if on_vertex else tfx.components.Trainer
    return trainer_class(
        run_fn=RUN_FN,
        train_args=tfx.proto.TrainArgs(num_steps=model_config["max_steps"]),
        eval_args=tfx.proto.EvalArgs(num_steps=0),
        custom_config=custom_config,
        **channels,
    )


def _evaluator(
    config: PipelineConfig, features: ResolvedFeatures, parameters: RunParameters | None, **channels: Any
) -> BaseComponent:
    """The Evaluator, with its thresholds as run parameters when there are any."""
    eval_config = build_eval_config(config, features)
    if parameters is not None:
        return RuntimeEvaluator(
            eval_config=eval_config, thresholds=parameters.thresholds, example_splits=["eval"], **channels
        ).with_id("Evaluator")
    return tfx.components.Evaluator(eval_config=eval_config, example_splits=["eval"], **channels)


def _push_condition(blessing: Any, parameters: RunParameters | None) -> Any:
    """Push only a blessed model that is not already the blessed baseline.

    A re-run whose Trainer came from the cache re-evaluates the same model and must
    not push a copy. Locally the blessing's model ids say so; on Vertex / Kubeflow the
    RuntimeEvaluator's `differs_from_baseline` does (there the ids are names, and the
    baseline id is absent on a first run).
    """
    if parameters is not None:
        is_new = blessing.custom_property(DIFFERS_FROM_BASELINE) == 1
    else:
        is_new = blessing.custom_property("current_model_id") != blessing.custom_property("baseline_model_id")
    return ph.logical_and(blessing.custom_property("blessed") == 1, is_new)


def _pusher(config: PipelineConfig, cloud: bool, **channels: Any) -> BaseComponent:
    """The Pusher: to `serving_dir`, or to a Vertex AI endpoint with `cloud.vertex_serving`."""
    if cloud and cloud_of(config).vertex_serving is not None:
        return tfx.extensions.google_cloud_ai_platform.Pusher(
            custom_config=vertex_serving_config(config), **channels
        )
    return tfx.components.Pusher(
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.serving_dir)
        ),
        **channels,
    )


def create_pipeline(
    config: PipelineConfig,
    *,
    metadata_connection_config: object | None = None,
    features: ResolvedFeatures | None = None,
    runtime_parameters: bool = False,
    cloud: bool = False,
) -> tfx.dsl.Pipeline:
    """Builds the light-ranker pipeline described by `config`.

    Args:
        config: The validated pipeline configuration.
        metadata_connection_config: The ML Metadata connection (local runs);
            None for Kubeflow / Vertex, whose orchestrator provides one.
        features: The resolved feature spec, from a caller that has already run
            `check_config_names`; when not given, that check runs here and
            resolves it from the config's schema and feature spec files.
        runtime_parameters: Make the values that change per run (data directory,
            training steps, learning rate, quality thresholds) RuntimeParameters
            with the config's values as defaults (`kubeflow.run_parameters`); the
            Trainer and Evaluator become their `kubeflow` variants that apply them.
            For KubeflowV2DagRunner; LocalDagRunner runs such a pipeline with the
            defaults. Off, the pipeline is exactly the local one.
        cloud: Use the config's `cloud` section: Beam on Dataflow, BigQuery input,
            Vertex AI training and serving, the schema file inside the image.

    Returns:
        A `tfx.dsl.Pipeline` ready for LocalDagRunner or KubeflowV2DagRunner.

    Raises:
        RunParameterError: A run parameter's default has the wrong type or range.
        CompileError: With `cloud`, a schema file the image does not contain.
    """
    if features is None:
        features = check_config_names(config)
    model_config = model_custom_config(config, features)
    uses_bigquery = cloud and cloud_of(config).bigquery is not None
    parameters = None
    if runtime_parameters:
        parameters = define_run_parameters(
            config,
            data_root=None if uses_bigquery else _input_config(config.data.path)[0],
            model_config=model_config,
        )

    example_gen = _example_gen(config, features, parameters, cloud)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(
        schema_file=schema_file_in_image(config) if cloud else config.schema.path
    )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    # The gate also records the config and code version, so a run it stops still names them.
    anomaly_gate = AnomalyGate(anomalies=example_validator.outputs["anomalies"], **run_settings(config))

    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config={"features": features.to_dict(), "input_size_bits": model_config["input_size_bits"]},
        splits_config=tfx.proto.SplitsConfig(analyze=["train"], transform=["train", "eval"]),
    )
    transform.add_upstream_node(anomaly_gate)

    components: list[object] = [
        example_gen,
        statistics_gen,
        schema_gen,
        example_validator,
        anomaly_gate,
        transform,
    ]

    base_model = None
    if config.model.warm_start:
        latest_model = tfx.dsl.Resolver(
            strategy_class=tfx.dsl.experimental.LatestArtifactStrategy,
            model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        ).with_id("latest_model_resolver")
        components.append(latest_model)
        base_model = latest_model.outputs["model"]
    elif config.model.warm_start_from:
        # An Importer registers the named model in ML Metadata (so lineage shows what the run
        # started from) and, unlike a resolver, runs on open-source Kubeflow Pipelines too.
        imported = tfx.dsl.Importer(
            source_uri=config.model.warm_start_from,
            artifact_type=tfx.types.standard_artifacts.Model,
            reimport=False,
        ).with_id("base_model_importer")
        components.append(imported)
        base_model = imported.outputs["result"]

    trainer = _trainer(
        config,
        model_config,
        parameters,
        cloud,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        base_model=base_model,
    )
    components.append(trainer)

    baseline_model = None
    if config.evaluation.compare_to_baseline:
        baseline = tfx.dsl.Resolver(
            strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
            model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
            model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
        ).with_id("latest_blessed_model_resolver")
        components.append(baseline)
        baseline_model = baseline.outputs["model"]

    evaluator = _evaluator(
        config,
        features,
        parameters,
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline_model,
    )
    components.append(evaluator)

    with tfx.dsl.Cond(_push_condition(evaluator.outputs["blessing"].future()[0], parameters)):
        pusher = _pusher(
            config, cloud, model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"]
        )
    components.append(pusher)
    # Last: one self-contained HTML report of the run, an artifact next to it in the
    # Kubeflow / Vertex UI; it also records the config digest and code version in MLMD.
    components.append(
        run_report_node(
            config,
            example_gen=example_gen,
            statistics_gen=statistics_gen,
            schema_gen=schema_gen,
            example_validator=example_validator,
            transform=transform,
            trainer=trainer,
            evaluator=evaluator,
        )
    )

    return tfx.dsl.Pipeline(
        pipeline_name=config.name,
        pipeline_root=config.root,
        components=components,
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args(config) if cloud else list(config.beam_args),
    )
