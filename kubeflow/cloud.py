"""What the `cloud` config section means for the components: Beam, Vertex training and serving.

Pure functions from `PipelineConfig` to the arguments TFX expects (Beam flags,
the `custom_config` keys of `tfx.extensions.google_cloud_ai_platform`), so the
mapping is unit-tested without building a pipeline.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tfx.extensions.google_cloud_ai_platform import constants as vertex_constants
from tfx.extensions.google_cloud_ai_platform.trainer import executor as vertex_trainer_executor

from lightrank.components.vertex_pusher import MODEL_NAME_KEY
from lightrank.kubeflow.errors import CompileError
from lightrank.models.paths import is_remote
from lightrank.pipeline.config import CloudConfig, PipelineConfig
from lightrank.pipeline.config.cloud import MODEL_ID_PATTERN, MODEL_ID_RULE

#: The image `make image` builds when no IMAGE is given; `compile` falls back to it.
DEFAULT_IMAGE = "lightrank-pipeline:latest"
#: Where the Dockerfile puts the project; the schema is read from here in the cloud.
IMAGE_WORKDIR = "/lightrank"
#: Project directories the Dockerfile copies into IMAGE_WORKDIR besides the packages.
IMAGE_DATA_DIRS = ("schema",)
#: The repository root (this file is `<root>/kubeflow/cloud.py`).
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def cloud_of(config: PipelineConfig) -> CloudConfig:
    """The config's cloud section, or an all-off one."""
    return config.cloud or CloudConfig()


def pipeline_image(config: PipelineConfig) -> str:
    """The image every component runs in: `cloud.image`, else `DEFAULT_IMAGE`."""
    return cloud_of(config).image or DEFAULT_IMAGE


def schema_file_in_image(config: PipelineConfig) -> str:
    """Where ImportSchemaGen finds the schema file when the pipeline runs in the image.

    A remote schema (`gs://...`) is read where it is. A local one must lie in a
    project directory the image contains (`schema/`); it is then read from the
    same relative path under `IMAGE_WORKDIR`, i.e. from the image that was built
    from this checkout.

    Raises:
        CompileError: A local schema file outside the directories baked into the image.
    """
    path = config.schema.path
    if is_remote(path):
        return path
    relative = os.path.relpath(os.path.abspath(path), PROJECT_ROOT)
    if relative.split(os.sep)[0] not in IMAGE_DATA_DIRS:
        raise CompileError(
            f"schema.path {path} is a local file the pipeline image does not contain: put it under "
            f"{', '.join(str(PROJECT_ROOT / d) for d in IMAGE_DATA_DIRS)} (baked into the image by "
            "`make image`) or upload it and use its gs:// path"
        )
    return f"{IMAGE_WORKDIR}/{Path(relative).as_posix()}"


def beam_pipeline_args(config: PipelineConfig) -> list[str]:
    """Beam arguments of the data components in the cloud.

    With `cloud.dataflow`, the components submit Dataflow jobs whose workers run
    the pipeline image (`--sdk_container_image`, `--sdk_location=container`: no
    SDK staging; the image carries the Beam worker boot). Otherwise the config's
    `beam_args` run Beam inside each component's container, plus the project and
    temp location when set (BigQuery exports need them).
    """
    cloud = cloud_of(config)
    if cloud.dataflow is not None:
        return [
            "--runner=DataflowRunner",
            f"--project={cloud.project}",
            f"--region={cloud.region}",
            f"--temp_location={cloud.temp_location}",
            f"--machine_type={cloud.dataflow.machine_type}",
            f"--max_num_workers={cloud.dataflow.max_workers}",
            f"--sdk_container_image={pipeline_image(config)}",
            "--sdk_location=container",
            *cloud.dataflow.extra_args,
        ]
    extra = [f"--project={cloud.project}"] if cloud.project else []
    extra += [f"--temp_location={cloud.temp_location}"] if cloud.temp_location else []
    return [*config.beam_args, *extra]


def vertex_training_config(config: PipelineConfig) -> dict[str, Any]:
    """The Trainer `custom_config` keys that run it as a Vertex AI custom job.

    The job runs one replica of the pipeline image on `cloud.vertex_training`'s
    machine; TFX replaces the container command with its own Trainer entry point.
    """
    cloud = cloud_of(config)
    training = cloud.vertex_training
    if training is None:
        raise ValueError("cloud.vertex_training is not configured")
    machine_spec: dict[str, Any] = {"machine_type": training.machine_type}
    if training.accelerator_type:
        machine_spec.update(
            accelerator_type=training.accelerator_type, accelerator_count=training.accelerator_count
        )
    return {
        vertex_constants.ENABLE_VERTEX_KEY: True,
        vertex_constants.VERTEX_REGION_KEY: cloud.region,
        vertex_trainer_executor.TRAINING_ARGS_KEY: {
            "project": cloud.project,
            "job_spec": {
                "worker_pool_specs": [
                    {
                        "machine_spec": machine_spec,
                        "replica_count": 1,
                        "container_spec": {"image_uri": pipeline_image(config)},
                    }
                ]
            },
        },
    }


def registry_model_name(config: PipelineConfig) -> str:
    """The Vertex AI Model Registry model the pushes add versions to: `model_name`, else the pipeline name.

    Raises:
        CompileError: No `model_name` and a pipeline name that is no Vertex AI model ID (longer
            than 63 characters, or with characters a model ID refuses).
    """
    serving = cloud_of(config).vertex_serving
    if serving is not None and serving.model_name:
        return serving.model_name
    if not MODEL_ID_PATTERN.match(config.name):
        raise CompileError(
            f"the pipeline name {config.name!r} cannot name the Vertex AI registry model ({MODEL_ID_RULE}): "
            "set cloud.vertex_serving.model_name"
        )
    return config.name


def vertex_serving_config(config: PipelineConfig) -> dict[str, Any]:
    """The Pusher `custom_config` that pushes a blessed model to the registry and a Vertex AI endpoint.

    TFX's keys (region, serving image, `ai_platform_serving_args`) plus the registry model's name,
    read by `lightrank.components.vertex_pusher.VertexRegistryPusherExecutor`.
    """
    cloud = cloud_of(config)
    serving = cloud.vertex_serving
    if serving is None:
        raise ValueError("cloud.vertex_serving is not configured")
    return {
        vertex_constants.ENABLE_VERTEX_KEY: True,
        vertex_constants.VERTEX_REGION_KEY: cloud.region,
        vertex_constants.VERTEX_CONTAINER_IMAGE_URI_KEY: serving.serving_image,
        vertex_constants.SERVING_ARGS_KEY: {
            "project_id": cloud.project,
            "endpoint_name": serving.endpoint_name,
            "machine_type": serving.machine_type,
            "min_replica_count": serving.min_replicas,
            "max_replica_count": serving.max_replicas,
        },
        MODEL_NAME_KEY: registry_model_name(config),
    }
