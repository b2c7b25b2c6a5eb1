"""`lightrank run-spec` refuses what it cannot run, before any task starts: one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lightrank.cli import main
from lightrank.kubeflow.compiler import compile_pipeline
from lightrank.pipeline.config import SAMPLE_CONFIG, load_config


def _error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("lightrank: error: ")
    return line


def test_a_file_that_is_not_a_compiled_pipeline_is_refused(tmp_path, capsys):
    not_json = tmp_path / "notes.json"
    not_json.write_text("{not json")
    assert "is not a compiled pipeline" in _error(capsys, "run-spec", str(not_json))
    other = tmp_path / "other.yaml"
    other.write_text("name: something\nsteps: [1, 2]\n")
    assert "lacks components, deploymentSpec or root" in _error(capsys, "run-spec", str(other))
    assert "spec file not found" in _error(capsys, "run-spec", str(tmp_path / "missing.json"))


def test_a_spec_compiled_from_another_config_is_refused(vertex_default, capsys):
    line = _error(capsys, "run-spec", vertex_default.path, "--set", "model.training.learning_rate=0.5")
    assert "was compiled from another config" in line and "--set" in line


def test_run_parameters_are_checked_by_name_type_and_data_path(vertex_default, tmp_path, capsys):
    spec = vertex_default.path
    assert "did you mean 'learning_rate'" in _error(capsys, "run-spec", spec, "--param", "learning_rte=0.1")
    assert "must be a number" in _error(capsys, "run-spec", spec, "--param", "learning_rate=fast")
    assert "must be > 0" in _error(capsys, "run-spec", spec, "--param", "learning_rate=0")
    missing = _error(capsys, "run-spec", spec, "--param", f"data_root={tmp_path}/nowhere")
    assert f"data_root={tmp_path}/nowhere is not a directory on this machine" in missing
    remote = _error(capsys, "run-spec", spec, "--param", "data_root=gs://bucket/day1")
    assert "a local spec run reads local data" in remote


def test_nothing_is_written_for_a_refused_spec(vertex_default, tmp_path, capsys):
    root = tmp_path / "root"
    _error(capsys, "run-spec", vertex_default.path, "--root", str(root), "--param", "train_steps=-1")
    assert not root.exists()


def test_the_compiled_spec_carries_the_ui_outputs(vertex_default):
    spec = vertex_default.job["pipelineSpec"]
    assert spec["pipelineInfo"]["displayName"] == "lightrank-sample"
    assert "gates on auc_unweighted, rce_unweighted" in spec["pipelineInfo"]["description"]
    outputs = spec["components"]["RunSummary"]["outputDefinitions"]["artifacts"]
    titles = {key: value["artifactType"]["schemaTitle"] for key, value in outputs.items()}
    assert titles == {"metrics": "system.Metrics", "report": "system.HTML", "summary": "system.Markdown"}
    executor = spec["deploymentSpec"]["executors"]["RunSummary_executor"]["container"]
    assert executor["command"] == ["python", "-m", "lightrank.components.run_summary"]
    assert executor["image"] == vertex_default.image
    inputs = spec["root"]["dag"]["tasks"]["RunSummary"]["inputs"]["artifacts"]
    assert inputs["run_report"]["taskOutputArtifact"] == {
        "producerTask": "RunReport",
        "outputArtifactKey": "report",
    }
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert parameters["threshold_auc_unweighted_lower_bound"]["description"].startswith(
        "Quality gate: the lowest auc_unweighted (eval split) a pushed model may have"
    )
    assert json.dumps(parameters).count("Quality gate") == 3


def test_a_spec_that_records_no_config_is_refused(vertex_default, tmp_path, capsys):
    """A PipelineSpec not written by `lightrank compile` names no config, so no root or data."""
    job = json.loads(Path(vertex_default.path).read_text())
    del job["pipelineSpec"]["root"]["dag"]["tasks"]["AnomalyGate"]["inputs"]["parameters"]["config_digest"]
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps(job))
    assert "records no config digest" in _error(capsys, "run-spec", str(foreign))


def test_a_model_to_warm_start_from_that_is_not_here_is_refused_before_any_task(tmp_path, capsys):
    """`model.warm_start_from` compiles to an importer task, which reads nothing itself."""
    (tmp_path / "data").mkdir()
    sets = [
        f"root={tmp_path}/root",
        f"data.path={tmp_path}/data",
        "evaluation.compare_to_baseline=false",
        "model.warm_start=false",
        f"model.warm_start_from={tmp_path}/serving/1",
    ]
    spec = str(tmp_path / "pipeline.yaml")
    compile_pipeline(load_config(SAMPLE_CONFIG, sets), "kubeflow", spec, strict=False)
    argv = [item for setting in sets for item in ("--set", setting)]
    line = _error(capsys, "run-spec", spec, *argv)
    assert f"task base_model_importer imports {tmp_path}/serving/1, which is not on this machine" in line
    assert not (tmp_path / "root").exists()


def test_every_run_parameter_is_described_in_words(vertex_default):
    """The run form shows these: a sentence, not only the config key it comes from."""
    parameters = vertex_default.job["pipelineSpec"]["root"]["inputDefinitions"]["parameters"]
    assert {"data_root", "train_steps", "learning_rate"} <= set(parameters)
    for name, definition in parameters.items():
        description = definition.get("description", "")
        assert len(description.split()) >= 4 and description[0].isupper(), (name, description)
