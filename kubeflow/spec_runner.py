"""Runs a compiled pipeline spec on this machine, task by task, as Vertex AI or Kubeflow would.

What Vertex AI and Kubeflow Pipelines run is the compiled spec, not `create_pipeline`. This
walks its DAG in dependency order and runs each task the way the KFP v2 launcher does:

- a container task is a subprocess running the task's own `command` and `args` from the
  deployment config (the image's Python replaced by this environment's), with `{{$}}` and the
  other placeholders filled by kfp's own `kfp.local.placeholder_utils` from the ExecutorInput
  the launcher would build: parameters as JSON numbers (Vertex passes an integer as 500.0),
  input artifacts from upstream outputs, output URIs under the pipeline root;
- the executor's output file (artifact metadata such as the blessing) is read back with
  `kfp.local.executor_output_utils` and handed downstream;
- a trigger condition (the Pusher's "blessed and new") is evaluated on the task's inputs, and a
  task whose condition fails is skipped, with everything that depends on it;
- an importer task registers its URI; the latest-blessed-model resolver queries the artifacts
  of earlier runs of the same pipeline root (`spec_store`), as Vertex's metadata store does.

A task that fails stops the run: nothing downstream runs (so nothing is pushed), and the error
names the task and its log.

kfp 2.5's `kfp.local.executor_input_utils` builds the ExecutorInput here only in part, so this
module builds it itself: `construct_executor_input` refuses any input artifact ("Input artifacts
are not yet supported for local execution"), and every TFX task after ImportExampleGen has one;
`executor_input_to_dict` turns integer parameters back into ints, which Vertex does not do (and
TFX's entry point must handle); and `make_artifact_list` names an output artifact by its key
alone, where the resolver's `name="..."` query needs a name unique across runs, as Vertex's
artifact resource names are.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from google.protobuf import json_format
from kfp.local import executor_output_utils, placeholder_utils
from kfp.pipeline_spec import pipeline_spec_pb2

from lightrank.kubeflow.spec_expressions import evaluate_condition, resolve_filter
from lightrank.kubeflow.spec_file import CompiledSpec, SpecError
from lightrank.kubeflow.spec_store import ArtifactStore
from lightrank.models.paths import is_remote
from lightrank.pipeline.commands.common import PipelineFailedError

Artifact = dict[str, Any]
EXECUTOR_OUTPUT_FILE = "executor_output.json"
EXECUTOR_INPUT_FILE = "executor_input.json"


@dataclasses.dataclass(frozen=True)
class TaskResult:
    """How one task ended: `complete`, `skipped` (and why) or `failed`."""

    name: str
    status: str
    seconds: float
    note: str = ""


@dataclasses.dataclass
class SpecRun:
    """One run of a compiled spec: its id, where its artifacts are, and every task's result."""

    run_id: str
    run_root: str
    tasks: list[TaskResult] = dataclasses.field(default_factory=list)
    outputs: dict[str, dict[str, list[Artifact]]] = dataclasses.field(default_factory=dict)

    def status(self, task: str) -> str | None:
        """A task's status, or None if it has not run."""
        return next((result.status for result in self.tasks if result.name == task), None)


def _title(artifact_type: Mapping[str, Any]) -> str:
    if "schemaTitle" in artifact_type:
        return artifact_type["schemaTitle"]
    return artifact_type.get("instanceSchema", "").split("title: ", 1)[-1].split("\n", 1)[0]


def _artifact(name: str, artifact_type: Mapping[str, Any], uri: str, run_id: str) -> Artifact:
    """A new artifact record: the RuntimeArtifact fields, its schema title and its run."""
    return {"name": name, "type": dict(artifact_type), "schema_title": _title(artifact_type), "uri": uri,
            "metadata": {}, "run": run_id}  # fmt: skip


def _runtime_artifact(artifact: Artifact) -> dict[str, Any]:
    return {key: artifact[key] for key in ("name", "type", "uri", "metadata")}


