"""`VertexRegistryPusherExecutor`: each blessed push is a new, labelled, evaluated registry version.

Every Vertex AI call is replaced by a fake that records its request (`FakeVertex`), and
`google.auth.default` fails the test if anything reaches for credentials, so nothing here
touches the network. The evaluation is a real TFMA output: TFMA runs model-agnostic
(predictions in the data) on six rows, so the payload carries numbers TFMA computed and the
test checks them against hand-computed AUC and log loss.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from pathlib import Path
from typing import Any

import google.auth
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from google.cloud import aiplatform, aiplatform_v1
from tfx.dsl.components.base import base_executor
from tfx.types import standard_artifacts
from tfx.utils import json_utils, path_utils

from lightrank.components import vertex_pusher
from lightrank.components.model_evaluation import metrics_by_slice
from lightrank.components.vertex_pusher import (
    VertexRegistryPusher,
    VertexRegistryPusherExecutor,
    label_value,
    pipeline_run_of,
    run_alias,
)
from lightrank.kubeflow.cloud import vertex_serving_config
from lightrank.pipeline.config import SAMPLE_CONFIG, load_config
from lightrank.pipeline.pipeline import create_pipeline
from lightrank.pipeline.runner_settings import RunnerSettings

PROJECT = "my-project"
REGION = "europe-west4"
MODELS = f"projects/{PROJECT}/locations/{REGION}/models"
SERVING = (
    f"cloud={{project: {PROJECT}, region: {REGION}, "
    "vertex_serving: {endpoint_name: light-ranker, serving_image: 'europe-docker.pkg.dev/x/tf:2', "
    "machine_type: n1-standard-2, min_replicas: 1, max_replicas: 3, model_name: light_ranker}}"
)
#: (label, prediction, candidate.source): 3 clicks, 3 non-clicks.
ROWS = [(1, 0.9, "a"), (0, 0.2, "a"), (1, 0.6, "b"), (0, 0.4, "b"), (0, 0.7, "a"), (1, 0.3, "b")]


def _job_task_context(root: Path, job: str) -> base_executor.BaseExecutor.Context:
    """The Context TFX 1.16's Vertex entry point builds (kubeflow_v2_run_executor.py): no run id."""
    task = "Pusher_-4211"
    task_root = root / "123456789" / job / task
    return base_executor.BaseExecutor.Context(tmp_dir=str(task_root / ".temp"), unique_id=task)


@dataclasses.dataclass
class FakeModel:
    """What the executor reads of an `aiplatform.Model` and records what it deploys."""

    resource_name: str
    version_id: str
    version_aliases: list[str]
    deployed: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def versioned_resource_name(self) -> str:
        return f"{self.resource_name}@{self.version_id}"

    def wait(self) -> None:
        pass

    def deploy(self, **kwargs: Any) -> None:
        self.deployed.append(kwargs)


@dataclasses.dataclass
class FakeEndpoint:
    resource_name: str


