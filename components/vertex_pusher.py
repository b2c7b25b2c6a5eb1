"""A Vertex AI Pusher that pushes every blessed model as a new version of one registry model.

TFX 1.16's Vertex Pusher (`tfx.extensions.google_cloud_ai_platform.pusher.executor`, through
`prediction_clients.VertexPredictionClient.deploy_model`) calls `aiplatform.Model.upload`
without `parent_model`, so each push creates a new, unrelated Model named `v<timestamp>` in the
Vertex AI Model Registry, and none of them carries its evaluation. This executor keeps TFX's
blessing check and its endpoint deployment and changes what happens in the registry:

1. The registry model is named by `cloud.vertex_serving.model_name` (default: the pipeline name).
   The first push creates it (model ID and display name = that name); every later push uploads
   a new VERSION of it (`parent_model=<its resource name>`), made the default version.
2. The version gets the aliases `blessed` (Vertex moves an alias that another version holds, so
   it always names the newest blessed model) and `run-<pipeline run>`, and the labels
   `pipeline-run`, `code-version`, `config-digest`, all sanitised to GCP's rules.
3. The Evaluator's overall eval-split metrics are imported as the version's ModelEvaluation
   (ModelService.ImportModelEvaluation), so the registry shows the numbers that blessed it.
4. The version is deployed to the endpoint exactly as TFX does (endpoint created on the first
   push, machine type and replicas from the serving args, 100% of the traffic by default).
5. The PushedModel artifact records the registry model, version id and aliases as custom
   properties next to TFX's own `pushed`, `pushed_destination` and `pushed_version`.

The pipeline run on Vertex: TFX 1.16's Vertex entry point
(`tfx/orchestration/kubeflow/v2/container/kubeflow_v2_run_executor.py`) gives the executor a
`Context` without `pipeline_run_id`; it passes `unique_id=<task>_<uuid>` and
`tmp_dir=<task root>/.temp`, where the task root is
`<pipeline root>/<project number>/<pipeline job id>/<task>_<uuid>`. `pipeline_run_of` therefore
takes `context.pipeline_run_id` when a runner sets it (LocalDagRunner does) and otherwise the
Vertex pipeline job id from that path. No environment variable of a Vertex pipeline task names
the pipeline job (`CLOUD_ML_JOB_ID` is the task's own custom job), and TFX refuses
`execution_invocation().pipeline_run_id` as a parameter placeholder on Kubeflow V2.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any, ClassVar

from absl import logging
from google.cloud import aiplatform, aiplatform_v1
from tfx import types
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.extensions.google_cloud_ai_platform import constants as vertex_constants
from tfx.extensions.google_cloud_ai_platform.pusher import executor as vertex_pusher_executor
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from tfx.utils import io_utils, json_utils, name_utils, telemetry_utils

from lightrank.components.model_evaluation import metrics_by_slice
from lightrank.components.run_settings import CODE_PROPERTY, CONFIG_PROPERTY, DIGEST_PROPERTY

#: The Pusher `custom_config` key naming the registry model (`lightrank.kubeflow.cloud`).
MODEL_NAME_KEY = "lightrank_registry_model"
#: The extra input: the Evaluator's output whose overall metrics the version carries.
EVALUATION_KEY = "evaluation"
#: The alias of the newest blessed version (Vertex moves it from the previous one).
BLESSED_ALIAS = "blessed"
#: Labels of every pushed version.
RUN_LABEL = "pipeline-run"
CODE_LABEL = "code-version"
DIGEST_LABEL = "config-digest"
#: Vertex's documented schema for classification metrics (gs://google-cloud-aiplatform/schema/
#: modelevaluation/). The light ranker is a binary classifier of the click label scored by AUC,
#: PR-AUC and log loss, which are that schema's `auRoc`, `auPrc` and `logLoss`; the regression
#: schema (MAE, RMSE) would describe nothing it is judged by.
METRICS_SCHEMA_URI = "gs://google-cloud-aiplatform/schema/modelevaluation/classification_metrics_1.0.0.yaml"
#: The classification schema's fields, from the unweighted metrics the quality gate uses.
SCHEMA_METRICS = {
    "auRoc": "auc_unweighted",
    "auPrc": "auc_precision_recall_unweighted",
    "logLoss": "log_loss_unweighted",
}
#: Custom properties of the PushedModel artifact, next to TFX's `pushed*` ones.
MODEL_PROPERTY = "vertex_model"
VERSION_PROPERTY = "vertex_model_version_id"
VERSIONED_PROPERTY = "vertex_model_version"
ALIASES_PROPERTY = "vertex_model_version_aliases"
EVALUATION_PROPERTY = "vertex_model_evaluation"
ENDPOINT_PROPERTY = "vertex_endpoint"

#: GCP labels: values up to 63 characters of lower-case letters, digits, `_` and `-`.
LABEL_VALUE_MAX = 63
_NOT_LABEL = re.compile(r"[^a-z0-9_-]")
#: Vertex version aliases: `[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]`, so never a version id.
ALIAS_MAX = 128
_NOT_ALIAS = re.compile(r"[^a-z0-9-]+")
_UNKNOWN_RUN = "unknown"


def _shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending in a hash of the whole so cut values stay distinct.

    A run id's unique part (the timestamp of a Vertex job id) is at its end, so plain
    truncation would give two runs the same label.
    """
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[: limit - len(digest) - 1].rstrip('-_')}-{digest}"


