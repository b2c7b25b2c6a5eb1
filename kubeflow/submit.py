"""`lightrank submit`: start a run of a compiled pipeline on Vertex AI or Kubeflow Pipelines.

Vertex AI goes through `google.cloud.aiplatform.PipelineJob` (one
CreatePipelineJob call), Kubeflow Pipelines through `kfp.Client` (find or create
the experiment, then CreateRun). Both send the run parameters given with
`--param`, already checked against the compiled pipeline's parameters, so a
typo or a wrong type is reported here rather than by the service.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Mapping
from typing import Any

from lightrank.components.run_values import DATA_ROOT, RunParameterError, Value
from lightrank.kubeflow.compiler import CompiledPipeline
from lightrank.kubeflow.errors import SubmitError
from lightrank.pipeline.config import PipelineConfig

VERTEX_CONSOLE = (
    "https://console.cloud.google.com/vertex-ai/locations/{region}/pipelines/runs/{job}?project={project}"
)


@dataclasses.dataclass(frozen=True)
class SubmittedRun:
    """A run the service accepted.

    Attributes:
        target: `vertex` or `kubeflow`.
        run_id: The Vertex PipelineJob resource name, or the Kubeflow run id.
        url: Where to follow it in a browser.
    """

    target: str
    run_id: str
    url: str


def require_image(config: PipelineConfig) -> str:
    """The explicitly configured pipeline image; the compile-time default is not enough to run.

    Raises:
        SubmitError: Neither `cloud.image` nor `--image` was given.
    """
    if config.cloud is None or not config.cloud.image:
        raise SubmitError(
            "submit needs the pipeline image the cloud can pull: set cloud.image in the config or pass "
            "--image (build it with `make image IMAGE=...` and push it to your registry)"
        )
    return config.cloud.image


def check_cloud_values(values: Mapping[str, Value]) -> None:
    """Rejects run parameter values only a local run could use.

    Raises:
        RunParameterError: A `data_root` that is not a gs:// location.
    """
    data_root = values.get(DATA_ROOT)
    if isinstance(data_root, str) and not data_root.startswith("gs://"):
        raise RunParameterError(
            f"run parameter '{DATA_ROOT}' must be a gs:// location for a cloud run, got {data_root!r}"
        )


def submit_vertex(
    compiled: CompiledPipeline,
    config: PipelineConfig,
    *,
    project: str,
    region: str,
    parameter_values: Mapping[str, Value],
    enable_caching: bool,
    credentials: Any = None,
) -> SubmittedRun:
    """Creates a Vertex AI PipelineJob from the compiled PipelineJob JSON.

    Args:
        compiled: The pipeline compiled for `vertex`.
        config: Its config (name, pipeline root, service account).
        project: The Google Cloud project to run in.
        region: The Vertex AI region.
        parameter_values: Run parameter values; the others take their defaults.
        enable_caching: Let Vertex reuse the outputs of unchanged tasks.
        credentials: Google credentials; None uses the application default ones.

    Raises:
        SubmitError: No credentials, or Vertex AI refused the job.
    """
    from google.api_core import exceptions as api_exceptions
    from google.auth import exceptions as auth_exceptions
    from google.cloud import aiplatform

    if compiled.target != "vertex":
        raise SubmitError(f"{compiled.path} was compiled for {compiled.target}, not vertex")
    try:
        job = aiplatform.PipelineJob(
            display_name=config.name,
            template_path=compiled.path,
            pipeline_root=config.root,
            parameter_values=dict(parameter_values),
            enable_caching=enable_caching,
            project=project,
            location=region,
            credentials=credentials,
        )
        job.submit(service_account=config.cloud.service_account if config.cloud else None)
    except auth_exceptions.DefaultCredentialsError as error:
        raise SubmitError(
            f"no Google Cloud credentials ({error}); run `gcloud auth application-default login`"
        ) from error
    except api_exceptions.GoogleAPIError as error:
        raise SubmitError(f"Vertex AI refused the pipeline job: {error}") from error
    job_id = job.resource_name.rsplit("/", 1)[-1]
    return SubmittedRun(
        target="vertex",
        run_id=job.resource_name,
        url=VERTEX_CONSOLE.format(region=region, job=job_id, project=project),
    )


def submit_kubeflow(
    compiled: CompiledPipeline,
    config: PipelineConfig,
    *,
    host: str,
    parameter_values: Mapping[str, Value],
    enable_caching: bool,
    experiment: str | None = None,
    namespace: str | None = None,
    token: str | None = None,
    client_factory: Callable[..., Any] | None = None,
) -> SubmittedRun:
    """Creates a run of the compiled PipelineSpec YAML on a Kubeflow Pipelines v2 API server.

    Args:
        compiled: The pipeline compiled for `kubeflow`.
        config: Its config (name, pipeline root).
        host: The KFP API endpoint, e.g. `http://localhost:8080` (port-forwarded ml-pipeline-ui).
        parameter_values: Run parameter values; the others take their defaults.
        enable_caching: Let KFP reuse the outputs of unchanged tasks.
        experiment: The experiment to file the run under (default: the pipeline name).
        namespace: The Kubernetes namespace (multi-user deployments).
        token: A bearer token for a multi-user deployment behind an authenticating
            proxy (Dex, IAP); sent as the `Authorization` header of every request.
            None: no header (a port-forwarded or single-user API server).
        client_factory: Builds the client (default `kfp.Client`); tests pass their own.

    Raises:
        SubmitError: The server cannot be reached or refused the run.
    """
    import kfp
    import kfp_server_api
    import urllib3

    if compiled.target != "kubeflow":
        raise SubmitError(f"{compiled.path} was compiled for {compiled.target}, not kubeflow")
    factory = client_factory or kfp.Client
    try:
        client = factory(host=host, namespace=namespace or "kubeflow", existing_token=token)
        result = client.create_run_from_pipeline_package(
            compiled.path,
            arguments=dict(parameter_values),
            run_name=f"{config.name} {datetime.datetime.now():%Y-%m-%d %H:%M:%S}",
            experiment_name=experiment or config.name,
            namespace=namespace,
            pipeline_root=config.root,
            enable_caching=enable_caching,
        )
    except kfp_server_api.ApiException as error:
        raise SubmitError(
            f"Kubeflow Pipelines at {host} refused the run: {error.status} {error.reason}"
        ) from error
    except urllib3.exceptions.HTTPError as error:
        raise SubmitError(f"cannot reach Kubeflow Pipelines at {host}: {error}") from error
    return SubmittedRun(
        target="kubeflow", run_id=result.run_id, url=f"{host.rstrip('/')}/#/runs/details/{result.run_id}"
    )