class FakeVertex:
    """An in-memory Model Registry and endpoint list behind the aiplatform calls the executor makes."""

    def __init__(self) -> None:
        self.models: dict[str, list[FakeModel]] = {}  # display name -> versions
        self.uploads: list[dict[str, Any]] = []
        self.list_calls: list[dict[str, Any]] = []
        self.endpoints: list[FakeEndpoint] = []
        self.endpoint_creates: list[dict[str, Any]] = []
        self.evaluations: list[dict[str, Any]] = []
        self.client_options: list[Any] = []

    def model_list(self, filter: str, **kwargs: Any) -> list[FakeModel]:
        self.list_calls.append({"filter": filter, **kwargs})
        name = re.fullmatch(r'display_name="(.*)"', filter).group(1)
        versions = self.models.get(name, [])
        return [versions[-1]] if versions else []

    def upload(self, **kwargs: Any) -> FakeModel:
        self.uploads.append(kwargs)
        versions = self.models.setdefault(kwargs["display_name"], [])
        if kwargs["parent_model"] is None:
            resource = f"{MODELS}/{kwargs['model_id']}"
        else:
            resource = kwargs["parent_model"]
            assert resource == versions[0].resource_name
        model = FakeModel(resource, str(len(versions) + 1), list(kwargs["version_aliases"]))
        versions.append(model)
        return model

    def endpoint_list(self, filter: str, **kwargs: Any) -> list[FakeEndpoint]:
        return list(self.endpoints)

    def endpoint_create(self, **kwargs: Any) -> FakeEndpoint:
        self.endpoint_creates.append(kwargs)
        endpoint = FakeEndpoint(f"projects/{PROJECT}/locations/{REGION}/endpoints/77")
        self.endpoints.append(endpoint)
        return endpoint

    def model_service_client(self, client_options: Any = None) -> Any:
        self.client_options.append(client_options)
        fake = self

        class Client:
            def import_model_evaluation(
                self, parent: str, model_evaluation: aiplatform_v1.ModelEvaluation
            ) -> aiplatform_v1.ModelEvaluation:
                fake.evaluations.append({"parent": parent, "model_evaluation": model_evaluation})
                return aiplatform_v1.ModelEvaluation(name=f"{parent}/evaluations/{len(fake.evaluations)}")

        return Client()