def label_value(text: str) -> str:
    """`text` as a GCP label value: lower case, `[a-z0-9_-]` only, at most 63 characters.

    Vertex refuses an upload whose labels break these rules, which would fail the push of a
    blessed model over a cosmetic value, so every value is made valid instead.
    """
    return _shorten(_NOT_LABEL.sub("-", text.lower()), LABEL_VALUE_MAX)


def run_alias(run: str) -> str:
    """The version alias naming the pipeline run: `run-<run>`, valid as a Vertex alias.

    Aliases allow letters, digits and hyphens, must start with a letter and end with a letter
    or digit; the `run-` prefix makes a numeric run id valid too.
    """
    body = _NOT_ALIAS.sub("-", run.lower()).strip("-") or _UNKNOWN_RUN
    return _shorten(f"run-{body}", ALIAS_MAX).rstrip("-")


def pipeline_run_of(context: base_executor.BaseExecutor.Context | None) -> str:
    """The pipeline run the executor runs in (see the module docstring for where it comes from).

    Returns:
        `context.pipeline_run_id` when the runner set it; else the Vertex pipeline job id
        from the task's temporary directory `<...>/<job id>/<task>_<uuid>/.temp/<task>_<uuid>/`;
        else the task's unique id, else `unknown`.
    """
    if context is None:
        return _UNKNOWN_RUN
    if context.pipeline_run_id:
        return context.pipeline_run_id
    try:
        parts = context.get_tmp_path().rstrip("/").split("/")
    except RuntimeError:  # no tmp dir or unique id: not started by a TFX launcher
        return _UNKNOWN_RUN
    if len(parts) >= 4 and parts[-2] == ".temp" and parts[-1] == parts[-3]:
        return parts[-4]
    return parts[-1] or _UNKNOWN_RUN


def registry_labels(run: str, code_version: str, config_digest: str) -> dict[str, str]:
    """The labels of a pushed version: what produced it, searchable in the registry."""
    return {
        RUN_LABEL: label_value(run),
        CODE_LABEL: label_value(code_version or _UNKNOWN_RUN),
        DIGEST_LABEL: label_value(config_digest or _UNKNOWN_RUN),
    }


def overall_metrics(evaluation_uri: str) -> dict[str, float]:
    """The overall eval-split metrics of an Evaluator output, plus the schema's named fields.

    Values undefined on the split (NaN, see `metrics_by_slice`) are left out: a protobuf
    Struct has no NaN in JSON, and an absent metric reads better than a wrong 0.

    Raises:
        ValueError: The output has no overall slice (not an Evaluator output).
    """
    by_slice = metrics_by_slice(evaluation_uri)
    if "Overall" not in by_slice:
        raise ValueError(f"the evaluation {evaluation_uri} has no overall metrics")
    metrics = {name: value for name, value in by_slice["Overall"].items() if math.isfinite(value)}
    metrics.update({field: metrics[name] for field, name in SCHEMA_METRICS.items() if name in metrics})
    return dict(sorted(metrics.items()))


def evaluation_payload(
    metrics: dict[str, float], run: str, evaluation_uri: str, labels: dict[str, str]
) -> aiplatform_v1.ModelEvaluation:
    """The ModelEvaluation imported into a version: its metrics, named by the run.

    `metadata.pipeline_job_id` is the key Google's own evaluation importer
    (google-cloud-pipeline-components) uses for the run that produced the numbers.
    """
    return aiplatform_v1.ModelEvaluation(
        display_name=f"{run} eval split",
        metrics_schema_uri=METRICS_SCHEMA_URI,
        metrics=metrics,
        metadata={
            "pipeline_job_id": run,
            "evaluation_uri": evaluation_uri,
            "code_version": labels[CODE_LABEL],
            "config_digest": labels[DIGEST_LABEL],
        },
    )


