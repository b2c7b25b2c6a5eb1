"""`create_pipeline(config)`: the one pipeline definition every runner shares.

ImportExampleGen -> StatisticsGen -> ImportSchemaGen -> ExampleValidator ->
AnomalyGate -> Transform -> Trainer -> Evaluator -> Pusher (under the blessing).
The local runner, the Kubeflow Pipelines v2 and the Vertex AI compilers call this
function with the same `PipelineConfig`; they differ only in the metadata
connection they attach and in how they execute the result.
"""

from __future__ import annotations

import os

from tfx import v1 as tfx
from tfx.dsl.placeholder import placeholder as ph
from tfx.proto import example_gen_pb2

from components.anomaly_gate import AnomalyGate
from models.features import ResolvedFeatures, resolve_files
from models.settings import model_custom_config
from pipeline.config import PipelineConfig
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


def create_pipeline(
    config: PipelineConfig,
    *,
    metadata_connection_config: object | None = None,
    features: ResolvedFeatures | None = None,
) -> tfx.dsl.Pipeline:
    """Builds the light-ranker pipeline described by `config`.

    Args:
        config: The validated pipeline configuration.
        metadata_connection_config: The ML Metadata connection (local runs);
            None for Kubeflow / Vertex, whose orchestrator provides one.
        features: The resolved feature spec; resolved from the config's schema
            and feature spec files when not given.

    Returns:
        A `tfx.dsl.Pipeline` ready for LocalDagRunner or KubeflowV2DagRunner.
    """
    features = features or resolve_files(config.schema.path, config.schema.feature_spec)
    model_config = model_custom_config(config, features)
    input_base, input_config = _input_config(config.data.path)

    example_gen = tfx.components.ImportExampleGen(
        input_base=input_base, input_config=input_config, output_config=_output_config(config, features)
    )
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=config.schema.path)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    anomaly_gate = AnomalyGate(anomalies=example_validator.outputs["anomalies"])

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

    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        base_model=base_model,
        train_args=tfx.proto.TrainArgs(num_steps=model_config["max_steps"]),
        eval_args=tfx.proto.EvalArgs(num_steps=0),
        custom_config=model_config,
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

    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline_model,
        eval_config=build_eval_config(config, features),
        example_splits=["eval"],
    )
    components.append(evaluator)

    blessing = evaluator.outputs["blessing"].future()[0]
    # Push only a blessed model that is not already the blessed baseline: a re-run whose
    # Trainer came from the cache re-evaluates the same model and must not push a copy.
    is_new_blessed_model = ph.logical_and(
        blessing.custom_property("blessed") == 1,
        blessing.custom_property("current_model_id") != blessing.custom_property("baseline_model_id"),
    )
    with tfx.dsl.Cond(is_new_blessed_model):
        pusher = tfx.components.Pusher(
            model=trainer.outputs["model"],
            model_blessing=evaluator.outputs["blessing"],
            push_destination=tfx.proto.PushDestination(
                filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.serving_dir)
            ),
        )
    components.append(pusher)

    return tfx.dsl.Pipeline(
        pipeline_name=config.name,
        pipeline_root=config.root,
        components=components,
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.beam_args),
    )