@pytest.fixture
def vertex(monkeypatch: pytest.MonkeyPatch) -> FakeVertex:
    fake = FakeVertex()

    def no_credentials(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a test reached for Google credentials")

    monkeypatch.setattr(google.auth, "default", no_credentials)
    monkeypatch.setattr(aiplatform.Model, "list", fake.model_list)
    monkeypatch.setattr(aiplatform.Model, "upload", fake.upload)
    monkeypatch.setattr(aiplatform.Endpoint, "list", fake.endpoint_list)
    monkeypatch.setattr(aiplatform.Endpoint, "create", fake.endpoint_create)
    monkeypatch.setattr(aiplatform_v1, "ModelServiceClient", fake.model_service_client)
    return fake


@pytest.fixture(scope="module")
def evaluation_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real Evaluator-style TFMA output (overall and by source) of six scored rows."""
    root = tmp_path_factory.mktemp("tfma")
    data = str(root / "rows.tfrecord")
    with tf.io.TFRecordWriter(data) as writer:
        for label, prediction, source in ROWS:
            features = {
                "label": tf.train.Feature(float_list=tf.train.FloatList(value=[label])),
                "prediction": tf.train.Feature(float_list=tf.train.FloatList(value=[prediction])),
                "source": tf.train.Feature(bytes_list=tf.train.BytesList(value=[source.encode()])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())
    metrics = [
        tfma.MetricConfig(class_name="ExampleCount", config='{"name": "example_count"}'),
        tfma.MetricConfig(class_name="AUC", config='{"name": "auc_unweighted"}'),
        tfma.MetricConfig(
            class_name="AUCPrecisionRecall", config='{"name": "auc_precision_recall_unweighted"}'
        ),
        tfma.MetricConfig(class_name="BinaryCrossentropy", config='{"name": "log_loss_unweighted"}'),
    ]
    eval_config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="label", prediction_key="prediction")],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["source"])],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
    )
    out = str(root / "evaluation")
    tfma.run_model_analysis(eval_config=eval_config, data_location=data, output_path=out)
    return out


@dataclasses.dataclass
class Push:
    inputs: dict[str, list[Any]]
    outputs: dict[str, list[Any]]
    exec_properties: dict[str, Any]
    pushed: standard_artifacts.PushedModel


def _push_inputs(tmp_path: Path, evaluation_uri: str | None, blessed: bool = True) -> Push:
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    serving = Path(path_utils.serving_model_path(model.uri))
    serving.mkdir(parents=True)
    (serving / "saved_model.pb").write_bytes(b"model")
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing")
    blessing.set_int_custom_property("blessed", int(blessed))
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "pushed_model")
    inputs: dict[str, list[Any]] = {"model": [model], "model_blessing": [blessing]}
    if evaluation_uri is not None:
        evaluation = standard_artifacts.ModelEvaluation()
        evaluation.uri = evaluation_uri
        inputs["evaluation"] = [evaluation]
    config = load_config(SAMPLE_CONFIG, [SERVING])
    exec_properties = {
        "custom_config": json_utils.dumps(vertex_serving_config(config)),
        "pipeline_config": "{}",
        "config_digest": "0123abcd4567ef89",
        "code_version": "4f2a9c1e0b7d6a5c3e2f1a0b9c8d7e6f5a4b3c2d-dirty",
    }
    return Push(inputs, {"pushed_model": [pushed]}, exec_properties, pushed)


def _run(push: Push, context: base_executor.BaseExecutor.Context) -> None:
    VertexRegistryPusherExecutor(context).Do(push.inputs, push.outputs, push.exec_properties)


def test_the_first_push_creates_the_registry_model_named_model_name(vertex, tmp_path, evaluation_uri):
    push = _push_inputs(tmp_path, evaluation_uri)
    _run(push, _job_task_context(tmp_path / "root", "lightrank-20260301120000"))

    assert vertex.list_calls == [
        {
            "filter": 'display_name="light_ranker"',
            "order_by": "create_time",
            "project": PROJECT,
            "location": REGION,
        }
    ]
    [upload] = vertex.uploads
    assert upload == {
        "display_name": "light_ranker",
        "artifact_uri": push.pushed.uri,
        "serving_container_image_uri": "europe-docker.pkg.dev/x/tf:2",
        "parent_model": None,
        "model_id": "light_ranker",
        "is_default_version": True,
        "version_aliases": ["blessed", "run-lightrank-20260301120000"],
        "version_description": "lightrank pipeline run lightrank-20260301120000",
        "labels": {
            "pipeline-run": "lightrank-20260301120000",
            "code-version": "4f2a9c1e0b7d6a5c3e2f1a0b9c8d7e6f5a4b3c2d-dirty",
            "config-digest": "0123abcd4567ef89",
        },
        "project": PROJECT,
        "location": REGION,
    }
    # The model the version serves is the Trainer's, copied into the PushedModel as TFX does.
    assert (Path(push.pushed.uri) / "saved_model.pb").read_bytes() == b"model"

    # TFX's deployment: the endpoint is created on the first push, the version takes all traffic.
    assert vertex.endpoint_creates[0]["display_name"] == "light-ranker"
    assert vertex.endpoint_creates[0]["project"] == PROJECT
    model = vertex.models["light_ranker"][0]
    assert model.deployed == [
        {
            "endpoint": vertex.endpoints[0],
            "machine_type": "n1-standard-2",
            "min_replica_count": 1,
            "max_replica_count": 3,
            "traffic_percentage": 100,
        }
    ]

    props = push.pushed.mlmd_artifact.custom_properties
    assert props["pushed"].int_value == 1
    assert props["pushed_destination"].string_value == f"{MODELS}/light_ranker"
    assert props["pushed_version"].string_value == "1"
    assert props["vertex_model"].string_value == f"{MODELS}/light_ranker"
    assert props["vertex_model_version_id"].string_value == "1"
    assert props["vertex_model_version"].string_value == f"{MODELS}/light_ranker@1"
    assert props["vertex_model_version_aliases"].string_value == "blessed,run-lightrank-20260301120000"
    assert props["vertex_endpoint"].string_value == vertex.endpoints[0].resource_name
    assert props["vertex_model_evaluation"].string_value == f"{MODELS}/light_ranker@1/evaluations/1"


def test_the_second_push_is_a_new_default_version_of_the_first_model(vertex, tmp_path, evaluation_uri):
    _run(
        _push_inputs(tmp_path / "1", evaluation_uri), _job_task_context(tmp_path, "lightrank-20260301120000")
    )
    second = _push_inputs(tmp_path / "2", evaluation_uri)
    _run(second, _job_task_context(tmp_path, "lightrank-20260302120000"))

    first_upload, second_upload = vertex.uploads
    assert first_upload["parent_model"] is None
    assert second_upload["parent_model"] == f"{MODELS}/light_ranker"
    assert second_upload["model_id"] is None
    assert second_upload["display_name"] == "light_ranker"
    assert second_upload["is_default_version"] is True
    assert second_upload["version_aliases"] == ["blessed", "run-lightrank-20260302120000"]
    assert second_upload["labels"]["pipeline-run"] == "lightrank-20260302120000"
    assert len(vertex.models["light_ranker"]) == 2  # one registry model, two versions
    assert len(vertex.endpoint_creates) == 1  # the endpoint of the first push is reused
    assert vertex.models["light_ranker"][1].deployed[0]["endpoint"] is vertex.endpoints[0]
    props = second.pushed.mlmd_artifact.custom_properties
    assert props["vertex_model_version"].string_value == f"{MODELS}/light_ranker@2"
    assert [e["parent"] for e in vertex.evaluations] == [
        f"{MODELS}/light_ranker@1",
        f"{MODELS}/light_ranker@2",
    ]


def test_a_model_that_is_not_blessed_is_not_uploaded(vertex, tmp_path, evaluation_uri):
    push = _push_inputs(tmp_path, evaluation_uri, blessed=False)
    _run(push, _job_task_context(tmp_path, "lightrank-20260301120000"))
    assert vertex.uploads == [] and vertex.list_calls == [] and vertex.evaluations == []
    assert vertex.endpoint_creates == []
    assert push.pushed.mlmd_artifact.custom_properties["pushed"].int_value == 0
    assert not os.path.exists(push.pushed.uri)


def test_the_evaluation_import_carries_tfmas_overall_numbers(vertex, tmp_path, evaluation_uri):
    _run(_push_inputs(tmp_path, evaluation_uri), _job_task_context(tmp_path, "lightrank-20260301120000"))

    assert vertex.client_options == [{"api_endpoint": f"{REGION}-aiplatform.googleapis.com"}]
    [request] = vertex.evaluations
    assert request["parent"] == f"{MODELS}/light_ranker@1"
    payload = aiplatform_v1.ModelEvaluation.to_dict(request["model_evaluation"])
    assert payload["display_name"] == "lightrank-20260301120000 eval split"
    assert payload["metrics_schema_uri"] == (
        "gs://google-cloud-aiplatform/schema/modelevaluation/classification_metrics_1.0.0.yaml"
    )
    metrics = payload["metrics"]
    # The overall slice, not a `source` slice, and exactly what every view reads.
    assert metrics == {
        **metrics_by_slice(evaluation_uri)["Overall"],
        "auRoc": metrics["auc_unweighted"],
        "auPrc": metrics["auc_precision_recall_unweighted"],
        "logLoss": metrics["log_loss_unweighted"],
    }
    # ... and those are TFMA's real numbers for the six rows: 6 of 9 click/no-click pairs are
    # ordered right; log loss is the mean negative log-likelihood.
    assert metrics["example_count"] == 6
    assert metrics["auRoc"] == pytest.approx(6 / 9, abs=1e-3)
    log_loss = -sum(math.log(p if y else 1 - p) for y, p, _ in ROWS) / len(ROWS)
    assert metrics["logLoss"] == pytest.approx(log_loss, rel=1e-5)
    assert payload["metadata"] == {
        "pipeline_job_id": "lightrank-20260301120000",
        "evaluation_uri": evaluation_uri,
        "code_version": "4f2a9c1e0b7d6a5c3e2f1a0b9c8d7e6f5a4b3c2d-dirty",
        "config_digest": "0123abcd4567ef89",
    }


def test_without_an_evaluation_input_the_version_is_pushed_without_one(vertex, tmp_path):
    push = _push_inputs(tmp_path, None)
    _run(push, _job_task_context(tmp_path, "lightrank-20260301120000"))
    assert len(vertex.uploads) == 1 and vertex.evaluations == []
    assert "vertex_model_evaluation" not in push.pushed.mlmd_artifact.custom_properties


LABEL = re.compile(r"^[a-z0-9_-]{0,63}$")
ALIAS = re.compile(r"^[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]$")


@pytest.mark.parametrize(
    ("raw", "label", "alias"),
    [
        ("lightrank-20260301120000", "lightrank-20260301120000", "run-lightrank-20260301120000"),
        ("2026-03-01T12:00:00.123456", "2026-03-01t12-00-00-123456", "run-2026-03-01t12-00-00-123456"),
        ("Light Ranker/Run_7", "light-ranker-run_7", "run-light-ranker-run-7"),
        ("", "", "run-unknown"),
        ("___", "___", "run-unknown"),
    ],
)
def test_labels_and_aliases_are_sanitised_to_gcp_rules(raw, label, alias):
    assert label_value(raw) == label
    assert run_alias(raw) == alias
    assert LABEL.match(label_value(raw)) and ALIAS.match(run_alias(raw))


def test_long_values_are_cut_with_a_hash_so_runs_stay_distinct():
    first = "lightrank-" + "x" * 100 + "-20260301120000"
    second = "lightrank-" + "x" * 100 + "-20260302120000"
    assert len(label_value(first)) == 63 and LABEL.match(label_value(first))
    assert label_value(first) != label_value(second)
    long_alias = run_alias("r" * 300)
    assert len(long_alias) <= 128 and ALIAS.match(long_alias)
    assert run_alias("r" * 300) != run_alias("r" * 299 + "s")


def test_the_run_is_the_runners_id_or_the_vertex_job_in_the_task_path(tmp_path):
    local = base_executor.BaseExecutor.Context(pipeline_run_id="2026-03-01T12:00:00.1")
    assert pipeline_run_of(local) == "2026-03-01T12:00:00.1"
    assert (
        pipeline_run_of(_job_task_context(tmp_path, "lightrank-20260301120000")) == "lightrank-20260301120000"
    )
    assert (
        pipeline_run_of(base_executor.BaseExecutor.Context(tmp_dir="/x/.temp", unique_id="Task_1"))
        == "Task_1"
    )
    assert pipeline_run_of(base_executor.BaseExecutor.Context()) == "unknown"
    assert pipeline_run_of(None) == "unknown"


def test_the_vertex_pipeline_pushes_with_our_executor_and_the_blessing_evaluation():
    config = load_config(SAMPLE_CONFIG, [SERVING])
    pipeline = create_pipeline(config, runner=RunnerSettings(vertex_serving=vertex_serving_config(config)))
    nodes = {node.id: node for node in pipeline.components}
    pusher = nodes["Pusher"]
    assert isinstance(pusher, VertexRegistryPusher)
    assert pusher.executor_spec.executor_class is VertexRegistryPusherExecutor
    assert pusher.inputs["evaluation"].producer_component_id == "Evaluator"
    assert pusher.inputs["model_blessing"].producer_component_id == "Evaluator"
    assert pusher.exec_properties["config_digest"] == config.digest()
    assert pusher.exec_properties["code_version"]
    custom = json_utils.loads(pusher.exec_properties["custom_config"])
    assert custom[vertex_pusher.MODEL_NAME_KEY] == "light_ranker"


def test_the_local_pipeline_keeps_tfxs_filesystem_pusher():
    pipeline = create_pipeline(load_config(SAMPLE_CONFIG))
    pusher = {node.id: node for node in pipeline.components}["Pusher"]
    assert not isinstance(pusher, VertexRegistryPusher)
    assert "evaluation" not in pusher.inputs
