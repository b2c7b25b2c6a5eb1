"""`lightrank submit`: the exact requests sent to Vertex AI and Kubeflow Pipelines, with no network.

Vertex AI: the gRPC channel is replaced, so the CreatePipelineJob request is the
real serialized message the client would send (plus the artifact-bucket check,
which talks to Cloud Storage, replaced by a recorder). Kubeflow Pipelines: the
generated REST client's transport (`RESTClientObject.request`) is replaced, so
each HTTP call is recorded with its method, URL and JSON body.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, NamedTuple
from unittest import mock

import kfp
import pytest
import urllib3
from google.api_core import grpc_helpers
from google.auth.credentials import AnonymousCredentials
from google.cloud.aiplatform import pipeline_jobs
from google.cloud.aiplatform_v1.types import pipeline_job as gca_pipeline_job
from kfp_server_api import rest
from kubeflow_support import GCS_OVERRIDES, KUBEFLOW_EXAMPLE, sample_config

from lightrank import cli as pipeline_cli
from lightrank.components.run_values import RunParameterError
from lightrank.kubeflow import cli
from lightrank.kubeflow.compiler import compile_pipeline
from lightrank.kubeflow.errors import DeploymentError, SubmitError
from lightrank.kubeflow.submit import submit_kubeflow, submit_vertex

CLOUD = (
    "cloud={image: us-docker.pkg.dev/p/lightrank/pipeline:1, "
    "service_account: runner@p.iam.gserviceaccount.com}"
)


class FakeChannel:
    """A gRPC channel that records each unary call's request and answers with a PipelineJob."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []

    def unary_unary(self, method, request_serializer=None, response_deserializer=None, **_):
        def call(request, timeout=None, metadata=None, **__):
            self.requests.append((method, request_serializer(request)))
            region = request.parent.split("/")[-1]
            name = f"projects/123/locations/{region}/pipelineJobs/{request.pipeline_job_id}"
            return gca_pipeline_job.PipelineJob(name=name, display_name=request.pipeline_job.display_name)

        return call

    def __getattr__(self, name):  # streaming stubs and channel housekeeping: never called here
        return lambda *args, **kwargs: lambda *a, **k: None


@pytest.fixture()
def vertex_transport():
    channel = FakeChannel()
    with (
        mock.patch.object(grpc_helpers, "create_channel", return_value=channel),
        mock.patch.object(
            pipeline_jobs.gcs_utils, "create_gcs_bucket_for_pipeline_artifacts_if_it_does_not_exist"
        ) as bucket,
    ):
        yield channel, bucket


def _sent_job(channel: FakeChannel):
    from google.cloud.aiplatform_v1.types import pipeline_service

    [(method, wire)] = channel.requests
    assert method == "/google.cloud.aiplatform.v1.PipelineService/CreatePipelineJob"
    return pipeline_service.CreatePipelineJobRequest.deserialize(wire)


def test_vertex_sends_one_create_pipeline_job_with_the_parameters(tmp_path, vertex_transport):
    channel, bucket = vertex_transport
    config = sample_config(*GCS_OVERRIDES, CLOUD)
    compiled = compile_pipeline(config, "vertex", str(tmp_path / "p.json"))
    run = submit_vertex(
        compiled,
        config,
        project="my-project",
        region="europe-west4",
        parameter_values={"learning_rate": 0.01, "train_steps": 500, "data_root": "gs://b/2026-01-02"},
        enable_caching=False,
        credentials=AnonymousCredentials(),
    )
    request = _sent_job(channel)
    assert request.parent == "projects/my-project/locations/europe-west4"
    job = request.pipeline_job
    assert job.display_name == "lightrank-sample" and request.pipeline_job_id.startswith("lightrank-sample-")
    assert job.service_account == "runner@p.iam.gserviceaccount.com"
    assert job.runtime_config.gcs_output_directory == "gs://lightrank-test/pipeline"
    values = {key: value for key, value in job.runtime_config.parameter_values.items()}
    assert values == {"learning_rate": 0.01, "train_steps": 500, "data_root": "gs://b/2026-01-02"}
    spec = job.pipeline_spec
    assert set(spec["root"]["dag"]["tasks"]) == set(compiled.pipeline_spec["root"]["dag"]["tasks"])
    assert all(not task["cachingOptions"]["enableCache"] for task in spec["root"]["dag"]["tasks"].values())
    bucket.assert_called_once()
    assert bucket.call_args.kwargs["output_artifacts_gcs_dir"] == "gs://lightrank-test/pipeline"
    assert run.run_id == f"projects/123/locations/europe-west4/pipelineJobs/{request.pipeline_job_id}"
    assert run.url.endswith(f"/pipelines/runs/{request.pipeline_job_id}?project=my-project")


