"""The spec runner's DAG walk on a small hand-written spec, each task a real subprocess.

The end-to-end tests (`tests/e2e/test_spec_run.py`) run the compiled pipelines; these run in
about a second what those cannot show cheaply: an importer task (`model.warm_start_from`), the
resolver across two runs, a trigger condition that skips a task and everything after it, and a
failing task that stops the run. The tasks run `spec_task.py`, a KFP v2 executor without
TensorFlow, through the same placeholders and executor files as the pipeline's tasks.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from lightrank.kubeflow.spec_file import CompiledSpec, SpecError
from lightrank.kubeflow.spec_runner import SpecRun, SpecRunner
from lightrank.pipeline.commands.common import PipelineFailedError

TASK_SCRIPT = str(Path(__file__).resolve().parent / "spec_task.py")
MODEL = {"instanceSchema": "title: tfx.Model\ntype: object\n"}
BLESSING = {"instanceSchema": "title: tfx.ModelBlessing\ntype: object\n"}
PUSHED = {"instanceSchema": "title: tfx.PushedModel\ntype: object\n"}
#: The Evaluator's integer run parameters (`spec_task.py` reads `blessed` and `fail`).
PARAMETERS = ("steps", "blessed", "fail")
#: What TFX 1.16 compiles for the Pusher and the latest-blessed-model resolver.
CONDITION = "(inputs.artifacts['_Evaluator.blessing'].artifacts[0].metadata['blessed'] == 1.0)"
BLESSED_QUERY = 'schema_title="tfx.ModelBlessing" AND state=LIVE AND metadata.blessed.number_value=1'
MODEL_QUERY = (
    'schema_title="tfx.Model" AND state=LIVE AND '
    "name=\"{{$.inputs.artifacts['input'].metadata['current_model_id']}}\""
)


def _output(task: str, key: str) -> dict[str, Any]:
    return {"taskOutputArtifact": {"producerTask": task, "outputArtifactKey": key}}


def _resolver(key: str, query: str) -> dict[str, Any]:
    return {"resolver": {"outputArtifactQueries": {key: {"filter": query}}}}


def _container(*parameters: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    """A component whose executor is `spec_task.py`, and its deployment."""
    component = {
        "inputDefinitions": {
            "artifacts": {key: {"artifactType": value} for key, value in inputs.items()},
            "parameters": {name: {"parameterType": "NUMBER_INTEGER"} for name in parameters},
        },
        "outputDefinitions": {"artifacts": {key: {"artifactType": value} for key, value in outputs.items()}},
    }
    executor = {
        "container": {
            "image": "lightrank-pipeline:latest",
            "command": ["python", TASK_SCRIPT],
            "args": ["--executor_input", "{{$}}"],
        }
    }
    return {"component": component, "executor": executor}


def fake_spec(path: Path, importer_uri: dict[str, Any]) -> CompiledSpec:
    """Importer -> Evaluator (gated by two resolvers) -> Pusher (if blessed) -> Notify."""
    parts = {
        "importer": {
            "component": {
                "outputDefinitions": {"artifacts": {"result": {"artifactType": MODEL}}},
                "inputDefinitions": {"parameters": {"artifact_uri": {"parameterType": "STRING"}}},
            },
            "executor": {"importer": {"artifactUri": importer_uri, "typeSchema": MODEL}},
        },
        "blessing_resolver": {
            "component": {"outputDefinitions": {"artifacts": {"model_blessing": {"artifactType": BLESSING}}}},
            "executor": _resolver("model_blessing", BLESSED_QUERY),
        },
        "model_resolver": {
            "component": {
                "inputDefinitions": {"artifacts": {"input": {"artifactType": BLESSING}}},
                "outputDefinitions": {"artifacts": {"model": {"artifactType": MODEL}}},
            },
            "executor": _resolver("model", MODEL_QUERY),
        },
        "evaluator": _container(
            *PARAMETERS,
            inputs={"model": MODEL, "baseline_model": MODEL},
            outputs={"blessing": BLESSING},
        ),
        "pusher": _container(inputs={"model_blessing": BLESSING}, outputs={"pushed_model": PUSHED}),
    }
    tasks = {
        "base_model_importer": {
            "componentRef": {"name": "importer"},
            "inputs": {"parameters": {"artifact_uri": {"componentInputParameter": "model_dir"}}},
        },
        "blessing_resolver": {"componentRef": {"name": "blessing_resolver"}},
        "model_resolver": {
            "componentRef": {"name": "model_resolver"},
            "inputs": {"artifacts": {"input": _output("blessing_resolver", "model_blessing")}},
        },
        "Evaluator": {
            "componentRef": {"name": "evaluator"},
            "inputs": {
                "artifacts": {
                    "model": _output("base_model_importer", "result"),
                    "baseline_model": _output("model_resolver", "model"),
                },
                "parameters": {name: {"componentInputParameter": name} for name in PARAMETERS},
            },
        },
        "Pusher": {
            "componentRef": {"name": "pusher"},
            "dependentTasks": ["Evaluator"],
            "inputs": {"artifacts": {"model_blessing": _output("Evaluator", "blessing")}},
            "triggerPolicy": {"condition": CONDITION},
        },
        "Notify": {
            "componentRef": {"name": "pusher"},
            "dependentTasks": ["Pusher"],
            "inputs": {"artifacts": {"model_blessing": _output("Evaluator", "blessing")}},
        },
    }
    for name, task in tasks.items():
        task["taskInfo"] = {"name": name}
    parameters = {
        "steps": {"parameterType": "NUMBER_INTEGER", "defaultValue": 5},
        "blessed": {"parameterType": "NUMBER_INTEGER", "defaultValue": 1},
        "fail": {"parameterType": "NUMBER_INTEGER", "defaultValue": 0},
        "model_dir": {"parameterType": "STRING"},
    }
    components = {}
    executors = {}
    for name, part in parts.items():
        components[name] = {**part["component"], "executorLabel": f"{name}_executor"}
        executors[f"{name}_executor"] = part["executor"]
    spec = {
        "pipelineInfo": {"name": "fake"},
        "components": components,
        "deploymentSpec": {"executors": executors},
        "root": {"dag": {"tasks": tasks}, "inputDefinitions": {"parameters": parameters}},
        "schemaVersion": "2.1.0",
    }
    path.write_text(json.dumps(spec))
    return CompiledSpec(path=str(path), target="kubeflow", spec=spec, pipeline_root=None)


@pytest.fixture
def model_dir(tmp_path: Path) -> str:
    path = tmp_path / "serving" / "1"
    path.mkdir(parents=True)
    return str(path)


def _runner(compiled: CompiledSpec, root: Path, **values: Any) -> tuple[SpecRunner, io.StringIO]:
    console = io.StringIO()
    defaults = {"steps": 5, "blessed": 1, "fail": 0, "model_dir": ""}
    runner = SpecRunner(compiled, pipeline_root=str(root), values={**defaults, **values}, console=console)
    return runner, console


def _statuses(run: SpecRun) -> dict[str, str]:
    return {result.name: result.status for result in run.tasks}


def _executor_input(run: SpecRun, task: str) -> dict[str, Any]:
    return json.loads((Path(run.run_root) / task / "executor_input.json").read_text())


def test_tasks_run_in_order_through_their_command_and_the_second_run_resolves_the_first(tmp_path, model_dir):
    compiled = fake_spec(tmp_path / "spec.json", {"runtimeParameter": "artifact_uri"})
    runner, console = _runner(compiled, tmp_path / "root", model_dir=model_dir)
    first = runner.run()
    assert list(_statuses(first).values()) == ["complete"] * 6, console.getvalue()
    order = [result.name for result in first.tasks]
    assert order.index("Evaluator") > order.index("model_resolver") > order.index("blessing_resolver")
    evaluator = _executor_input(first, "Evaluator")
    # An integer run parameter arrives as a JSON number, as Vertex sends it.
    assert evaluator["inputs"]["parameterValues"]["steps"] == 5.0
    assert isinstance(evaluator["inputs"]["parameterValues"]["steps"], float)
    (model,) = evaluator["inputs"]["artifacts"]["model"]["artifacts"]
    assert model["uri"] == model_dir  # the importer registered its URI; nothing was copied
    assert model["type"] == MODEL
    assert "baseline_model" not in evaluator["inputs"]["artifacts"]  # a first run has no baseline
    (blessing,) = first.outputs["Evaluator"]["blessing"]
    assert blessing["metadata"] == {"blessed": 1.0, "current_model_id": model["name"]}
    assert (Path(first.run_root) / "Pusher" / "pushed_model" / "done").read_text() == "pushed_model"

    second = runner.run()
    resolved = [line for line in console.getvalue().splitlines() if "] model_resolver " in line]
    assert resolved[0].endswith("(0 resolved)") and resolved[1].endswith("(1 resolved)"), resolved
    (baseline,) = _executor_input(second, "Evaluator")["inputs"]["artifacts"]["baseline_model"]["artifacts"]
    assert baseline["name"] == f"{first.run_id}/base_model_importer/result"


def test_a_false_trigger_condition_skips_the_task_and_everything_after_it(tmp_path, model_dir):
    compiled = fake_spec(tmp_path / "spec.json", {"constant": model_dir})
    runner, _ = _runner(compiled, tmp_path / "root", blessed=0)
    run = runner.run()
    assert _statuses(run)["Evaluator"] == "complete"
    assert _statuses(run)["Pusher"] == "skipped" and _statuses(run)["Notify"] == "skipped"
    notes = {result.name: result.note for result in run.tasks}
    assert notes["Pusher"] == "trigger condition false" and notes["Notify"] == "upstream Pusher skipped"
    assert not (Path(run.run_root) / "Pusher").exists()


def test_a_failing_task_stops_the_run_and_names_the_task_and_its_log(tmp_path, model_dir):
    compiled = fake_spec(tmp_path / "spec.json", {"constant": model_dir})
    runner, console = _runner(compiled, tmp_path / "root", fail=1)
    with pytest.raises(PipelineFailedError) as failure:
        runner.run()
    (run_root,) = (tmp_path / "root").glob("fake-*")
    log = run_root / "Evaluator" / "task.log"
    assert str(failure.value) == f"task Evaluator failed: exit status 3\n(full log: {log})"
    assert "spec_task: failing as asked" in log.read_text()
    assert log.read_text().startswith(f"$ {sys.executable} {TASK_SCRIPT} --executor_input {{")
    ran = [line.split("]", 1)[1].split()[0] for line in console.getvalue().splitlines()]
    assert ran[-1] == "Evaluator" and "Pusher" not in ran and "Notify" not in ran
    assert sorted(os.listdir(run_root)) == ["Evaluator"]  # no downstream task started


@pytest.mark.parametrize("uri", ["gs://my-bucket/serving/1", "{tmp}/nowhere"])
def test_an_import_of_a_file_not_here_is_refused_before_anything_runs(tmp_path, uri):
    compiled = fake_spec(tmp_path / "spec.json", {"constant": uri.format(tmp=tmp_path)})
    runner, console = _runner(compiled, tmp_path / "root")
    with pytest.raises(SpecError, match=r"task base_model_importer imports .*, which is not on this machine"):
        runner.check()
    assert console.getvalue() == "" and not (tmp_path / "root").exists()


def test_an_importer_without_a_uri_is_named(tmp_path):
    compiled = fake_spec(tmp_path / "spec.json", {})
    runner, _ = _runner(compiled, tmp_path / "root")
    with pytest.raises(SpecError, match="task base_model_importer: importer artifactUri"):
        runner.check()
