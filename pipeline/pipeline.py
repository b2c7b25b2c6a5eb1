"""`create_pipeline(config)`: the one pipeline definition every runner shares.

ImportExampleGen -> StatisticsGen -> ImportSchemaGen -> ExampleValidator ->
AnomalyGate -> Transform -> [Tuner, with a `tuning` section] -> Trainer -> Evaluator ->
Pusher (under the blessing) -> RunReport.
The local runner, the Kubeflow Pipelines v2 and the Vertex AI compilers call this
function with the same `PipelineConfig`. What depends on where the pipeline runs comes in
as `RunnerSettings` from the runner (`lightrank.kubeflow.runner` for the compilers: run-time
parameters, Beam on Dataflow, BigQuery, Vertex AI training and serving); the pipeline never
imports a runner. Without them it is the local pipeline.
"""

from __future__ import annotations

from typing import Any

from tfx import v1 as tfx
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.dsl.components.base.base_component import BaseComponent
from tfx.dsl.placeholder import placeholder as ph

from lightrank.components import span_example_gen
from lightrank.components.anomaly_gate import AnomalyGate
from lightrank.components.run_report.component import run_report_node
from lightrank.components.run_settings import run_settings
from lightrank.components.run_values import RunParameters
from lightrank.components.runtime_evaluator import DIFFERS_FROM_BASELINE, RuntimeEvaluator
from lightrank.components.runtime_trainer import RuntimeTrainer
from lightrank.components.verified_pusher import VerifiedPusher
from lightrank.components.vertex_pusher import VertexRegistryPusher
from lightrank.models.features import ResolvedFeatures
from lightrank.models.settings import model_custom_config
from lightrank.models.tuning.space import TuningConfig
from lightrank.pipeline.config import PipelineConfig
from lightrank.pipeline.config.data import EVAL, TRAIN
from lightrank.pipeline.config.names import check_config_names
from lightrank.pipeline.eval_config import EvalSettings, build_eval_config
from lightrank.pipeline.example_inputs import hashed_output_config, plan_inputs
from lightrank.pipeline.runner_settings import LOCAL, RunnerSettings

#: Dotted paths of the user code, baked into the image (never packaged via module_file).
PREPROCESSING_FN = "lightrank.models.preprocessing.preprocessing_fn"
RUN_FN = "lightrank.models.trainer.run_fn"
TUNER_FN = "lightrank.models.tuning.tuner.tuner_fn"


def build_example_gen(
    config: PipelineConfig, features: ResolvedFeatures, runner: RunnerSettings
) -> BaseComponent:
    """ImportExampleGen over the data files, or BigQueryExampleGen over the runner's query.

    Span patterns are read by `SpanExampleGen`'s executor (components/span_example_gen.py).
    """
    data = config.data
    if runner.bigquery_query is not None:
        return tfx.extensions.google_cloud_big_query.BigQueryExampleGen(
            query=runner.bigquery_query,
            output_config=hashed_output_config(features.request_key, data.train_buckets, data.eval_buckets),
        )
    inputs = plan_inputs(data)
    parameters = runner.run_parameters
    arguments: dict[str, Any] = {
        "input_base": parameters.data_root if parameters and parameters.data_root else inputs.input_base,
        "input_config": inputs.input_config(),
        "output_config": inputs.output_config(features.request_key, data.train_buckets, data.eval_buckets),
    }
    spans = inputs.custom_config()
    if spans is None:
        return tfx.components.ImportExampleGen(**arguments)
    # ImportExampleGen's own class takes no executor: its base, under the same id, does.
    return FileBasedExampleGen(
        **arguments,
        custom_config=spans,
        custom_executor_spec=executor_spec.BeamExecutorSpec(span_example_gen.Executor),
    ).with_id("ImportExampleGen")


def _trainer(model_config: dict[str, Any], runner: RunnerSettings, **channels: Any) -> BaseComponent:
    """The Trainer: standard, with run parameters, and/or as a Vertex AI custom job."""
    on_vertex = runner.vertex_training is not None
    custom_config = {**model_config, **(runner.vertex_training or {})}
    parameters = runner.run_parameters
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


def _tuner(tuning: TuningConfig, model_config: dict[str, Any], **channels: Any) -> BaseComponent:
    """TFX's Tuner, searching `tuning.space` from the model section's settings.

    Its `custom_config` is the Trainer's plus the search itself, so the best hyperparameters
    come from the cache until the transformed data, the model settings or the search change
    (docs/configuration.md, `tuning`). It runs in the pipeline's own task on every runner.
    """
    return tfx.components.Tuner(
        tuner_fn=TUNER_FN,
        train_args=tfx.proto.TrainArgs(num_steps=tuning.steps_per_trial),
        eval_args=tfx.proto.EvalArgs(num_steps=0),
        custom_config={**model_config, "tuning": tuning.model_dump(mode="json")},
        **channels,
    )


