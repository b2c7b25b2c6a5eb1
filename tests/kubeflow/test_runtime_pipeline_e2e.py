"""The pipeline as compiled for the cloud (run parameters, RuntimeTrainer/Evaluator) run end to end.

LocalDagRunner executes the same `create_pipeline(config, runtime_parameters=True)`
that KubeflowV2DagRunner compiles, with the run parameters bound to values other
than their defaults the way a Vertex run binds them, so the executors that apply
them and the Pusher's Vertex-compatible condition are exercised for real.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tfx import v1 as tfx
from tfx.dsl.compiler import compiler
from tfx.orchestration.portable import runtime_parameter_utils

from lightrank.components.runtime_evaluator import DIFFERS_FROM_BASELINE
from lightrank.kubeflow.runner import runner_settings
from lightrank.pipeline.config import SAMPLE_CONFIG, PipelineConfig, load_config
from lightrank.pipeline.config.names import check_config_names
from lightrank.pipeline.metadata.runs import connection_config, list_runs, open_store
from lightrank.pipeline.pipeline import create_pipeline
from lightrank.pipeline.sample import write_sample_data

pytestmark = pytest.mark.e2e

AUC_GATE = "threshold_auc_unweighted_lower_bound"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> PipelineConfig:
    workdir = tmp_path_factory.mktemp("runtime")
    write_sample_data(str(workdir / "data"), requests=24, seed=7, shards=2, show_progress=False)
    return load_config(
        SAMPLE_CONFIG,
        [
            f"root={workdir}/root",
            f"serving_dir={workdir}/serving",
            f"metadata.sqlite={workdir}/metadata.db",
            f"data.path={workdir}/data",
            "model.training.max_steps=40",
            "model.training.eval_every_steps=20",
            "model.training.batch_size=64",
            "evaluation.thresholds={auc_unweighted: {lower_bound: 0.0}}",
        ],
    )


def _run(config: PipelineConfig, values: dict) -> None:
    """Compiles to TFX IR, binds the run parameters like an orchestrator, runs locally."""
    features = check_config_names(config)
    pipeline = create_pipeline(
        config,
        metadata_connection_config=connection_config(config.metadata),
        features=features,
        runner=runner_settings(config, features, cloud=False),
    )
    ir = compiler.Compiler().compile(pipeline)
    runtime_parameter_utils.substitute_runtime_parameter(ir, values)
    tfx.orchestration.LocalDagRunner().run_with_ir(ir)


def _latest_blessing(config: PipelineConfig) -> dict:
    store = open_store(config.metadata)
    blessing = max(store.get_artifacts_by_type("ModelBlessing"), key=lambda artifact: artifact.id)
    return {
        key: value.int_value
        for key, value in blessing.custom_properties.items()
        if value.HasField("int_value")
    }


@pytest.fixture(scope="module")
def first_run(config: PipelineConfig) -> PipelineConfig:
    _run(config, {"learning_rate": 0.0123, "train_steps": 7, AUC_GATE: 0.0})
    return config


def test_the_run_parameters_reach_the_trainer_and_the_model_is_pushed(first_run):
    config = first_run
    [run] = list_runs(open_store(config.metadata), config.name)
    assert run.blessed is True and run.pushed_model
    settings = json.loads((Path(run.pushed_model) / "model_settings.json").read_text())
    assert settings["training"]["learning_rate"] == 0.0123  # the config says 0.1 (the preset)
    assert settings["training"]["max_steps"] == 7  # the config says 40
    [summary] = (Path(run.model_uri).parent.parent / "model_run").glob("*/training_summary.json")
    assert json.loads(summary.read_text())["steps"] == 7
    assert _latest_blessing(config)[DIFFERS_FROM_BASELINE] == 1


def test_a_rerun_gates_on_the_bound_threshold_and_never_pushes_the_same_model_twice(first_run):
    config = first_run
    pushed_before = sorted(Path(config.serving_dir).iterdir())
    _run(config, {"learning_rate": 0.0123, "train_steps": 7, AUC_GATE: 1.01})
    runs = list_runs(open_store(config.metadata), config.name)  # newest first
    assert len(runs) == 2
    states = {c.component: c.state for c in runs[0].components}
    assert states["Trainer"] == "cached"  # same data and parameters: the same model
    assert states["Evaluator"] == "complete"  # a new gate and now a baseline: evaluated again
    blessing = _latest_blessing(config)
    assert blessing["blessed"] == 0  # AUC cannot reach 1.01: the bound value was applied
    assert blessing[DIFFERS_FROM_BASELINE] == 0  # the evaluated model is the blessed baseline
    assert "Pusher" not in states and runs[0].pushed_model is None
    assert sorted(Path(config.serving_dir).iterdir()) == pushed_before