class SpecRunner:
    """Runs the tasks of one compiled spec once (`run`), with fixed run parameter values."""

    def __init__(
        self,
        compiled: CompiledSpec,
        *,
        pipeline_root: str,
        values: Mapping[str, Any],
        console: TextIO,
        image_paths: Mapping[str, str] | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        """Prepares a run.

        Args:
            compiled: The spec.
            pipeline_root: Where the runs' artifacts go (`<root>/<run id>/<task>/<output>`).
            values: Every run parameter's value.
            console: Where the progress lines go (one per task, with its time).
            image_paths: Directories of the image and where they are here, e.g. the image's
                `/lightrank` (the schema files baked in) -> this checkout; applied to the
                absolute paths in the tasks' string parameters.
            environment: The tasks' environment (default: this process's).
        """
        self.compiled = compiled
        self.image_paths = dict(image_paths or {})
        self.pipeline_root = pipeline_root
        self.values = dict(values)
        self.console = console
        self.environment = dict(os.environ if environment is None else environment)
        self.store = ArtifactStore(pipeline_root)

    def run(self) -> SpecRun:
        """Runs every task in dependency order.

        Raises:
            PipelineFailedError: A task failed; it names the task and its log.
            SpecError: The spec uses a construct this runner does not support.
        """
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        run_id = f"{self.compiled.name}-{stamp}"
        run = SpecRun(run_id=run_id, run_root=os.path.join(self.pipeline_root, run_id))
        order = self.compiled.task_order()
        for index, name in enumerate(order, start=1):
            self.console.write(f"[{index:2d}/{len(order)}] {name:<52} ")
            self.console.flush()
            started = time.monotonic()
            result = self._run_task(run, name, started)
            run.tasks.append(result)
            note = f" ({result.note})" if result.note else ""
            self.console.write(f"{result.status:<9} {result.seconds:6.1f} s{note}\n")
            self.console.flush()
            if result.status == "failed":
                raise PipelineFailedError(f"task {name} failed: {result.note}", self._log(run, name))
        return run

    def _log(self, run: SpecRun, task: str) -> str:
        return os.path.join(run.run_root, task, "task.log")

    def _run_task(self, run: SpecRun, name: str, started: float) -> TaskResult:
        task = self.compiled.tasks[name]
        upstream = set(task.get("dependentTasks", [])) | {
            binding["taskOutputArtifact"]["producerTask"]
            for binding in task.get("inputs", {}).get("artifacts", {}).values()
            if "taskOutputArtifact" in binding
        }
        skipped = sorted(name for name in upstream if run.status(name) == "skipped")
        if skipped:
            return TaskResult(name, "skipped", 0.0, f"upstream {', '.join(skipped)} skipped")
        artifacts = self._input_artifacts(run, task)
        parameters = self._input_parameters(task)
        condition = task.get("triggerPolicy", {}).get("condition")
        if condition and not evaluate_condition(
            condition, self._condition_inputs(run, artifacts, parameters)
        ):
            return TaskResult(name, "skipped", time.monotonic() - started, "trigger condition false")
        executor = self.compiled.executor(name)
        if "resolver" in executor:
            run.outputs[name] = self._resolve(executor["resolver"], artifacts)
            found = sum(len(found) for found in run.outputs[name].values())
            return TaskResult(name, "complete", time.monotonic() - started, f"{found} resolved")
        if "importer" in executor:
            run.outputs[name] = self._import(run, name, executor["importer"])
        elif "container" in executor:
            status, note = self._run_container(run, name, executor["container"], artifacts, parameters)
            if status != "complete":
                return TaskResult(name, status, time.monotonic() - started, note)
        else:
            raise SpecError(f"task {name}: executor kind {sorted(executor)} is not supported")
        self.store.add(artifact for outputs in run.outputs[name].values() for artifact in outputs)
        return TaskResult(name, "complete", time.monotonic() - started)

    def _input_artifacts(self, run: SpecRun, task: Mapping[str, Any]) -> dict[str, list[Artifact]]:
        result = {}
        for key, binding in task.get("inputs", {}).get("artifacts", {}).items():
            source = binding.get("taskOutputArtifact")
            if source is None:
                raise SpecError(f"input artifact {key!r}: only task outputs are supported, got {binding}")
            result[key] = run.outputs[source["producerTask"]].get(source["outputArtifactKey"], [])
        return result

    def _in_this_environment(self, value: Any) -> Any:
        """A string parameter with the image's absolute paths mapped to where they are here."""
        if not isinstance(value, str):
            return value
        for image_dir, local_dir in self.image_paths.items():
            pattern = r"(?<![\w/:.-])" + re.escape(image_dir.rstrip("/") + "/")
            replacement = local_dir.rstrip("/") + "/"
            value = re.sub(pattern, lambda _, replacement=replacement: replacement, value)
        return value

    def _input_parameters(self, task: Mapping[str, Any]) -> dict[str, Any]:
        result = {}
        for key, binding in task.get("inputs", {}).get("parameters", {}).items():
            if "runtimeValue" in binding:
                result[key] = self._in_this_environment(binding["runtimeValue"]["constant"])
            elif "componentInputParameter" in binding:
                result[key] = self.values[binding["componentInputParameter"]]
            else:
                raise SpecError(f"input parameter {key!r}: unsupported binding {sorted(binding)}")
        return result

    def _condition_inputs(
        self, run: SpecRun, artifacts: Mapping[str, list[Artifact]], parameters: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A task's inputs as its trigger condition sees them; `_TASK.KEY` names upstream outputs."""
        named = {key: {"artifacts": value} for key, value in artifacts.items()}
        for producer, outputs in run.outputs.items():
            for key, value in outputs.items():
                named[f"_{producer}.{key}"] = {"artifacts": value}
        return {"artifacts": named, "parameter_values": dict(parameters), "parameters": dict(parameters)}

    def _resolve(self, resolver: Mapping[str, Any], artifacts: Mapping[str, list[Artifact]]) -> dict:
        outputs = {}
        for key, query in resolver["outputArtifactQueries"].items():
            filled = resolve_filter(query["filter"], artifacts)
            found = self.store.latest(filled) if filled is not None else None
            outputs[key] = [found] if found else []
        return outputs

    def importer_uri(self, name: str) -> str:
        """The URI an importer task registers, as a path on this machine.

        The compiler writes it as `artifactUri.constant` (TFX's importer node), or as
        `runtimeParameter` naming one of the task's input parameters (kfp's `dsl.importer`).

        Raises:
            SpecError: The URI is neither, or is not a string.
        """
        uri_spec = self.compiled.executor(name)["importer"].get("artifactUri", {})
        if "constant" in uri_spec:
            uri = uri_spec["constant"]
        elif "constantValue" in uri_spec:  # the deprecated form of `constant`
            uri = uri_spec["constantValue"].get("stringValue")
        elif "runtimeParameter" in uri_spec:
            uri = self._input_parameters(self.compiled.tasks[name]).get(uri_spec["runtimeParameter"])
        else:
            uri = None
        if not isinstance(uri, str):
            raise SpecError(f"task {name}: importer artifactUri {uri_spec} is not a constant or a parameter")
        return self._in_this_environment(uri)

    def check(self) -> None:
        """Refuses, before any task runs, what would fail halfway: an import of a file not here.

        An importer task (`model.warm_start_from`) registers its URI without reading it, so a
        `gs://` or missing path would fail only the task that reads it, after the data and the
        Transform have run.

        Raises:
            SpecError: An importer's URI is remote or does not exist on this machine.
        """
        for name in self.compiled.tasks:
            if "importer" not in self.compiled.executor(name):
                continue
            uri = self.importer_uri(name)
            if is_remote(uri) or not os.path.exists(uri):
                raise SpecError(
                    f"task {name} imports {uri}, which is not on this machine: a local spec run reads "
                    "local files; compile a copy with a local path (e.g. --set model.warm_start_from=DIR)"
                )

    def _import(self, run: SpecRun, name: str, importer: Mapping[str, Any]) -> dict[str, list[Artifact]]:
        uri = self.importer_uri(name)
        (key,) = self.compiled.component(name)["outputDefinitions"]["artifacts"]
        artifact_type = importer["typeSchema"]
        record = _artifact(f"{run.run_id}/{name}/{key}", artifact_type, uri, run.run_id)
        record["metadata"] = dict(importer.get("metadata", {}))
        return {key: [record]}

    def _run_container(
        self,
        run: SpecRun,
        name: str,
        container: Mapping[str, Any],
        artifacts: Mapping[str, list[Artifact]],
        parameters: Mapping[str, Any],
    ) -> tuple[str, str]:
        task_root = os.path.join(run.run_root, name)
        os.makedirs(task_root, exist_ok=True)
        component = self.compiled.component(name)
        outputs: dict[str, list[Artifact]] = {}
        for key, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items():
            artifact_type = definition["artifactType"]
            uri = os.path.join(task_root, key)
            outputs[key] = [_artifact(f"{run.run_id}/{name}/{key}", artifact_type, uri, run.run_id)]
        output_file = os.path.join(task_root, EXECUTOR_OUTPUT_FILE)
        executor_input = {
            "inputs": {
                "parameterValues": dict(parameters),
                "artifacts": {
                    key: {"artifacts": [_runtime_artifact(a) for a in value]}
                    for key, value in artifacts.items()
                    if value
                },
            },
            "outputs": {
                "artifacts": {key: {"artifacts": [_runtime_artifact(a) for a in value]}
                              for key, value in outputs.items()},
                "parameters": {
                    key: {"outputFile": os.path.join(task_root, "parameters", key)}
                    for key in component.get("outputDefinitions", {}).get("parameters", {})
                },
                "outputFile": output_file,
            },
        }  # fmt: skip
        # Through the proto, as the launcher sends it: every number a JSON number (500 -> 500.0).
        message = json_format.ParseDict(executor_input, pipeline_spec_pb2.ExecutorInput())
        sent = json_format.MessageToDict(message)
        with open(os.path.join(task_root, EXECUTOR_INPUT_FILE), "w") as f:
            json.dump(sent, f, indent=1)  # what the task was given, for a person debugging it
        command = placeholder_utils.replace_placeholders(
            full_command=[*container.get("command", []), *container.get("args", [])],
            executor_input_dict=sent,
            pipeline_resource_name=run.run_id,
            task_resource_name=name,
            pipeline_root=self.pipeline_root,
        )
        if command and command[0] in ("python", "python3"):
            command[0] = sys.executable  # the image's interpreter is this environment's
        bin_dir = os.path.dirname(sys.executable)
        env = {**self.environment, "PATH": bin_dir + os.pathsep + self.environment.get("PATH", ""),
               "TF_USE_LEGACY_KERAS": "1", "PYTHONUNBUFFERED": "1"}  # fmt: skip
        log = self._log(run, name)
        with open(log, "w") as log_file:
            log_file.write(f"$ {' '.join(command)[:2000]}\n")
            log_file.flush()
            returncode = subprocess.run(
                command, stdout=log_file, stderr=subprocess.STDOUT, env=env
            ).returncode
        if returncode != 0:
            return "failed", f"exit status {returncode}"
        run.outputs[name] = self._read_outputs(output_file, outputs)
        return "complete", ""

    @staticmethod
    def _read_outputs(output_file: str, outputs: dict[str, list[Artifact]]) -> dict[str, list[Artifact]]:
        """The output artifacts with the metadata (and any new URI) the executor reported."""
        executor_output = executor_output_utils.load_executor_output(output_file)
        for key, listed in executor_output.artifacts.items():
            if key not in outputs:
                continue
            template = outputs[key][0]
            outputs[key] = [
                {**template, "uri": reported.uri or template["uri"],
                 "metadata": json.loads(json_format.MessageToJson(reported.metadata))}
                for reported in listed.artifacts
            ]  # fmt: skip
        return outputs
