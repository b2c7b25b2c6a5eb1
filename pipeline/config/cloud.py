"""The optional `cloud:` section of the pipeline config (Vertex AI / Kubeflow runs).

Kept apart from `lightrank.pipeline.config` because only `lightrank compile` / `submit` and the
cloud variants of the components read it; a local run never does. See docs/deploy.md.
"""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from lightrank.models.config_model import ConfigModel


class DataflowConfig(ConfigModel):
    """Run the Beam-based components (statistics, Transform, Evaluator) on Dataflow.

    The workers run the pipeline image (`--sdk_container_image`), so the
    preprocessing and metric code they import is the code that was compiled.

    Attributes:
        machine_type: Worker machine type (`--machine_type`).
        max_workers: Autoscaling ceiling (`--max_num_workers`).
        extra_args: Further Beam arguments, appended as given (e.g. `--disk_size_gb=100`).
    """

    machine_type: str = "n1-standard-4"
    max_workers: int = 10
    extra_args: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> DataflowConfig:
        if not self.machine_type:
            raise ValueError("cloud.dataflow.machine_type is empty")
        if self.max_workers < 1:
            raise ValueError("cloud.dataflow.max_workers must be >= 1")
        return self


class BigQueryConfig(ConfigModel):
    """Read the candidates with a BigQuery query instead of TFRecord files.

    The query must return one row per (request, candidate) with the columns the
    schema names; the train/eval split still hashes the request key.
    """

    query: str

    @model_validator(mode="after")
    def _check(self) -> BigQueryConfig:
        if not self.query.strip():
            raise ValueError("cloud.bigquery.query is empty")
        return self


class VertexTrainingConfig(ConfigModel):
    """Run the Trainer as a Vertex AI custom job on this machine (the pipeline image).

    Attributes:
        machine_type: The custom job's machine type.
        accelerator_type: E.g. `NVIDIA_TESLA_T4`; None trains on CPU. Loads, but
            `lightrank compile` refuses it for now: the pipeline image has no CUDA
            libraries, so a GPU job would silently train on the CPU
            (`lightrank.kubeflow.compiler.cloud_problems`).
        accelerator_count: How many accelerators; 0 without an accelerator type.
    """

    machine_type: str = "n1-standard-8"
    accelerator_type: str | None = None
    accelerator_count: int = 0

    @model_validator(mode="after")
    def _check(self) -> VertexTrainingConfig:
        if not self.machine_type:
            raise ValueError("cloud.vertex_training.machine_type is empty")
        if (self.accelerator_type is None) != (self.accelerator_count == 0) or self.accelerator_count < 0:
            raise ValueError(
                "cloud.vertex_training: set accelerator_type and accelerator_count >= 1 together, or neither"
            )
        return self


#: A Vertex AI model ID (the registry model's name): it must also be a valid display name and
#: label value, so one rule serves all three.
MODEL_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
MODEL_ID_RULE = "1-63 lower-case letters, digits, hyphens and underscores, starting with a letter"


class VertexServingConfig(ConfigModel):
    """Push blessed models to a Vertex AI endpoint instead of `serving_dir`.

    Attributes:
        endpoint_name: The endpoint (created on the first push).
        serving_image: The prediction container, e.g. a Vertex pre-built TensorFlow
            image matching the TensorFlow version of the pipeline image.
        machine_type: The serving machine type.
        min_replicas, max_replicas: Autoscaling bounds of the deployed model.
        model_name: The Vertex AI Model Registry model every push adds a version to
            (`lightrank.components.vertex_pusher`); its model ID and display name. None: the
            pipeline name. A model ID, so `MODEL_ID_RULE`.
    """

    endpoint_name: str
    serving_image: str
    machine_type: str = "n1-standard-4"
    min_replicas: int = 1
    max_replicas: int = 1
    model_name: str | None = None

    @model_validator(mode="after")
    def _check(self) -> VertexServingConfig:
        if not self.endpoint_name or not self.serving_image:
            raise ValueError("cloud.vertex_serving needs endpoint_name and serving_image")
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ValueError("cloud.vertex_serving needs 1 <= min_replicas <= max_replicas")
        if self.model_name is not None and not MODEL_ID_PATTERN.match(self.model_name):
            raise ValueError(
                f"cloud.vertex_serving.model_name {self.model_name!r} is not a Vertex AI model ID: "
                f"use {MODEL_ID_RULE}"
            )
        return self


class CloudConfig(ConfigModel):
    """Running on Vertex AI Pipelines or Kubeflow Pipelines (`lightrank compile/submit`).

    Every section is off by default; the local runner ignores this whole block.

    Attributes:
        image: The pipeline image (`make image`) every component runs in. `compile`
            falls back to a documented local name; `submit` requires it.
        project: The Google Cloud project (Dataflow, BigQuery, Vertex jobs, submit).
        region: The Google Cloud region (Dataflow, Vertex jobs and endpoint, submit).
        temp_location: A gs:// directory for Beam's temporary and staging files.
        service_account: The service account Vertex runs the pipeline as.
        dataflow, bigquery, vertex_training, vertex_serving: See their classes.
    """

    image: str | None = None
    project: str | None = None
    region: str | None = None
    temp_location: str | None = None
    service_account: str | None = None
    dataflow: DataflowConfig | None = None
    bigquery: BigQueryConfig | None = None
    vertex_training: VertexTrainingConfig | None = None
    vertex_serving: VertexServingConfig | None = None

    @model_validator(mode="after")
    def _check(self) -> CloudConfig:
        if self.image is not None and (not self.image or any(ch.isspace() for ch in self.image)):
            raise ValueError(f"cloud.image must be an image reference, got {self.image!r}")
        if self.temp_location is not None and not self.temp_location.startswith("gs://"):
            raise ValueError(f"cloud.temp_location must be a gs:// location, got {self.temp_location!r}")
        enabled = [
            name
            for name in ("dataflow", "bigquery", "vertex_training", "vertex_serving")
            if getattr(self, name) is not None
        ]
        for name in enabled:
            if not self.project:
                raise ValueError(f"cloud.{name} needs cloud.project")
            if name != "bigquery" and not self.region:
                raise ValueError(f"cloud.{name} needs cloud.region")
        for name in ("dataflow", "bigquery"):
            if name in enabled and not self.temp_location:
                raise ValueError(
                    f"cloud.{name} needs cloud.temp_location (a gs:// directory for Beam's temporary files)"
                )
        return self
