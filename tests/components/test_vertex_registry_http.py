"""The Vertex AI requests of a registry push, as they leave aiplatform 1.70 over HTTP.

`tests/components/test_vertex_pusher.py` replaces the aiplatform SDK's calls and checks what
the executor asks of them. This one keeps the whole SDK and its GAPIC clients and replaces
only the transport: the clients use Vertex AI's REST transport, whose HTTP requests are
answered by `FakeVertexHttp`, an in-memory Model Registry. So the tests assert the request
payloads Vertex would receive (`models:upload` with `parentModel`, aliases and labels,
`evaluations:import` with the metrics, `deployModel` with the machine), including what the SDK
adds on its own (the `default` alias of a default version).

The executor builds its evaluation client with `aiplatform_v1.ModelServiceClient(client_options=...)`,
on gRPC by default; here the same class is built on the REST transport with anonymous
credentials. No request reaches the network: an unexpected one fails the test.

Not asserted here: that a second push reuses the endpoint (tests/components/test_vertex_pusher.py
does). On the REST transport aiplatform 1.70's `Endpoint.list` finds no endpoint at all: its
list yields raw protobuf messages, whose empty `private_service_connect_config` is truthy, so
its public-endpoint filter drops every one. The executor, like TFX's, uses the gRPC default,
whose proto-plus messages that filter reads correctly.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import google.auth
import pytest
import requests
from google.auth import credentials as ga_credentials
from google.auth.transport import requests as ga_requests
from google.cloud import aiplatform_v1
from google.cloud.aiplatform import initializer
from tfx.dsl.components.base import base_executor
from tfx.types import standard_artifacts
from tfx.utils import io_utils, json_utils

from lightrank.components import vertex_pusher
from lightrank.kubeflow.cloud import vertex_serving_config
from lightrank.pipeline.config import SAMPLE_CONFIG, load_config

PROJECT, REGION = "my-project", "europe-west4"
LOCATION = f"projects/{PROJECT}/locations/{REGION}"
API = f"https://{REGION}-aiplatform.googleapis.com/v1/"
SERVING = (
    f"cloud={{project: {PROJECT}, region: {REGION}, "
    "vertex_serving: {endpoint_name: light-ranker, serving_image: 'europe-docker.pkg.dev/x/tf:2', "
    "machine_type: n1-standard-2, min_replicas: 1, max_replicas: 3, model_name: light_ranker}}"
)
#: What `metrics_by_slice` reads from the Evaluator's output (TFMA's numbers are checked in
#: tests/components/test_vertex_pusher.py; here only their way into the request matters).
OVERALL = {
    "auc_unweighted": 0.75,
    "log_loss_unweighted": 0.5,
    "example_count": 6.0,
    "rce_unweighted": float("nan"),
}
DEDICATED_RESOURCES = 1  # Model.DeploymentResourcesType, as the REST transport sends enums


def _operation(number: int, response_type: str, response: dict[str, Any]) -> dict[str, Any]:
    """A finished long-running operation, as Vertex returns one."""
    return {
        "name": f"{LOCATION}/operations/{number}",
        "done": True,
        "response": {"@type": f"type.googleapis.com/google.cloud.aiplatform.v1.{response_type}", **response},
    }


class FakeVertexHttp:
    """Vertex AI's REST API for the calls a push makes: models, evaluations, endpoints."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []
        self.models: dict[str, list[dict[str, Any]]] = {}  # model id -> its versions
        self.endpoints: list[dict[str, Any]] = []

    def calls(self, method: str, suffix: str) -> list[dict[str, Any] | None]:
        """The bodies of the requests `method .../suffix` (a regular expression over the path)."""
        return [body for m, path, body in self.requests if m == method and re.fullmatch(f".*{suffix}", path)]

    def request(self, method: str, url: str, data: Any = None, **kwargs: Any) -> requests.Response:
        """Answers one HTTP request of a GAPIC REST transport (`AuthorizedSession.request`)."""
        assert url.startswith(API), f"a request left for {url}"
        path = url[len(API) :].split("?", 1)[0]
        body = json.loads(data) if data else None
        query = dict(kwargs.get("params") or [])
        self.requests.append((method, path, body))
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(self._answer(method, path, body, query)).encode()
        response.headers["content-type"] = "application/json"
        response.request = requests.Request(method, url).prepare()
        return response

    def _version(self, model_id: str, version: str) -> dict[str, Any]:
        return self.models[model_id][int(version) - 1]

    def _answer(self, method: str, path: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
        if (method, path) == ("GET", f"{LOCATION}/models"):
            name = re.fullmatch(r'display_name="(.*)"', query["filter"]).group(1)
            found = [versions[-1] for versions in self.models.values() if versions[0]["displayName"] == name]
            return {"models": found}
        if (method, path) == ("POST", f"{LOCATION}/models:upload"):
            model_id = body.get("modelId") or body["parentModel"].rsplit("/", 1)[1]
            versions = self.models.setdefault(model_id, [])
            for version in versions:  # an alias names one version: Vertex moves it
                version["versionAliases"] = [
                    a for a in version["versionAliases"] if a not in body["model"]["versionAliases"]
                ]
            version = {**body["model"], "name": f"{LOCATION}/models/{model_id}",
                       "versionId": str(len(versions) + 1),
                       "supportedDeploymentResourcesTypes": [DEDICATED_RESOURCES]}  # fmt: skip
            versions.append(version)
            response = {"model": version["name"], "modelVersionId": version["versionId"]}
            return _operation(1, "UploadModelResponse", response)
        match = re.fullmatch(f"{LOCATION}/models/([^@/]+)@([0-9]+)(/evaluations:import)?", path)
        if match and method == "GET" and not match[3]:
            return self._version(match[1], match[2])
        if match and method == "POST" and match[3]:
            return {
                **body["modelEvaluation"],
                "name": f"{LOCATION}/models/{match[1]}@{match[2]}/evaluations/7",
            }
        if (method, path) == ("GET", f"{LOCATION}/endpoints"):
            return {"endpoints": self.endpoints}
        if (method, path) == ("POST", f"{LOCATION}/endpoints"):
            self.endpoints.append({**body, "name": f"{LOCATION}/endpoints/77"})
            return _operation(2, "Endpoint", self.endpoints[-1])
        if method == "GET" and path == f"{LOCATION}/endpoints/77":
            return self.endpoints[0]
        if method == "POST" and path == f"{LOCATION}/endpoints/77:deployModel":
            return _operation(
                3, "DeployModelResponse", {"deployedModel": {"id": "5", **body["deployedModel"]}}
            )
        raise AssertionError(f"unexpected request {method} {path}")


@pytest.fixture
def vertex(monkeypatch: pytest.MonkeyPatch) -> FakeVertexHttp:
    """The aiplatform SDK on the REST transport, answered by a fake; its settings restored afterwards."""
    fake = FakeVertexHttp()

    def no_credentials(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a test reached for Google credentials")

    anonymous = ga_credentials.AnonymousCredentials()
    monkeypatch.setattr(google.auth, "default", no_credentials)
    monkeypatch.setattr(
        ga_requests.AuthorizedSession,
        "request",
        lambda session, method, url, data=None, **kwargs: fake.request(method, url, data, **kwargs),
    )
    monkeypatch.setattr(initializer, "global_config", initializer._Config())
    initializer.global_config.init(api_transport="rest", credentials=anonymous)
    evaluation_client = functools.partial(
        aiplatform_v1.ModelServiceClient, transport="rest", credentials=anonymous
    )
    monkeypatch.setattr(aiplatform_v1, "ModelServiceClient", evaluation_client)
    monkeypatch.setattr(vertex_pusher, "metrics_by_slice", lambda uri: {"Overall": dict(OVERALL)})
    monkeypatch.setattr(io_utils, "copy_dir", lambda src, dst: None)  # a gs:// copy: not this test's concern
    return fake


def _push(tmp_path: Path, job: str, blessed: bool = True) -> standard_artifacts.PushedModel:
    """Runs the executor as TFX's Vertex entry point does for a task of pipeline job `job`."""
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    blessing = standard_artifacts.ModelBlessing()
    blessing.set_int_custom_property("blessed", int(blessed))
    evaluation = standard_artifacts.ModelEvaluation()
    evaluation.uri = f"gs://my-bucket/root/123/{job}/Evaluator_-1/evaluation"
    pushed = standard_artifacts.PushedModel()
    pushed.uri = f"gs://my-bucket/root/123/{job}/Pusher_-4211/pushed_model"
    exec_properties = {
        "custom_config": json_utils.dumps(vertex_serving_config(load_config(SAMPLE_CONFIG, [SERVING]))),
        "config_digest": "0123abcd4567ef89",
        "code_version": "4f2a9c1e",
    }
    task_root = tmp_path / "123" / job / "Pusher_-4211"
    context = base_executor.BaseExecutor.Context(tmp_dir=str(task_root / ".temp"), unique_id="Pusher_-4211")
    inputs = {"model": [model], "model_blessing": [blessing], "evaluation": [evaluation]}
    vertex_pusher.VertexRegistryPusherExecutor(context).Do(
        inputs, {"pushed_model": [pushed]}, exec_properties
    )
    return pushed


def test_the_first_push_creates_the_model_with_its_aliases_labels_evaluation_and_deployment(vertex, tmp_path):
    pushed = _push(tmp_path, "lightrank-20260301120000")
    (upload,) = vertex.calls("POST", "/models:upload")
    assert upload["modelId"] == "light_ranker" and "parentModel" not in upload
    assert upload["model"] == {
        "displayName": "light_ranker",
        "artifactUri": "gs://my-bucket/root/123/lightrank-20260301120000/Pusher_-4211/pushed_model",
        "containerSpec": {"imageUri": "europe-docker.pkg.dev/x/tf:2"},
        "versionAliases": ["blessed", "run-lightrank-20260301120000", "default"],  # the SDK adds `default`
        "versionDescription": "lightrank pipeline run lightrank-20260301120000",
        "labels": {
            "pipeline-run": "lightrank-20260301120000",
            "code-version": "4f2a9c1e",
            "config-digest": "0123abcd4567ef89",
        },
    }
    (evaluation,) = vertex.calls("POST", "/models/light_ranker@1/evaluations:import")
    assert evaluation["modelEvaluation"] == {
        "displayName": "lightrank-20260301120000 eval split",
        "metricsSchemaUri": vertex_pusher.METRICS_SCHEMA_URI,
        # Every finite overall metric, and the schema's fields; NaN (undefined) is left out.
        "metrics": {"auRoc": 0.75, "auc_unweighted": 0.75, "example_count": 6.0, "logLoss": 0.5,
                    "log_loss_unweighted": 0.5},
        "metadata": {"pipeline_job_id": "lightrank-20260301120000", "code_version": "4f2a9c1e",
                     "config_digest": "0123abcd4567ef89",
                     "evaluation_uri": "gs://my-bucket/root/123/lightrank-20260301120000/Evaluator_-1/evaluation"},
    }  # fmt: skip
    (endpoint,) = vertex.calls("POST", "/endpoints")
    assert endpoint["displayName"] == "light-ranker"
    (deploy,) = vertex.calls("POST", "/endpoints/77:deployModel")
    assert deploy == {
        "deployedModel": {
            "model": f"{LOCATION}/models/light_ranker@1",
            "dedicatedResources": {
                "machineSpec": {"machineType": "n1-standard-2"},
                "minReplicaCount": 1,
                "maxReplicaCount": 3,
            },
        },
        "trafficSplit": {"0": 100},
    }
    order = [f"{method} {path.rsplit('/', 1)[-1]}" for method, path, _ in vertex.requests if method == "POST"]
    assert order == ["POST models:upload", "POST evaluations:import", "POST endpoints", "POST 77:deployModel"]
    props = pushed.mlmd_artifact.custom_properties
    assert props["pushed_destination"].string_value == f"{LOCATION}/models/light_ranker"
    assert props["vertex_model_version"].string_value == f"{LOCATION}/models/light_ranker@1"
    assert props["vertex_model_evaluation"].string_value == f"{LOCATION}/models/light_ranker@1/evaluations/7"
    # The aliases asked for, not the list the SDK extended with `default` in place.
    assert props["vertex_model_version_aliases"].string_value == "blessed,run-lightrank-20260301120000"


def test_the_second_push_is_a_version_of_the_first_model_and_takes_the_blessed_alias(vertex, tmp_path):
    _push(tmp_path, "lightrank-20260301120000")
    pushed = _push(tmp_path, "lightrank-20260302120000")
    _, second = vertex.calls("POST", "/models:upload")
    assert second["parentModel"] == f"{LOCATION}/models/light_ranker" and "modelId" not in second
    assert second["model"]["versionAliases"] == ["blessed", "run-lightrank-20260302120000", "default"]
    assert second["model"]["labels"]["pipeline-run"] == "lightrank-20260302120000"
    versions = vertex.models["light_ranker"]
    assert [version["versionAliases"] for version in versions] == [
        ["run-lightrank-20260301120000"],
        ["blessed", "run-lightrank-20260302120000", "default"],
    ]
    (evaluation,) = vertex.calls("POST", "/models/light_ranker@2/evaluations:import")
    assert evaluation["modelEvaluation"]["displayName"] == "lightrank-20260302120000 eval split"
    assert pushed.mlmd_artifact.custom_properties["vertex_model_version_id"].string_value == "2"


def test_a_model_that_is_not_blessed_sends_no_request(vertex, tmp_path):
    pushed = _push(tmp_path, "lightrank-20260301120000", blessed=False)
    assert vertex.requests == []
    assert pushed.mlmd_artifact.custom_properties["pushed"].int_value == 0
