"""What a compiled spec gives the Kubeflow Pipelines and Vertex AI UIs: a name, and the run's numbers.

TFX's compiler names the pipeline only by its id and emits no artifact the UIs display. This
adds to the compiled PipelineSpec:

- `pipelineInfo.displayName` and `description`, from the config;
- a `RunSummary` task, the KFP lightweight component `lightrank.components.run_summary`
  compiled by kfp itself (`kfp.dsl.component`), which turns the Evaluator's output and the run
  report into `system.Metrics`, `system.HTML` and `system.Markdown` artifacts. It runs kfp's
  own executor in the pipeline image (no package installed at run time); its inputs are typed
  as the TFX outputs they receive, so every edge of the DAG keeps one type.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format
from kfp import dsl

from lightrank.components.run_summary import publish_run_summary
from lightrank.models.settings import resolve_calibration
from lightrank.pipeline.config import PipelineConfig

TASK = "RunSummary"
EXECUTOR_LABEL = f"{TASK}_executor"
#: The container command: kfp's executor on `publish_run_summary`, from the installed package.
COMMAND = ["python", "-m", "lightrank.components.run_summary"]
#: Each input of the RunSummary task: (producer task, its output).
INPUTS: Mapping[str, tuple[str, str]] = {
    "evaluation": ("Evaluator", "evaluation"),
    "blessing": ("Evaluator", "blessing"),
    "run_report": ("RunReport", "report"),
}


def describe(config: PipelineConfig) -> str:
    """The pipeline's description in the UIs: what it trains, on what, gated how."""
    gates = ", ".join(sorted(config.evaluation.thresholds))
    calibrated = (
        ", Platt-calibrated on the eval split" if resolve_calibration(config.model) == "platt" else ""
    )  # the metrics the UIs show are then the calibrated model's (RCE and NRCE side by side)
    return (
        f"lightrank: trains the {config.model.kind} light ranker ({config.model.preset} preset, task "
        f"{config.model.task}{calibrated}) on {config.data.describe()}, evaluates it with TFMA (gates on "
        f"{gates}) and pushes it only when blessed. Config digest " + config.digest() + "."
    )


def add_run_summary(pipeline_spec: dict[str, Any], image: str) -> None:
    """Adds the RunSummary component, executor and task to a compiled PipelineSpec (in place)."""
    component = dsl.component(publish_run_summary, base_image=image, install_kfp_package=False)
    (definition,) = json_format.MessageToDict(component.pipeline_spec)["components"].values()
    definition = copy.deepcopy(definition)
    definition["executorLabel"] = EXECUTOR_LABEL
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    for key, (producer, output) in INPUTS.items():
        produced = pipeline_spec["components"][tasks[producer]["componentRef"]["name"]]
        artifact_type = produced["outputDefinitions"]["artifacts"][output]["artifactType"]
        definition["inputDefinitions"]["artifacts"][key]["artifactType"] = copy.deepcopy(artifact_type)
    pipeline_spec["components"][TASK] = definition
    pipeline_spec["deploymentSpec"]["executors"][EXECUTOR_LABEL] = {
        "container": {"image": image, "command": list(COMMAND), "args": ["--executor_input", "{{$}}"]}
    }
    tasks[TASK] = {
        "componentRef": {"name": TASK},
        "dependentTasks": sorted({producer for producer, _ in INPUTS.values()}),
        "inputs": {
            "artifacts": {
                key: {"taskOutputArtifact": {"producerTask": producer, "outputArtifactKey": output}}
                for key, (producer, output) in INPUTS.items()
            }
        },
        "taskInfo": {"name": TASK},
    }
    caching = tasks[INPUTS["evaluation"][0]].get("cachingOptions")
    if caching is not None:  # cached as the rest of the pipeline is
        tasks[TASK]["cachingOptions"] = copy.deepcopy(caching)


def add_ui_outputs(pipeline_spec: dict[str, Any], config: PipelineConfig, image: str) -> None:
    """The display name, the description and the RunSummary task (in place)."""
    pipeline_spec["pipelineInfo"]["displayName"] = config.name
    pipeline_spec["pipelineInfo"]["description"] = describe(config)
    add_run_summary(pipeline_spec, image)
