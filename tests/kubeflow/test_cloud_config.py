"""The `cloud` config section: validation at load time, and what it turns into for the components."""

from __future__ import annotations

import pytest
from kubeflow_support import sample_config

from lightrank.errors import ConfigError
from lightrank.kubeflow.cloud import (
    DEFAULT_IMAGE,
    PROJECT_ROOT,
    beam_pipeline_args,
    pipeline_image,
    schema_file_in_image,
    vertex_serving_config,
    vertex_training_config,
)
from lightrank.kubeflow.compiler import compile_pipeline
from lightrank.kubeflow.errors import CompileError

SERVING = "{project: p, region: r, vertex_serving: {endpoint_name: e, serving_image: i, model_name: %s}}"
BASE = "cloud={project: my-project, region: europe-west4, temp_location: gs://b/tmp, image: reg/lightrank:7}"


def test_no_cloud_section_keeps_the_local_defaults():
    config = sample_config()
    assert config.cloud is None
    assert pipeline_image(config) == DEFAULT_IMAGE
    assert beam_pipeline_args(config) == list(config.beam_args)


INVALID = [
    ("{dataflow: {}}", "cloud.dataflow needs cloud.project"),
    ("{project: p, dataflow: {}}", "cloud.dataflow needs cloud.region"),
    ("{project: p, region: r, dataflow: {}}", "cloud.dataflow needs cloud.temp_location"),
    ("{project: p, bigquery: {query: 'SELECT 1'}}", "cloud.bigquery needs cloud.temp_location"),
    ("{temp_location: /tmp/beam}", "cloud.temp_location must be a gs:// location"),
    (
        "{project: p, region: r, vertex_training: {accelerator_count: 2}}",
        "accelerator_type and accelerator_count",
    ),
    (
        "{project: p, region: r, vertex_serving: {endpoint_name: e}}",
        "missing required key 'cloud.vertex_serving.serving_image'",
    ),
    (
        SERVING % "Light.Ranker",
        r"model_name 'Light.Ranker' is not a Vertex AI model ID: use 1-63 lower-case letters, digits, "
        "hyphens and underscores, starting with a letter",
    ),
    (
        SERVING % ("m" * 64),
        "is not a Vertex AI model ID",
    ),
    (
        "{project: p, region: r, vertex_serving: {endpoint_name: e, serving_image: i, model_name: 7up}}",
        "model ID",
    ),
    ("{image: 'has space'}", "cloud.image must be an image reference"),
    ("{imagee: x}", "unknown key 'cloud.imagee'.*did you mean 'image'"),
    (
        "{project: p, dataflow: {max_worker: 3}}",
        "unknown key 'cloud.dataflow.max_worker'.*did you mean 'max_workers'",
    ),
    (
        "{project: p, dataflow: {max_workers: many}}",
        "'cloud.dataflow.max_workers' .* must be an integer, got 'many'",
    ),
    ("{vertex_serving: {endpoint_name: e, serving_image: i, min_replicas: 1.5}}", "min_replicas' .* integer"),
    (
        "{project: p, region: r, temp_location: gs://t, dataflow: {max_workers: 0}}",
        "max_workers must be >= 1",
    ),
]


@pytest.mark.parametrize(("cloud", "message"), INVALID)
def test_invalid_cloud_settings_fail_when_the_config_loads(cloud, message):
    with pytest.raises(ConfigError, match=message):
        sample_config(f"cloud={cloud}")


def test_dataflow_runs_the_pipeline_image_on_workers():
    config = sample_config(
        BASE, "cloud.dataflow={machine_type: n2-standard-8, max_workers: 25, extra_args: [--disk_size_gb=50]}"
    )
    assert beam_pipeline_args(config) == [
        "--runner=DataflowRunner",
        "--project=my-project",
        "--region=europe-west4",
        "--temp_location=gs://b/tmp",
        "--machine_type=n2-standard-8",
        "--max_num_workers=25",
        "--sdk_container_image=reg/lightrank:7",
        "--sdk_location=container",
        "--disk_size_gb=50",
    ]


def test_without_dataflow_beam_runs_in_the_task_with_the_project_for_bigquery():
    config = sample_config(BASE, "cloud.bigquery={query: 'SELECT * FROM d.t'}")
    assert beam_pipeline_args(config) == [
        *config.beam_args,
        "--project=my-project",
        "--temp_location=gs://b/tmp",
    ]