class Call(NamedTuple):
    """One HTTP request as the generated KFP client sent it."""

    method: str
    url: str
    body: Any
    query: dict[str, str]
    headers: dict[str, str]


class FakeKfpServer:
    """Answers the KFP v2beta1 REST calls `create_run_from_pipeline_package` makes, recording them."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def request(self, _client, method, url, query_params=None, headers=None, body=None, **_):
        self.calls.append(Call(method, url, body, dict(query_params or []), dict(headers or {})))
        path = url.split("/apis/v2beta1/", 1)[1]
        if path == "healthz":
            payload = {"multi_user": False}
        elif path == "experiments" and method == "GET":
            payload = {}  # no experiment with this name yet
        elif path == "experiments":
            payload = {"experiment_id": "exp-1", "display_name": body["display_name"]}
        elif path == "runs":
            payload = {"run_id": "run-42", "display_name": body["display_name"]}
        else:
            raise AssertionError(f"unexpected call {method} {url}")
        headers = {"Content-Type": "application/json"}
        return rest.RESTResponse(
            urllib3.HTTPResponse(body=json.dumps(payload).encode(), status=200, headers=headers)
        )


@pytest.fixture()
def kfp_server():
    server = FakeKfpServer()

    def request(client, *args, **kwargs):
        return server.request(client, *args, **kwargs)

    with (
        mock.patch.object(rest.RESTClientObject, "request", request),
        mock.patch.object(kfp.Client, "_LOCAL_KFP_CONTEXT", "/nonexistent/kfp/context.json"),
        mock.patch.object(kfp.Client, "_NAMESPACE_PATH", "/nonexistent/kfp/namespace"),
    ):
        yield server


def test_kubeflow_creates_the_experiment_then_the_run(tmp_path, kfp_server):
    config = sample_config(*GCS_OVERRIDES, CLOUD, "evaluation.compare_to_baseline=false")
    compiled = compile_pipeline(config, "kubeflow", str(tmp_path / "p.yaml"))
    run = submit_kubeflow(
        compiled,
        config,
        host="http://kfp.example:8080",
        parameter_values={"threshold_auc_unweighted_lower_bound": 0.7},
        enable_caching=True,
    )
    methods = [(call.method, call.url.split("/apis/v2beta1/")[1]) for call in kfp_server.calls]
    assert methods == [("GET", "healthz"), ("GET", "experiments"), ("POST", "experiments"), ("POST", "runs")]
    assert all(call.url.startswith("http://kfp.example:8080/apis/v2beta1/") for call in kfp_server.calls)
    assert kfp_server.calls[2].body["display_name"] == "lightrank-sample"
    assert not any("authorization" in call.headers for call in kfp_server.calls)  # no token given
    body = kfp_server.calls[3].body
    assert body["experiment_id"] == "exp-1" and body["display_name"].startswith("lightrank-sample ")
    assert body["runtime_config"] == {
        "parameters": {"threshold_auc_unweighted_lower_bound": 0.7},
        "pipeline_root": "gs://lightrank-test/pipeline",
    }
    assert (
        body["pipeline_spec"]["root"]["dag"]["tasks"].keys()
        == compiled.pipeline_spec["root"]["dag"]["tasks"].keys()
    )
    assert run.run_id == "run-42" and run.url == "http://kfp.example:8080/#/runs/details/run-42"


def test_a_refusing_kfp_server_is_one_clear_error(tmp_path):
    config = sample_config(*GCS_OVERRIDES, CLOUD, "evaluation.compare_to_baseline=false")
    compiled = compile_pipeline(config, "kubeflow", str(tmp_path / "p.yaml"))

    def forbidden(_client, method, url, **_):
        if url.endswith("healthz"):
            body = json.dumps({"multi_user": False}).encode()
            return rest.RESTResponse(urllib3.HTTPResponse(body=body, status=200))
        # What RESTClientObject.request raises on a non-2xx answer.
        denied = urllib3.HTTPResponse(
            body=b'{"error": "no access to namespace"}', status=403, reason="Forbidden"
        )
        raise rest.ApiException(http_resp=rest.RESTResponse(denied))

    with (
        mock.patch.object(rest.RESTClientObject, "request", forbidden),
        mock.patch.object(kfp.Client, "_LOCAL_KFP_CONTEXT", "/nonexistent/kfp/context.json"),
        pytest.raises(
            SubmitError, match="Kubeflow Pipelines at http://kfp:8080 refused the run: 403 Forbidden"
        ),
    ):
        submit_kubeflow(compiled, config, host="http://kfp:8080", parameter_values={}, enable_caching=True)


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="lightrank")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.handler(args)


def _gcs_sets() -> list[str]:
    return [arg for override in GCS_OVERRIDES for arg in ("--set", override)]


def test_submit_requires_an_explicit_image():
    with pytest.raises(SubmitError, match=r"set cloud.image in the config or pass --image"):
        _cli("submit", "--target", "vertex", "--project", "p", "--region", "r", *_gcs_sets())


def test_submit_checks_parameters_and_paths_before_calling_the_service(vertex_transport):
    channel, _ = vertex_transport
    common = ("submit", "--target", "vertex", "--project", "p", "--region", "r", "--image", "gcr.io/p/i:1")
    with pytest.raises(RunParameterError, match="'learning_rate' must be a number, got 'fast'"):
        _cli(*common, *_gcs_sets(), "--param", "learning_rate=fast")
    with pytest.raises(RunParameterError, match="'data_root' must be a gs:// location for a cloud run"):
        _cli(*common, *_gcs_sets(), "--param", "data_root=/home/me/candidates")
    with pytest.raises(DeploymentError, match=r"data\.path .* must be a gs:// location"):
        _cli(*common, "--set", "root=gs://b/r", "--set", "serving_dir=gs://b/s")
    with pytest.raises(SubmitError, match="needs --project and --region"):
        _cli("submit", "--target", "vertex", "--image", "gcr.io/p/i:1", *_gcs_sets())
    assert channel.requests == []


def test_submit_through_the_command_line(vertex_transport, capsys, tmp_path):
    channel, _ = vertex_transport
    out = tmp_path / "kept.json"
    with mock.patch("google.auth.default", return_value=(AnonymousCredentials(), "p")):
        code = _cli(
            "submit", "--target", "vertex", "--project", "p", "--region", "us-central1",
            "--image", "gcr.io/p/i:1", *_gcs_sets(), "--param", "train_steps=9", "--out", str(out),
        )  # fmt: skip
    assert code == 0
    request = _sent_job(channel)
    assert dict(request.pipeline_job.runtime_config.parameter_values) == {"train_steps": 9}
    assert (
        out.is_file()
        and json.loads(out.read_text())["pipelineSpec"]["pipelineInfo"]["name"] == "lightrank-sample"
    )
    printed = capsys.readouterr().out
    assert "Submitted 'lightrank-sample' to Vertex AI Pipelines: projects/123/" in printed
    assert "train_steps = 9" in printed


def test_compile_through_the_command_line(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert _cli("compile", "--target", "vertex", "--out", str(out), *_gcs_sets()) == 0
    assert json.loads(out.read_text())["pipelineSpec"]["root"]["inputDefinitions"]["parameters"][
        "train_steps"
    ]
    printed = capsys.readouterr()
    assert f"Compiled for Vertex AI Pipelines: {out}" in printed.out
    assert "lightrank-pipeline:latest (the default" in printed.out
    assert "learning_rate" in printed.out and printed.err == ""


KUBEFLOW_SUBMIT = ("submit", "--target", "kubeflow", "--config", KUBEFLOW_EXAMPLE)


def test_kubeflow_submit_reads_the_endpoint_and_token_from_the_environment(kfp_server, monkeypatch, capsys):
    monkeypatch.setenv("KF_PIPELINES_ENDPOINT", "http://kfp-env.example:8888")
    monkeypatch.setenv("KF_PIPELINES_TOKEN", "env-token")
    assert pipeline_cli.main([*KUBEFLOW_SUBMIT, "--param", "train_steps=250"]) == 0
    paths = [(call.method, call.url) for call in kfp_server.calls]
    assert paths == [
        ("GET", "http://kfp-env.example:8888/apis/v2beta1/healthz"),
        ("GET", "http://kfp-env.example:8888/apis/v2beta1/experiments"),
        ("POST", "http://kfp-env.example:8888/apis/v2beta1/experiments"),
        ("POST", "http://kfp-env.example:8888/apis/v2beta1/runs"),
    ]
    assert [call.headers.get("authorization") for call in kfp_server.calls] == ["Bearer env-token"] * 4
    run = kfp_server.calls[3].body
    assert run["runtime_config"] == {
        "parameters": {"train_steps": 250},
        "pipeline_root": "gs://my-bucket/lightrank/pipeline",
    }
    # The default experiment is the pipeline name; no --namespace: kfp sends its context's, "".
    assert kfp_server.calls[2].body == {"display_name": "lightrank", "namespace": ""}
    printed = capsys.readouterr().out
    assert "Submitted 'lightrank' to Kubeflow Pipelines: run-42" in printed
    assert "Follow it at http://kfp-env.example:8888/#/runs/details/run-42" in printed


def test_kubeflow_submit_sends_the_namespace_experiment_and_token_flags(kfp_server, monkeypatch):
    monkeypatch.setenv("KF_PIPELINES_ENDPOINT", "http://ignored.example")
    monkeypatch.setenv("KF_PIPELINES_TOKEN", "env-token")
    code = pipeline_cli.main(
        [
            *KUBEFLOW_SUBMIT, "--host", "https://kubeflow.example.com/pipeline",
            "--namespace", "team-ranking", "--experiment", "nightly", "--token", "flag-token", "--no-cache",
        ]
    )  # fmt: skip
    assert code == 0
    assert all(
        call.url.startswith("https://kubeflow.example.com/pipeline/apis/v2beta1/")
        for call in kfp_server.calls
    )
    # With a namespace given, kfp skips the healthz probe that looks for a multi-user deployment.
    lookup, create, run = kfp_server.calls
    assert lookup.method == "GET" and lookup.query["namespace"] == "team-ranking"
    assert json.loads(lookup.query["filter"])["predicates"] == [
        {"operation": 1, "key": "display_name", "stringValue": "nightly"}  # 1: EQUALS
    ]
    assert create.body == {"display_name": "nightly", "namespace": "team-ranking"}
    assert run.body["experiment_id"] == "exp-1" and run.body["display_name"].startswith("lightrank ")
    tasks = run.body["pipeline_spec"]["root"]["dag"]["tasks"].values()
    assert tasks and not any(task["cachingOptions"].get("enableCache") for task in tasks)  # --no-cache
    assert {call.headers.get("authorization") for call in kfp_server.calls} == {"Bearer flag-token"}


def test_kubeflow_submit_without_a_host_is_one_line_and_exit_2(kfp_server, monkeypatch, capsys):
    monkeypatch.delenv("KF_PIPELINES_ENDPOINT", raising=False)
    assert pipeline_cli.main(list(KUBEFLOW_SUBMIT)) == 2
    assert capsys.readouterr().err == (
        "lightrank: error: --target kubeflow needs --host or $KF_PIPELINES_ENDPOINT "
        "(the Kubeflow Pipelines API endpoint)\n"
    )
    assert kfp_server.calls == []