def find_registry_model(model_name: str, project: str, region: str) -> str | None:
    """The resource name of the registry model displayed as `model_name`, or None before the first push.

    The oldest one wins when several share the name (Vertex does not keep display names
    unique), so later pushes keep adding versions to the same model.
    """
    models = aiplatform.Model.list(
        filter=f'display_name="{model_name}"', order_by="create_time", project=project, location=region
    )
    if len(models) > 1:
        logging.warning(
            "%d registry models are named %s; adding the version to the oldest", len(models), model_name
        )
    return models[0].resource_name if models else None


def _endpoint(name: str, labels: dict[str, str], project: str, region: str) -> aiplatform.Endpoint:
    """The endpoint displayed as `name`, created (with TFX's labels) on the first push, as TFX does."""
    found = aiplatform.Endpoint.list(filter=f'display_name="{name}"', project=project, location=region)
    if found:
        return found[0]
    return aiplatform.Endpoint.create(display_name=name, labels=labels, project=project, location=region)


class VertexRegistryPusherSpec(standard_component_specs.PusherSpec):
    """TFX's PusherSpec plus the Evaluator's output and what produced the run.

    TFX's Pusher has no input for the evaluation, and a component spec is fixed per class,
    so the extra input needs a spec of its own. `pipeline_config`, `config_digest` and
    `code_version` are the parameters AnomalyGate and RunReport record
    (`lightrank.components.run_settings`); the versions' labels name the last two.
    """

    INPUTS: ClassVar[dict[str, ChannelParameter]] = {
        **standard_component_specs.PusherSpec.INPUTS,
        EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation, optional=True),
    }
    PARAMETERS: ClassVar[dict[str, ExecutionParameter]] = {
        **standard_component_specs.PusherSpec.PARAMETERS,
        CONFIG_PROPERTY: ExecutionParameter(type=str, optional=True),
        DIGEST_PROPERTY: ExecutionParameter(type=str, optional=True),
        CODE_PROPERTY: ExecutionParameter(type=str, optional=True),
    }