def test_vertex_training_runs_the_pipeline_image_on_the_configured_machine():
    config = sample_config(
        BASE,
        "cloud.vertex_training={machine_type: a2-highgpu-1g, accelerator_type: NVIDIA_TESLA_A100, "
        "accelerator_count: 1}",
    )
    custom = vertex_training_config(config)
    assert custom["ai_platform_enable_vertex"] is True
    assert custom["ai_platform_vertex_region"] == "europe-west4"
    args = custom["ai_platform_training_args"]
    assert args["project"] == "my-project"
    [pool] = args["job_spec"]["worker_pool_specs"]
    assert pool == {
        "machine_spec": {
            "machine_type": "a2-highgpu-1g",
            "accelerator_type": "NVIDIA_TESLA_A100",
            "accelerator_count": 1,
        },
        "replica_count": 1,
        "container_spec": {"image_uri": "reg/lightrank:7"},
    }


def test_vertex_serving_deploys_to_the_named_endpoint():
    config = sample_config(
        BASE,
        "cloud.vertex_serving={endpoint_name: light-ranker, serving_image: 'us-docker.pkg.dev/x/tf:1', "
        "min_replicas: 2, max_replicas: 4}",
    )
    custom = vertex_serving_config(config)
    assert custom["ai_platform_vertex_container_image_uri"] == "us-docker.pkg.dev/x/tf:1"
    assert custom["ai_platform_serving_args"] == {
        "project_id": "my-project",
        "endpoint_name": "light-ranker",
        "machine_type": "n1-standard-4",
        "min_replica_count": 2,
        "max_replica_count": 4,
    }
    # The registry model every push adds a version to: the pipeline name by default.
    assert custom["lightrank_registry_model"] == "lightrank-sample"


def test_the_registry_model_is_model_name_or_a_pipeline_name_that_is_a_model_id():
    serving = "cloud.vertex_serving={endpoint_name: e, serving_image: i, model_name: light_ranker_v2}"
    assert (
        vertex_serving_config(sample_config(BASE, serving))["lightrank_registry_model"] == "light_ranker_v2"
    )
    config = sample_config(
        BASE, "name=" + "l" * 70, "cloud.vertex_serving={endpoint_name: e, serving_image: i}"
    )
    with pytest.raises(
        CompileError,
        match=r"cannot name the Vertex AI registry model .*set cloud\.vertex_serving\.model_name",
    ):
        vertex_serving_config(config)


def test_a_vertex_endpoint_compiles_into_our_registry_pusher_with_the_evaluation(tmp_path):
    config = sample_config(
        "root=gs://b/root",
        "data.path=gs://b/candidates",
        "cloud={project: p, region: us-central1, "
        "vertex_serving: {endpoint_name: lightrank, serving_image: 'us-docker.pkg.dev/x/y:1'}}",
    )
    spec = compile_pipeline(config, "vertex", str(tmp_path / "p.json")).pipeline_spec
    args = spec["deploymentSpec"]["executors"]["Pusher_executor"]["container"]["args"]
    assert args[args.index("--executor_class_path") + 1] == (
        "lightrank.components.vertex_pusher.VertexRegistryPusherExecutor"
    )
    pusher = spec["root"]["dag"]["tasks"]["Pusher"]
    assert pusher["inputs"]["artifacts"]["evaluation"]["taskOutputArtifact"] == {
        "producerTask": "Evaluator",
        "outputArtifactKey": "evaluation",
    }
    assert "triggerPolicy" in pusher  # still only for a new blessed model
    assert set(pusher["inputs"]["parameters"]) >= {"config_digest", "code_version", "custom_config"}


def test_the_schema_is_read_from_the_image_or_from_gcs(tmp_path):
    config = sample_config()
    assert config.schema.path == str(PROJECT_ROOT / "schema" / "sample" / "schema.pbtxt")
    assert schema_file_in_image(config) == "/lightrank/schema/sample/schema.pbtxt"
    assert schema_file_in_image(sample_config("schema.path=gs://b/schema.pbtxt")) == "gs://b/schema.pbtxt"
    outside = tmp_path / "schema.pbtxt"
    outside.write_text("")
    with pytest.raises(
        CompileError, match=f"schema.path {outside} is a local file the pipeline image does not"
    ):
        schema_file_in_image(sample_config(f"schema.path={outside}"))
