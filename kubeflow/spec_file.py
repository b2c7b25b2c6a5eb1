"""A compiled pipeline spec read back from its file: what `lightrank run-spec` runs.

`lightrank compile` writes a Vertex AI PipelineJob (JSON) or a Kubeflow Pipelines
PipelineSpec (YAML). Both hold the same `PipelineSpec`: the DAG of tasks, each task's
component (inputs, outputs, executor) and the deployment config with every executor's
container command. This module reads either file, checks it against the KFP schema, and
answers what the runner needs: the tasks in dependency order, the run parameters with their
defaults, and the config digest the spec was compiled from.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from lightrank.errors import UserError

#: KFP's parameter types, as the Python types a run parameter value must have.
PARAMETER_TYPES: Mapping[str, type] = {"NUMBER_INTEGER": int, "NUMBER_DOUBLE": float, "STRING": str}
#: The task whose parameters record the config the spec was compiled from (run_settings).
SETTINGS_TASK = "AnomalyGate"


class SpecError(UserError):
    """A spec file that is not a compiled pipeline, or one this config or run cannot use."""


@dataclasses.dataclass(frozen=True)
class CompiledSpec:
    """A compiled pipeline, as a task runner sees it.

    Attributes:
        path: The file it was read from.
        target: `vertex` (a PipelineJob JSON) or `kubeflow` (a PipelineSpec YAML).
        spec: The PipelineSpec as a dict (components, deploymentSpec, root DAG).
        pipeline_root: The PipelineJob's output directory (Vertex only), or None.
    """

    path: str
    target: str
    spec: dict[str, Any]
    pipeline_root: str | None

    @property
    def name(self) -> str:
        """The pipeline's name (`pipelineInfo.name`)."""
        return self.spec["pipelineInfo"]["name"]

    @property
    def tasks(self) -> dict[str, Any]:
        """The root DAG's tasks by name."""
        return self.spec["root"]["dag"]["tasks"]

    def component(self, task: str) -> dict[str, Any]:
        """The component a task runs."""
        return self.spec["components"][self.tasks[task]["componentRef"]["name"]]

    def executor(self, task: str) -> dict[str, Any]:
        """The deployment config of a task's executor: `container`, `importer` or `resolver`."""
        return self.spec["deploymentSpec"]["executors"][self.component(task)["executorLabel"]]

    def task_order(self) -> list[str]:
        """Every task after the tasks it depends on (by name among the ready ones, so stable)."""
        waiting = {name: set(task.get("dependentTasks", [])) for name, task in self.tasks.items()}
        for name, task in self.tasks.items():
            for binding in task.get("inputs", {}).get("artifacts", {}).values():
                producer = binding.get("taskOutputArtifact", {}).get("producerTask")
                if producer:
                    waiting[name].add(producer)
        order: list[str] = []
        while waiting:
            ready = sorted(name for name, needs in waiting.items() if needs <= set(order))
            if not ready:
                raise SpecError(f"{self.path}: the tasks {sorted(waiting)} depend on each other in a cycle")
            order.append(ready[0])
            del waiting[ready[0]]
        return order

    def parameters(self) -> dict[str, tuple[type, Any]]:
        """The run parameters: name -> (Python type, default value)."""
        definitions = self.spec["root"].get("inputDefinitions", {}).get("parameters", {})
        result = {}
        for name, definition in definitions.items():
            ptype = PARAMETER_TYPES.get(definition["parameterType"])
            if ptype is None:
                raise SpecError(f"{self.path}: run parameter {name!r} has the unsupported type "
                                f"{definition['parameterType']}")  # fmt: skip
            default = definition.get("defaultValue")
            result[name] = (ptype, int(default) if ptype is int and default is not None else default)
        return result

    def config_digest(self) -> str | None:
        """The digest of the config the spec was compiled from, as its settings task records it."""
        task = self.tasks.get(SETTINGS_TASK, {})
        binding = task.get("inputs", {}).get("parameters", {}).get("config_digest", {})
        return binding.get("runtimeValue", {}).get("constant")


def read_spec(path: str) -> CompiledSpec:
    """Reads a spec that `lightrank compile` wrote, for either target.

    Raises:
        SpecError: The file is missing, is not JSON / YAML, or is not a compiled pipeline
            (no PipelineSpec, or one that does not match the KFP schema).
    """
    file = Path(path)
    if not file.is_file():
        raise SpecError(f"spec file not found: {path}")
    text = file.read_text()
    try:
        document = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise SpecError(f"{path} is not a compiled pipeline: {type(error).__name__}: {error}") from None
    if not isinstance(document, dict):
        raise SpecError(f"{path} is not a compiled pipeline: no PipelineSpec in it")
    if "pipelineSpec" in document:
        target, spec = "vertex", document["pipelineSpec"]
        root = document.get("runtimeConfig", {}).get("gcsOutputDirectory")
    else:
        target, spec, root = "kubeflow", document, None
    if not isinstance(spec, dict) or not {"components", "deploymentSpec", "root"} <= set(spec):
        raise SpecError(f"{path} is not a compiled pipeline: it lacks components, deploymentSpec or root")
    try:
        json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
    except json_format.ParseError as error:
        raise SpecError(f"{path} is not a compiled pipeline: {error}") from None
    return CompiledSpec(path=path, target=target, spec=spec, pipeline_root=root)
