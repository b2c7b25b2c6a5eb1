"""A config with a `tuning` section compiles for Vertex AI and Kubeflow: Tuner -> Trainer, by dotted path.

The compiled spec is also run task by task in tests/e2e/test_spec_run.py (the Kubeflow window run
carries a `tuning` section); here only the structure is checked, in seconds.
"""

from __future__ import annotations

import json

import pytest
from kubeflow_support import GCS_OVERRIDES, sample_config

from lightrank.kubeflow.compiler import compile_pipeline
from lightrank.pipeline.pipeline import TUNER_FN

TUNING = "tuning={trials: 3, steps_per_trial: 50, space: {learning_rate: {min: 0.01, max: 0.3, log: true}}}"


@pytest.mark.parametrize(("target", "name"), [("vertex", "pipeline.json"), ("kubeflow", "pipeline.yaml")])
def test_the_tuner_compiles_before_the_trainer_which_reads_its_best_hyperparameters(tmp_path, target, name):
    config = sample_config(*GCS_OVERRIDES, "evaluation.compare_to_baseline=false", TUNING)
    compiled = compile_pipeline(config, target, str(tmp_path / name))
    spec = compiled.pipeline_spec
    tasks = spec["root"]["dag"]["tasks"]
    tuner, trainer = tasks["Tuner"], tasks["Trainer"]

    assert set(tuner["dependentTasks"]) == {"Transform", "ImportSchemaGen"}
    assert trainer["inputs"]["artifacts"]["hyperparameters"]["taskOutputArtifact"] == {
        "outputArtifactKey": "best_hyperparameters",
        "producerTask": "Tuner",
    }
    parameters = tuner["inputs"]["parameters"]
    assert parameters["tuner_fn"]["runtimeValue"]["constant"] == TUNER_FN
    assert json.loads(parameters["train_args"]["runtimeValue"]["constant"]) == {"num_steps": 50}
    custom = json.loads(parameters["custom_config"]["runtimeValue"]["constant"])
    assert custom["tuning"]["space"] == {
        "learning_rate": {"min": 0.01, "max": 0.3, "log": True, "step": None}
    }
    assert custom["tuning"]["trials"] == 3
    # The trials start from the Trainer's own settings.
    trainer_custom = json.loads(trainer["inputs"]["parameters"]["custom_config"]["runtimeValue"]["constant"])
    assert {key: value for key, value in custom.items() if key != "tuning"} == trainer_custom
    outputs = spec["components"][tuner["componentRef"]["name"]]["outputDefinitions"]["artifacts"]
    assert outputs["best_hyperparameters"]["artifactType"]["instanceSchema"].startswith(
        "title: tfx.HyperParameters\n"
    )
    executor = spec["deploymentSpec"]["executors"][
        spec["components"][tuner["componentRef"]["name"]]["executorLabel"]
    ]
    assert "tfx.components.tuner.executor.Executor" in executor["container"]["args"]


def test_without_a_tuning_section_there_is_no_tuner(kubeflow_gcs):
    tasks = kubeflow_gcs.pipeline_spec["root"]["dag"]["tasks"]
    assert "Tuner" not in tasks
    assert "hyperparameters" not in tasks["Trainer"]["inputs"].get("artifacts", {})