class VertexRegistryPusherExecutor(vertex_pusher_executor.Executor):
    """Pushes a blessed model as a new, evaluated version of one Vertex AI registry model."""

    def Do(  # noqa: N802  (TFX's executor interface)
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        """Uploads, evaluates and deploys the model if it is blessed; see the module docstring.

        Args:
            input_dict: `model`, `model_blessing`, optionally `evaluation`.
            output_dict: `pushed_model`, marked pushed or not.
            exec_properties: `custom_config` (`lightrank.kubeflow.cloud.vertex_serving_config`)
                and the run's `config_digest` and `code_version`.

        Raises:
            ValueError: The custom config lacks the serving args or the registry model name.
        """
        self._log_startup(input_dict, output_dict, exec_properties)
        custom_config = json_utils.loads(
            exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY) or "{}"
        )
        serving_args = dict(custom_config.get(vertex_constants.SERVING_ARGS_KEY) or {})
        model_name = custom_config.get(MODEL_NAME_KEY)
        if not serving_args or not model_name:
            raise ValueError(
                f"custom_config needs {vertex_constants.SERVING_ARGS_KEY!r} and {MODEL_NAME_KEY!r}"
            )
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY]
        )
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return

        io_utils.copy_dir(src=self.GetModelPath(input_dict), dst=model_push.uri)
        project = serving_args.pop("project_id", None) or serving_args.pop("project")
        region = custom_config.get(vertex_constants.VERTEX_REGION_KEY)
        run = pipeline_run_of(self._context)
        labels = registry_labels(
            run, exec_properties.get(CODE_PROPERTY) or "", exec_properties.get(DIGEST_PROPERTY) or ""
        )
        aliases = [BLESSED_ALIAS, run_alias(run)]

        parent = find_registry_model(model_name, project, region)
        model = aiplatform.Model.upload(
            display_name=model_name,
            artifact_uri=model_push.uri,
            serving_container_image_uri=custom_config.get(vertex_constants.VERTEX_CONTAINER_IMAGE_URI_KEY),
            parent_model=parent,
            model_id=None if parent else model_name,
            is_default_version=True,
            version_aliases=list(aliases),  # the SDK appends `default` to the list it is given
            version_description=f"lightrank pipeline run {run}",
            labels=labels,
            project=project,
            location=region,
        )
        model.wait()
        logging.info("Uploaded %s (version %s, aliases %s)", model.resource_name, model.version_id, aliases)

        # Before the deploy: a version whose evaluation failed to import takes no traffic.
        evaluation_name = self._import_evaluation(input_dict, model, run, labels, region)

        with telemetry_utils.scoped_labels(
            {telemetry_utils.LABEL_TFX_EXECUTOR: name_utils.get_full_name(self.__class__)}
        ):
            job_labels = telemetry_utils.make_labels_dict()
        endpoint_name = serving_args["endpoint_name"]
        endpoint = _endpoint(endpoint_name, {**serving_args.get("labels", {}), **job_labels}, project, region)
        deploy_body = {
            key: value
            for key, value in serving_args.items()
            if key not in ("endpoint_name", "project", "regions", "labels")
        }
        deploy_body.setdefault("traffic_percentage", 100)
        model.deploy(endpoint=endpoint, **deploy_body)
        model.wait()
        logging.info("Deployed %s to endpoint %s", model.versioned_resource_name, endpoint.resource_name)

        self._MarkPushed(model_push, pushed_destination=model.resource_name, pushed_version=model.version_id)
        model_push.set_string_custom_property(MODEL_PROPERTY, model.resource_name)
        model_push.set_string_custom_property(VERSION_PROPERTY, str(model.version_id))
        model_push.set_string_custom_property(VERSIONED_PROPERTY, model.versioned_resource_name)
        model_push.set_string_custom_property(ALIASES_PROPERTY, ",".join(aliases))
        model_push.set_string_custom_property(ENDPOINT_PROPERTY, endpoint.resource_name)
        if evaluation_name:
            model_push.set_string_custom_property(EVALUATION_PROPERTY, evaluation_name)

    def _import_evaluation(
        self,
        input_dict: dict[str, list[types.Artifact]],
        model: aiplatform.Model,
        run: str,
        labels: dict[str, str],
        region: str,
    ) -> str | None:
        """Imports the overall eval-split metrics as the new version's ModelEvaluation.

        Returns:
            The ModelEvaluation's resource name; None without an `evaluation` input.
        """
        evaluations = input_dict.get(EVALUATION_KEY)
        if not evaluations:
            logging.warning(
                "No evaluation input: version %s carries no evaluation", model.versioned_resource_name
            )
            return None
        uri = artifact_utils.get_single_instance(evaluations).uri
        payload = evaluation_payload(overall_metrics(uri), run, uri, labels)
        client = aiplatform_v1.ModelServiceClient(
            client_options={"api_endpoint": f"{region}-aiplatform.googleapis.com"}
        )
        imported = client.import_model_evaluation(
            parent=model.versioned_resource_name, model_evaluation=payload
        )
        logging.info("Imported the evaluation %s", imported.name)
        return imported.name


class VertexRegistryPusher(base_component.BaseComponent):
    """TFX's Vertex Pusher with `VertexRegistryPusherExecutor` and an `evaluation` input.

    A component of its own rather than `Pusher(...).with_executor(...)`: TFX's Pusher builds
    its `PusherSpec` itself, which has no place for the evaluation.
    """

    SPEC_CLASS = VertexRegistryPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(VertexRegistryPusherExecutor)

    def __init__(
        self,
        model: types.BaseChannel,
        model_blessing: types.BaseChannel,
        custom_config: dict[str, Any],
        evaluation: types.BaseChannel | None = None,
        pipeline_config: str = "",
        config_digest: str = "",
        code_version: str = "",
    ) -> None:
        """Builds the component.

        Args:
            model: The Trainer's model.
            model_blessing: The Evaluator's blessing; an unblessed model is not pushed.
            custom_config: `lightrank.kubeflow.cloud.vertex_serving_config`.
            evaluation: The Evaluator's output that blessed the model; its overall metrics
                become the version's evaluation in the registry.
            pipeline_config: The pipeline config as JSON (`run_settings(config)`).
            config_digest: `PipelineConfig.digest()`, the versions' `config-digest` label.
            code_version: The code version, the versions' `code-version` label.
        """
        spec = VertexRegistryPusherSpec(
            model=model,
            model_blessing=model_blessing,
            evaluation=evaluation,
            custom_config=json_utils.dumps(custom_config),
            pipeline_config=pipeline_config,
            config_digest=config_digest,
            code_version=code_version,
            pushed_model=types.Channel(type=standard_artifacts.PushedModel),
        )
        super().__init__(spec=spec)