def _evaluator(
    config: PipelineConfig, features: ResolvedFeatures, parameters: RunParameters | None, **channels: Any
) -> BaseComponent:
    """The Evaluator, with its thresholds as run parameters when there are any.

    Always `RuntimeEvaluator`, also locally (without run parameters), so one executor decides
    every blessing: it evaluates a model that is its own baseline once, not twice
    (`lightrank.components.self_comparison`, docs/evaluation.md, Gates).
    """
    eval_config = build_eval_config(EvalSettings.from_config(config, features))
    thresholds = parameters.thresholds if parameters is not None else {}
    return RuntimeEvaluator(
        eval_config=eval_config, thresholds=thresholds, example_splits=[EVAL], **channels
    ).with_id("Evaluator")


def _push_condition(blessing: Any, parameters: RunParameters | None, runner: RunnerSettings) -> Any:
    """Push every blessed model to `serving_dir`; only a new one to the Vertex AI registry.

    The filesystem Pusher (`VerifiedPusher`) decides itself whether the model is already
    served: it skips a model whose complete, loadable version is in `serving_dir`, so a re-run
    whose Trainer came from the cache pushes nothing, and a model whose push failed is pushed
    by the next run. The condition used to be "differs from the last blessed model", which a
    failed push turned false for ever (the half-pushed model was the last blessed one).

    The Vertex AI registry Pusher has no such check (the registry holds the versions), so it
    keeps that condition: locally the blessing's model ids; on Vertex / Kubeflow the
    RuntimeEvaluator's `differs_from_baseline` (there the ids are names, and the baseline id is
    absent on a first run).
    """
    blessed = blessing.custom_property("blessed") == 1
    if runner.vertex_serving is None:
        return blessed
    if parameters is not None:
        is_new = blessing.custom_property(DIFFERS_FROM_BASELINE) == 1
    else:
        is_new = blessing.custom_property("current_model_id") != blessing.custom_property("baseline_model_id")
    return ph.logical_and(blessed, is_new)


def _pusher(
    config: PipelineConfig, runner: RunnerSettings, evaluation: Any, **channels: Any
) -> BaseComponent:
    """The Pusher: to `serving_dir`, or a new version in the Vertex AI Model Registry and endpoint.

    For Vertex it is `VertexRegistryPusher` (TFX's Vertex Pusher with our executor, docs/deploy.md),
    under the id `Pusher` so the DAG, its condition and the views keep their names. It takes
    the `evaluation` of the Evaluator that blessed the model, so the registry shows the numbers
    that blessed it; it also records what produced the run, as AnomalyGate does, and labels
    the version with it. Otherwise it is `VerifiedPusher` (TFX's Pusher with an atomic,
    verified, idempotent executor, docs/reliability.md), also under the id `Pusher`; it takes
    no evaluation.
    """
    if runner.vertex_serving is not None:
        return VertexRegistryPusher(
            custom_config=dict(runner.vertex_serving),
            evaluation=evaluation,
            **run_settings(config),
            **channels,
        ).with_id("Pusher")
    return VerifiedPusher(
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.serving_dir)
        ),
        **channels,
    ).with_id("Pusher")


def create_pipeline(
    config: PipelineConfig,
    *,
    metadata_connection_config: object | None = None,
    features: ResolvedFeatures | None = None,
    runner: RunnerSettings = LOCAL,
) -> tfx.dsl.Pipeline:
    """Builds the light-ranker pipeline described by `config`.

    Args:
        config: The validated pipeline configuration.
        metadata_connection_config: The ML Metadata connection (local runs);
            None for Kubeflow / Vertex, whose orchestrator provides one.
        features: The resolved feature spec, from a caller that has already run
            `check_config_names`; when not given, that check runs here and
            resolves it from the config's schema and feature spec files.
        runner: What the runner decides (`RunnerSettings`): run-time parameters, Beam's
            arguments, the schema's path in the image, BigQuery, Vertex AI training and
            serving. The default is the local pipeline; LocalDagRunner also runs a pipeline
            built with run parameters, with their defaults.

    Returns:
        A `tfx.dsl.Pipeline` ready for LocalDagRunner or KubeflowV2DagRunner.

    Raises:
        ConfigError: With `features` not given, a config name that the schema, the
            feature spec or the metric specs do not know.
    """
    if features is None:
        features = check_config_names(config)
    model_config = model_custom_config(config.model, features)
    parameters = runner.run_parameters

    example_gen = build_example_gen(config, features, runner)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=runner.schema_file or config.schema.path)
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
        splits_config=tfx.proto.SplitsConfig(analyze=[TRAIN], transform=config.data.split_names),
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

    data_channels = {
        "examples": transform.outputs["transformed_examples"],
        "transform_graph": transform.outputs["transform_graph"],
        "schema": schema_gen.outputs["schema"],
    }
    hyperparameters = None
    if config.tuning is not None:
        tuner = _tuner(config.tuning, model_config, **data_channels)
        components.append(tuner)
        hyperparameters = tuner.outputs["best_hyperparameters"]

    trainer = _trainer(
        model_config, runner, **data_channels, base_model=base_model, hyperparameters=hyperparameters
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

    with tfx.dsl.Cond(_push_condition(evaluator.outputs["blessing"].future()[0], parameters, runner)):
        pusher = _pusher(
            config,
            runner,
            evaluation=evaluator.outputs["evaluation"],
            model=trainer.outputs["model"],
            model_blessing=evaluator.outputs["blessing"],
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
        beam_pipeline_args=list(
            config.beam_args if runner.beam_pipeline_args is None else runner.beam_pipeline_args
        ),
    )
