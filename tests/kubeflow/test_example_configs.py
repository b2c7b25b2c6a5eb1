"""The shipped example configs compile as they are, into the cloud set-up their comments describe.

`pipeline/configs/vertex.example.yaml` (Dataflow, a Vertex AI training job) and
`pipeline/configs/kubeflow.example.yaml` (no resolver tasks, Beam inside each pod)
are what docs/deploy.md tells people to start from; their compiled structure is
also snapshotted in test_compiler.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from kubeflow_support import KUBEFLOW_EXAMPLE, VERTEX_EXAMPLE

from lightrank import cli as pipeline_cli

IMAGE = "us-central1-docker.pkg.dev/my-project/lightrank/pipeline:v1"
#: What `cloud.dataflow` in the Vertex example turns into, flag by flag.
DATAFLOW_ARGS = [
    "--runner=DataflowRunner",
    "--project=my-project",
    "--region=us-central1",
    "--temp_location=gs://my-bucket/lightrank/tmp",
    "--machine_type=n1-standard-4",
    "--max_num_workers=10",
    f"--sdk_container_image={IMAGE}",
    "--sdk_location=container",
    "--disk_size_gb=50",
]
BEAM_COMPONENTS = ("StatisticsGen", "Transform", "Evaluator")


def _container(spec: dict, task: str) -> dict:
    label = spec["components"][spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]]["executorLabel"]
    return spec["deploymentSpec"]["executors"][label]["container"]


def _executor_class(container: dict) -> str:
    args = container["args"]
    return args[args.index("--executor_class_path") + 1]


def _beam_args(container: dict) -> list[str]:
    """The arguments after TFX's own flags: the pipeline's Beam arguments."""
    args = container["args"]
    return args[args.index("--json_serialized_inputs_spec_args") + 2 :]


def _constant(spec: dict, task: str, name: str) -> object:
    return spec["root"]["dag"]["tasks"][task]["inputs"]["parameters"][name]["runtimeValue"]["constant"]


def test_the_vertex_example_runs_beam_on_dataflow_and_trains_in_a_vertex_job(vertex_example):
    spec = vertex_example.pipeline_spec
    assert vertex_example.warnings == () and vertex_example.image == IMAGE
    for task in BEAM_COMPONENTS:
        assert _beam_args(_container(spec, task)) == DATAFLOW_ARGS, task

    trainer = _container(spec, "Trainer")
    assert _executor_class(trainer) == "lightrank.components.runtime_trainer.VertexRuntimeTrainerExecutor"
    custom_config = json.loads(_constant(spec, "Trainer", "custom_config"))
    assert custom_config["ai_platform_enable_vertex"] is True
    assert custom_config["ai_platform_vertex_region"] == "us-central1"
    assert custom_config["ai_platform_training_args"] == {
        "project": "my-project",
        "job_spec": {
            "worker_pool_specs": [
                {
                    "machine_spec": {"machine_type": "n1-highmem-8"},
                    "replica_count": 1,
                    "container_spec": {"image_uri": IMAGE},
                }
            ]
        },
    }
    # The model settings (the default preset's rate) travel with it: the custom job's run_fn reads them.
    assert custom_config["kind"] == "deepnorm" and custom_config["training"]["learning_rate"] == 0.1
    # With Dataflow the config's local DirectRunner arguments are not passed at all.
    assert not any(arg.startswith("--direct_") for arg in _beam_args(trainer))


def test_the_kubeflow_example_has_no_resolvers_and_runs_beam_in_the_pod(kubeflow_example):
    spec = kubeflow_example.pipeline_spec
    assert kubeflow_example.warnings == () and kubeflow_example.image == IMAGE
    executors = spec["deploymentSpec"]["executors"].values()
    assert not any("resolver" in executor for executor in executors)
    assert (
        _executor_class(_container(spec, "Trainer"))
        == "lightrank.components.runtime_trainer.RuntimeTrainerExecutor"
    )
    for task in BEAM_COMPONENTS:
        assert _beam_args(_container(spec, task)) == [
            "--direct_running_mode=in_memory",
            "--direct_num_workers=1",
        ], task
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    assert sorted(inputs) == [
        "data_root",
        "learning_rate",
        "threshold_auc_unweighted_lower_bound",
        "threshold_rce_unweighted_lower_bound",
        "train_steps",
    ]
    assert inputs["data_root"]["defaultValue"] == "gs://my-bucket/candidates/2026-01-01"


@pytest.mark.parametrize("fixture", ["vertex_example", "kubeflow_example"])
def test_every_executor_runs_the_configured_image(request, fixture):
    spec = request.getfixturevalue(fixture).pipeline_spec
    executors = spec["deploymentSpec"]["executors"]
    containers = [executor["container"] for executor in executors.values() if "container" in executor]
    resolvers = [executor for executor in executors.values() if "resolver" in executor]
    assert len(containers) + len(resolvers) == len(executors) == len(spec["root"]["dag"]["tasks"])
    assert len(containers) == 11  # every component but the two Vertex resolver tasks
    assert {container["image"] for container in containers} == {IMAGE}


def test_the_kubeflow_example_compiles_through_the_command_line(tmp_path, capsys):
    out = tmp_path / "lightrank.yaml"
    code = pipeline_cli.main(
        ["compile", "--target", "kubeflow", "--config", KUBEFLOW_EXAMPLE, "--out", str(out)]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    data = yaml.safe_load(out.read_text())
    json_format.ParseDict(data, pipeline_spec_pb2.PipelineSpec())
    json_format.ParseDict(data["deploymentSpec"], pipeline_spec_pb2.PipelineDeploymentConfig())
    assert data["pipelineInfo"]["name"] == "lightrank"
    assert f"Compiled for Kubeflow Pipelines: {out}\n" in printed.out
    assert f"Image:  {IMAGE}\n" in printed.out  # the configured image: no "(the default ...)" note
    assert printed.err == ""


def test_a_gpu_request_is_refused_on_the_command_line_naming_the_field(tmp_path, capsys):
    out = tmp_path / "lightrank.json"
    code = pipeline_cli.main(
        [
            "compile", "--target", "vertex", "--config", VERTEX_EXAMPLE, "--out", str(out),
            "--set", "cloud.vertex_training.accelerator_type=NVIDIA_TESLA_T4",
            "--set", "cloud.vertex_training.accelerator_count=1",
        ]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(
        "lightrank: error: cloud.vertex_training.accelerator_type NVIDIA_TESLA_T4 asks for a GPU, "
        "but the pipeline image has no CUDA libraries"
    )
    assert err.count("\n") == 1 and err.endswith("\n")
    assert not Path(out).exists()


def test_kubeflow_warm_starts_from_a_named_model_through_an_importer(tmp_path):
    """The resolver behind `model.warm_start` cannot run on open-source KFP v2; an importer can."""
    from lightrank.kubeflow.compiler import compile_pipeline
    from lightrank.pipeline.config import load_config

    base = "gs://my-bucket/lightrank/serving/1795917291"
    config = load_config(KUBEFLOW_EXAMPLE, [f"model.warm_start_from={base}"])
    compiled = compile_pipeline(config, "kubeflow", str(tmp_path / "pipeline.yaml"))
    spec = compiled.pipeline_spec
    tasks = spec["root"]["dag"]["tasks"]
    label = spec["components"][tasks["base_model_importer"]["componentRef"]["name"]]["executorLabel"]
    importer = spec["deploymentSpec"]["executors"][label]["importer"]
    assert importer["artifactUri"]["constant"] == base
    assert importer["typeSchema"]["instanceSchema"].startswith("title: tfx.Model\n")
    trainer_inputs = tasks["Trainer"]["inputs"]["artifacts"]["base_model"]["taskOutputArtifact"]
    assert trainer_inputs == {"producerTask": "base_model_importer", "outputArtifactKey": "result"}
    assert not any(name.endswith("resolver") for name in tasks)
