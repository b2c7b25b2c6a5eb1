"""What a runner decides and hands to `create_pipeline`, so the pipeline never imports a runner.

As in the TFX templates, the pipeline definition is one function of the config, and each runner
(`lightrank.pipeline.local_runner`, the Kubeflow / Vertex compiler in `lightrank.kubeflow`)
passes in the settings that depend on where the pipeline runs: Beam's arguments, the run-time
parameters of a compiled pipeline, the schema's path inside the image, and the Vertex AI
training and serving settings. The default is the local pipeline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from lightrank.components.run_values import RunParameters


@dataclasses.dataclass(frozen=True)
class RunnerSettings:
    """The runner's part of a pipeline definition; all None means the local pipeline.

    Attributes:
        beam_pipeline_args: Beam's arguments for the data components; None: the config's
            `beam_args` (Beam in-process, as a local run has it).
        run_parameters: The values a person changes per run as pipeline inputs
            (`lightrank.kubeflow.run_parameters`); the Trainer and Evaluator then become their
            run-time variants (`lightrank.components.runtime_trainer`, `runtime_evaluator`)
            that read them. None: the config's values, fixed.
        schema_file: Where ImportSchemaGen reads the schema; None: the config's `schema.path`.
        bigquery_query: Read the candidates with BigQueryExampleGen and this query instead of
            ImportExampleGen over `data.path`.
        vertex_training: The Trainer's `custom_config` keys that run it as a Vertex AI custom
            job; None: the Trainer trains in its own process.
        vertex_serving: The Pusher's `custom_config` that deploys to a Vertex AI endpoint;
            None: the Pusher copies the model to `serving_dir`.
    """

    beam_pipeline_args: Sequence[str] | None = None
    run_parameters: RunParameters | None = None
    schema_file: str | None = None
    bigquery_query: str | None = None
    vertex_training: Mapping[str, Any] | None = None
    vertex_serving: Mapping[str, Any] | None = None


#: The local pipeline: everything from the config, nothing in the cloud.
LOCAL = RunnerSettings()
