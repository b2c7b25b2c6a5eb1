"""`compile_pipeline`: schema-valid specs with every component, gate, resolver, parameter and image.

The compiled structure is also kept as a small normalised snapshot
(`snapshots/*.json`) a reviewer can diff; regenerate it with
`LIGHTRANK_UPDATE_SNAPSHOTS=1 pytest tests/kubeflow/test_compiler.py`.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from kubeflow_support import GCS_OVERRIDES, sample_config
from tfx import v1 as tfx

from lightrank.kubeflow.cloud import DEFAULT_IMAGE
from lightrank.kubeflow.compiler import check_nodes, compile_pipeline, validate_spec
from lightrank.kubeflow.errors import CompileError

SNAPSHOTS = Path(__file__).parent / "snapshots"
COMPONENTS = (
    "ImportExampleGen",
    "StatisticsGen",
    "ImportSchemaGen",
    "ExampleValidator",
    "AnomalyGate",
    "Transform",
    "Trainer",
    "Evaluator",
    "Pusher",
    "RunReport",
    "RunSummary",
)
RESOLVER_TASKS = (
    "latest_blessed_model_resolver-model-blessing-resolver",
    "latest_blessed_model_resolver-model-resolver",
)


def _parse_deployment(spec: dict) -> pipeline_spec_pb2.PipelineDeploymentConfig:
    """The executors: a free-form Struct inside PipelineSpec, so only this parse checks their fields."""
    return json_format.ParseDict(spec["deploymentSpec"], pipeline_spec_pb2.PipelineDeploymentConfig())


def _parse_job(path: str) -> pipeline_spec_pb2.PipelineJob:
    """Loads the Vertex file with the KFP protobuf classes; an unknown or mistyped field raises."""
    data = json.loads(Path(path).read_text())
    job = json_format.ParseDict(data, pipeline_spec_pb2.PipelineJob())
    json_format.ParseDict(data["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    _parse_deployment(data["pipelineSpec"])
    return job


def _parse_spec(path: str) -> pipeline_spec_pb2.PipelineSpec:
    data = yaml.safe_load(Path(path).read_text())
    _parse_deployment(data)
    return json_format.ParseDict(data, pipeline_spec_pb2.PipelineSpec())


def _executor_of(spec: dict, task: dict) -> str:
    label = spec["components"][task["componentRef"]["name"]]["executorLabel"]
    executor = spec["deploymentSpec"]["executors"][label]
    if "resolver" in executor:
        return "resolver"
    container = executor["container"]
    if "--executor_class_path" not in container["args"]:
        return " ".join(container["command"])  # kfp's own executor (the RunSummary)
    return container["args"][container["args"].index("--executor_class_path") + 1]


def normalised(spec: dict) -> dict:
    """The reviewable structure of a PipelineSpec: tasks, edges, gates, parameters, images."""
    tasks = {}
    for name, task in sorted(spec["root"]["dag"]["tasks"].items()):
        parameters = task.get("inputs", {}).get("parameters", {})
        tasks[name] = {
            "executor": _executor_of(spec, task),
            "depends_on": sorted(task.get("dependentTasks", [])),
            "trigger": task.get("triggerPolicy", {}).get("condition"),
            "cache": task.get("cachingOptions", {}).get("enableCache", False),
            "run_parameters": {
                key: value["componentInputParameter"]
                for key, value in sorted(parameters.items())
                if "componentInputParameter" in value
            },
        }
    inputs = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    images = {
        executor["container"]["image"]
        for executor in spec["deploymentSpec"]["executors"].values()
        if "container" in executor
    }
    return {
        "schema_version": spec["schemaVersion"],
        "pipeline": spec["pipelineInfo"]["name"],
        "images": sorted(images),
        "parameters": {
            name: {"type": value["parameterType"], "default": value.get("defaultValue")}
            for name, value in sorted(inputs.items())
        },
        "tasks": tasks,
    }


@pytest.mark.parametrize(
    ("fixture", "snapshot"),
    [
        ("vertex_gcs", "vertex.json"),
        ("kubeflow_gcs", "kubeflow.json"),
        ("vertex_example", "vertex.example.json"),
        ("kubeflow_example", "kubeflow.example.json"),
    ],
)
def test_compiled_structure_matches_the_snapshot(request, fixture, snapshot):
    compiled = request.getfixturevalue(fixture)
    actual = normalised(compiled.pipeline_spec)
    path = SNAPSHOTS / snapshot
    if os.environ.get("LIGHTRANK_UPDATE_SNAPSHOTS"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    assert actual == json.loads(path.read_text()), f"regenerate with LIGHTRANK_UPDATE_SNAPSHOTS=1 ({path})"


def test_the_default_config_compiles_for_vertex_into_a_schema_valid_pipeline_job(vertex_default):
    job = _parse_job(vertex_default.path)
    spec = json_format.MessageToDict(job)["pipelineSpec"]
    assert spec["schemaVersion"] == "2.1.0" and spec["pipelineInfo"]["name"] == "lightrank-sample"
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {*COMPONENTS, *RESOLVER_TASKS}
    assert all(tasks[name]["cachingOptions"]["enableCache"] for name in COMPONENTS)
    assert {
        e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values() if "container" in e
    } == {DEFAULT_IMAGE}
    assert vertex_default.image == DEFAULT_IMAGE
    # The sample config's paths are local: compiled with warnings, not refused (no `cloud:` section).
    # One line lists every local path and says where such a spec runs (not one warning per path).
    (warning,) = vertex_default.warnings
    assert "\n" not in warning and "lightrank run-spec" in warning and "gs://" in warning
    assert all(f"{key} " in warning for key in ("root", "data.path", "serving_dir"))
    assert job.runtime_config.gcs_output_directory.endswith("runs/sample/pipeline")


def test_the_verified_pusher_runs_for_every_blessed_model(vertex_default):
    # It skips a model already pushed itself; "differs from the baseline" stayed false for ever
    # once a push had failed (docs/reliability.md, Push).
    pusher = vertex_default.pipeline_spec["root"]["dag"]["tasks"]["Pusher"]
    condition = pusher["triggerPolicy"]["condition"]
    assert condition == "(inputs.artifacts['_Evaluator.blessing'].artifacts[0].metadata['blessed'] == 1.0)"
    assert set(pusher["dependentTasks"]) == {"Evaluator", "Trainer"}
    executor = vertex_default.pipeline_spec["deploymentSpec"]["executors"]["Pusher_executor"]
    assert executor["container"]["args"][1] == "lightrank.components.verified_pusher.VerifiedPusherExecutor"


def test_the_baseline_resolver_compiles_into_two_vertex_resolver_tasks(vertex_default):
    spec = vertex_default.pipeline_spec
    executors = spec["deploymentSpec"]["executors"]
    blessing_query = executors[f"{RESOLVER_TASKS[0]}_executor"]["resolver"]["outputArtifactQueries"]
    model_query = executors[f"{RESOLVER_TASKS[1]}_executor"]["resolver"]["outputArtifactQueries"]
    assert 'schema_title="tfx.ModelBlessing"' in blessing_query["model_blessing"]["filter"]
    assert "metadata['current_model_id']" in model_query["model"]["filter"]
    evaluator = spec["root"]["dag"]["tasks"]["Evaluator"]
    assert (
        evaluator["inputs"]["artifacts"]["baseline_model"]["taskOutputArtifact"]["producerTask"]
        == (RESOLVER_TASKS[1])
    )


def test_run_parameters_are_pipeline_inputs_with_their_defaults(vertex_default):
    spec = vertex_default.pipeline_spec
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    config = sample_config()
    expected = {
        "data_root": ("STRING", config.data.path),
        "train_steps": ("NUMBER_INTEGER", vertex_default.parameters["train_steps"].default),
        "learning_rate": ("NUMBER_DOUBLE", vertex_default.parameters["learning_rate"].default),
        "threshold_auc_unweighted_lower_bound": (
            "NUMBER_DOUBLE",
            config.evaluation.thresholds["auc_unweighted"].lower_bound,
        ),
    }
    for name, (ptype, default) in expected.items():
        assert inputs[name]["parameterType"] == ptype, name
        assert inputs[name]["defaultValue"] == default and inputs[name]["isOptional"] is True, name
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["ImportExampleGen"]["inputs"]["parameters"]["input_base"] == {
        "componentInputParameter": "data_root"
    }
    trainer = tasks["Trainer"]["inputs"]["parameters"]
    assert trainer["learning_rate"] == {"componentInputParameter": "learning_rate"}
    assert trainer["train_steps"] == {"componentInputParameter": "train_steps"}
    evaluator = tasks["Evaluator"]["inputs"]["parameters"]
    assert evaluator["threshold_auc_unweighted_lower_bound"] == {
        "componentInputParameter": "threshold_auc_unweighted_lower_bound"
    }
    assert (
        _executor_of(spec, tasks["Trainer"]) == "lightrank.components.runtime_trainer.RuntimeTrainerExecutor"
    )
    assert (
        _executor_of(spec, tasks["Evaluator"])
        == "lightrank.components.runtime_evaluator.RuntimeEvaluatorExecutor"
    )


def test_user_code_is_referenced_by_dotted_path_and_the_schema_from_the_image(vertex_default):
    tasks = vertex_default.pipeline_spec["root"]["dag"]["tasks"]
    constant = lambda task, key: tasks[task]["inputs"]["parameters"][key]["runtimeValue"]["constant"]  # noqa: E731
    assert constant("Trainer", "run_fn") == "lightrank.models.trainer.run_fn"
    assert constant("Transform", "preprocessing_fn") == "lightrank.models.preprocessing.preprocessing_fn"
    assert "module_file" not in tasks["Trainer"]["inputs"]["parameters"]
    assert constant("ImportSchemaGen", "schema_file") == "/lightrank/schema/sample/schema.pbtxt"


def test_the_kubeflow_yaml_is_a_valid_pipeline_spec_without_resolvers(kubeflow_gcs):
    spec = json_format.MessageToDict(_parse_spec(kubeflow_gcs.path))
    assert Path(kubeflow_gcs.path).read_text().startswith("# PIPELINE DEFINITION\n# Name: lightrank-sample\n")
    assert set(spec["root"]["dag"]["tasks"]) == set(COMPONENTS)
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    assert inputs["data_root"]["defaultValue"] == "gs://lightrank-test/candidates"
    assert not any(name.endswith("_absolute") for name in inputs)  # no baseline: no change gates
    assert kubeflow_gcs.warnings == ()


def test_the_default_config_is_refused_for_kubeflow_because_of_its_baseline_resolver(tmp_path):
    with pytest.raises(
        CompileError, match=r"latest_blessed_model_resolver: open-source Kubeflow .*compare_to_baseline=false"
    ):
        compile_pipeline(sample_config(), "kubeflow", str(tmp_path / "p.yaml"))
    with pytest.raises(CompileError, match="latest_model_resolver"):
        compile_pipeline(
            sample_config("evaluation.compare_to_baseline=false", "model.warm_start=true"),
            "kubeflow",
            str(tmp_path / "p.yaml"),
        )
    assert not (tmp_path / "p.yaml").exists()


def test_an_unsupported_resolver_strategy_is_named_at_compile_time():
    rolling = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.SpanRangeStrategy,
        config={"range_config": tfx.proto.RangeConfig(rolling_range=tfx.proto.RollingRange(num_spans=2))},
        examples=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Examples),
    ).with_id("rolling_window")
    with pytest.raises(
        CompileError,
        match=r"rolling_window: resolver strategy SpanRangeStrategy .*\(supported: LatestBlessed",
    ):
        check_nodes([rolling], "vertex")


def test_local_paths_in_a_cloud_config_are_errors(tmp_path):
    config = sample_config("cloud={image: gcr.io/p/lightrank:1}")
    with pytest.raises(CompileError, match=r"root .* must be a gs:// location.*data.path .*serving_dir"):
        compile_pipeline(config, "vertex", str(tmp_path / "p.json"))
    # No other remote store either: the image's TensorFlow has no s3:// or minio:// file system.
    remote = sample_config(
        "root=s3://b/root", "data.path=minio://b/data", "serving_dir=gs://b/serving",
        "evaluation.compare_to_baseline=false",
    )  # fmt: skip
    with pytest.raises(CompileError, match=r"root s3://b/root must be a gs:// location.*data\.path minio://"):
        compile_pipeline(remote, "kubeflow", str(tmp_path / "p.yaml"), strict=True)


def test_bigquery_and_a_vertex_endpoint_replace_the_data_and_serving_paths(tmp_path):
    config = sample_config(
        "root=gs://b/root",
        "cloud={project: p, region: us-central1, temp_location: gs://b/tmp, "
        "bigquery: {query: 'SELECT * FROM d.candidates'}, "
        "vertex_serving: {endpoint_name: lightrank, serving_image: 'us-docker.pkg.dev/x/y:1'}}",
    )
    compiled = compile_pipeline(config, "vertex", str(tmp_path / "p.json"))
    tasks = compiled.pipeline_spec["root"]["dag"]["tasks"]
    assert "BigQueryExampleGen" in tasks and "ImportExampleGen" not in tasks
    assert "data_root" not in compiled.parameters
    executors = compiled.pipeline_spec["deploymentSpec"]["executors"]
    pusher = executors["Pusher_executor"]["container"]["args"][1]
    assert pusher == "lightrank.components.vertex_pusher.VertexRegistryPusherExecutor"
    # The registry Pusher has no "already pushed" check of its own: only a new blessed model.
    condition = tasks["Pusher"]["triggerPolicy"]["condition"]
    assert "inputs.artifacts['_Evaluator.blessing'].artifacts[0].metadata['blessed'] == 1.0" in condition
    assert "metadata['differs_from_baseline'] == 1.0" in condition
    assert "baseline_model_id" not in condition  # absent on Vertex's first run: not comparable there


def test_wrong_extension_and_bad_names_are_refused(tmp_path):
    with pytest.raises(CompileError, match=r"a vertex pipeline is written as \.json"):
        compile_pipeline(sample_config(*GCS_OVERRIDES), "vertex", str(tmp_path / "p.yaml"))
    with pytest.raises(CompileError, match="not a valid Vertex AI pipeline name"):
        compile_pipeline(
            sample_config(*GCS_OVERRIDES, "name=Light_Rank"), "vertex", str(tmp_path / "p.json"), strict=True
        )


def test_validate_spec_checks_the_executors_too(vertex_gcs):
    validate_spec(vertex_gcs.job)  # the compiled job itself is valid
    job = copy.deepcopy(vertex_gcs.job)
    job["pipelineSpec"]["deploymentSpec"]["executors"]["Trainer_executor"]["container"]["imageTag"] = "v1"
    # deploymentSpec is a free-form Struct in PipelineSpec: that parse alone lets the typo through.
    json_format.ParseDict(job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    with pytest.raises(
        CompileError, match=r"does not match the KFP PipelineSpec schema: .*no field named \"imageTag\""
    ):
        validate_spec(job)
    job = copy.deepcopy(vertex_gcs.job)
    job["pipelineSpec"]["root"]["dag"]["tasks"]["Trainer"]["retryPolicyy"] = {}
    with pytest.raises(CompileError, match="retryPolicyy"):
        validate_spec(job)


def test_without_the_cache_no_task_is_cached(tmp_path):
    compiled = compile_pipeline(
        sample_config(*GCS_OVERRIDES, "enable_cache=false"), "vertex", str(tmp_path / "p.json")
    )
    written = json_format.MessageToDict(_parse_job(compiled.path))["pipelineSpec"]
    for spec in (compiled.pipeline_spec, written):
        tasks = spec["root"]["dag"]["tasks"]
        assert set(tasks) == {*COMPONENTS, *RESOLVER_TASKS}
        cached = [name for name, task in tasks.items() if task.get("cachingOptions", {}).get("enableCache")]
        assert cached == []


def test_a_gpu_for_vertex_training_is_refused_at_compile_time(tmp_path):
    config = sample_config(
        *GCS_OVERRIDES,
        "cloud={image: gcr.io/p/lightrank:1, project: p, region: us-central1, "
        "vertex_training: {machine_type: n1-standard-8, accelerator_type: NVIDIA_TESLA_T4, "
        "accelerator_count: 1}}",
    )
    with pytest.raises(
        CompileError,
        match=r"^cloud\.vertex_training\.accelerator_type NVIDIA_TESLA_T4 asks for a GPU, but the pipeline "
        r"image has no CUDA libraries: the job would train on the CPU",
    ):
        compile_pipeline(config, "vertex", str(tmp_path / "p.json"))
    with pytest.raises(CompileError, match="accelerator_type"):
        compile_pipeline(config, "kubeflow", str(tmp_path / "p.yaml"))
    assert list(tmp_path.iterdir()) == []
