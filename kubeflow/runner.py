"""The Kubeflow Pipelines v2 / Vertex AI runner's part of the pipeline: `runner_settings(config)`.

As in the TFX templates' `kubeflow_v2_runner.py`, the runner decides what depends on the
orchestrator and passes it into `create_pipeline`: the run-time parameters (data directory,
training steps, learning rate, quality gates) that a person sets per run in the UI or with
`lightrank submit --param`, and what the config's `cloud` section asks for (Beam on Dataflow,
BigQuery input, Vertex AI training and serving, the schema file inside the image).
"""

from __future__ import annotations

from lightrank.kubeflow.cloud import (
    beam_pipeline_args,
    cloud_of,
    schema_file_in_image,
    vertex_serving_config,
    vertex_training_config,
)
from lightrank.kubeflow.run_parameters import define_run_parameters
from lightrank.models.features import ResolvedFeatures
from lightrank.models.settings import model_custom_config
from lightrank.pipeline.config import PipelineConfig
from lightrank.pipeline.example_inputs import plan_inputs
from lightrank.pipeline.runner_settings import RunnerSettings


def runner_settings(
    config: PipelineConfig, features: ResolvedFeatures, *, cloud: bool = True
) -> RunnerSettings:
    """The settings of a compiled pipeline: run parameters, and with `cloud` the cloud section.

    Args:
        config: The pipeline config.
        features: Its resolved features (`check_config_names`), for the Trainer's defaults.
        cloud: Apply the config's `cloud` section. Off, the pipeline keeps the run parameters
            but runs where it is (the local end-to-end test of a compiled pipeline's graph).

    Raises:
        RunParameterError: A run parameter's default has the wrong type or range.
        CompileError: With `cloud`, a local schema file that the image does not contain.
    """
    section = cloud_of(config)
    bigquery_query = section.bigquery.query if cloud and section.bigquery is not None else None
    parameters = define_run_parameters(
        config,
        data_root=None if bigquery_query is not None else plan_inputs(config.data).input_base,
        model_config=model_custom_config(config.model, features),
    )
    if not cloud:
        return RunnerSettings(run_parameters=parameters)
    return RunnerSettings(
        beam_pipeline_args=beam_pipeline_args(config),
        run_parameters=parameters,
        schema_file=schema_file_in_image(config),
        bigquery_query=bigquery_query,
        vertex_training=vertex_training_config(config) if section.vertex_training is not None else None,
        vertex_serving=vertex_serving_config(config) if section.vertex_serving is not None else None,
    )
