"""Compiled specs run task by task through their own container commands (`lightrank run-spec`).

What Vertex AI and Kubeflow Pipelines run is the compiled spec, so these tests compile the tiny
pipeline for both targets and run every task as the orchestrator would: a subprocess of the
task's command with the ExecutorInput the KFP launcher builds, trigger conditions, resolvers.
"""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

import pytest
import tensorflow as tf
from e2e_support import tiny_overrides

from lightrank.cli import main
from lightrank.kubeflow.compiler import compile_pipeline
from lightrank.pipeline.config import SAMPLE_CONFIG, load_config

pytestmark = [pytest.mark.e2e, pytest.mark.spec]
THRESHOLD = "threshold_auc_unweighted_lower_bound"


def _compile(workdir: Path, data: str, target: str, *overrides: str) -> tuple[str, list[str]]:
    """Compiles the tiny config for `target`; returns the spec path and the `--set` arguments."""
    settings = [*tiny_overrides(workdir, data), *overrides]
    spec = str(workdir / ("pipeline.json" if target == "vertex" else "pipeline.yaml"))
    compile_pipeline(load_config(SAMPLE_CONFIG, settings), target, spec, strict=False)
    return spec, [item for setting in settings for item in ("--set", setting)]


def _run_spec(
    spec: str, sets: list[str], capsys: pytest.CaptureFixture[str], *params: str
) -> tuple[int, str]:
    status = main(["run-spec", spec, *sets, *(item for p in params for item in ("--param", p))])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def _task_lines(output: str) -> dict[str, str]:
    """Task -> status, from the progress lines `[ i/n] Task   status   seconds`."""
    lines = [line.split("]", 1)[1].split() for line in output.splitlines() if line.startswith("[")]
    return {parts[0]: parts[1] for parts in lines}


def _run_dir(output: str) -> Path:
    return Path(next(line for line in output.splitlines() if line.startswith("Artifacts:")).split(None, 1)[1])


def _executor_input(run_dir: Path, task: str) -> dict:
    """The ExecutorInput the task's command was given (the runner keeps a copy next to its log)."""
    return json.loads((run_dir / task / "executor_input.json").read_text())


def _score(serving_dir: str, data: str) -> tf.Tensor:
    (version,) = os.listdir(serving_dir)
    model = tf.saved_model.load(os.path.join(serving_dir, version))
    records = list(tf.data.TFRecordDataset(sorted(glob.glob(f"{data}/*")), compression_type="GZIP").take(16))
    return model.signatures["serving_default"](examples=tf.stack(records))["prediction"]


def test_vertex_spec_pushes_then_a_second_run_compares_with_it_and_an_unreachable_gate_pushes_nothing(
    tmp_path, tiny_data, capsys
):
    spec, sets = _compile(tmp_path, tiny_data, "vertex")
    status, first = _run_spec(spec, sets, capsys)
    assert status == 0, first
    tasks = _task_lines(first)
    assert len(tasks) == 13 and set(tasks.values()) == {"complete"}, tasks
    assert "Blessed:        yes" in first
    scores = _score(str(tmp_path / "serving"), tiny_data)
    assert scores.shape == (16, 1) and bool(tf.reduce_all((scores > 0) & (scores < 1)))
    trainer_input = _executor_input(_run_dir(first), "Trainer")["inputs"]["parameterValues"]
    assert trainer_input["train_steps"] == 40.0  # an integer arrives as a JSON number, as from Vertex

    status, second = _run_spec(spec, sets, capsys, f"{THRESHOLD}=0.99")
    assert status == 0, second
    tasks = _task_lines(second)
    assert "Blessed:        no" in second  # the gate, not the "new model" check, held the push back
    pusher = next(line for line in second.splitlines() if "] Pusher " in line)
    assert tasks["Pusher"] == "skipped" and pusher.endswith("(trigger condition false)"), pusher
    assert "Pushed model:   nothing was pushed" in second
    assert tasks["RunSummary"] == "complete" and tasks["RunReport"] == "complete"
    assert "(1 resolved)" in second  # the first run's blessed model is the baseline
    evaluator_input = _executor_input(_run_dir(second), "Evaluator")["inputs"]
    (baseline,) = evaluator_input["artifacts"]["baseline_model"]["artifacts"]
    assert baseline["name"] == f"{_run_dir(first).name}/Trainer/model"
    assert evaluator_input["parameterValues"][THRESHOLD] == 0.99
    assert len(os.listdir(tmp_path / "serving")) == 1  # nothing new pushed


def _days(tmp_path: Path, tiny_data: str) -> str:
    """The tiny data as one folder per day (`day=1`, `day=2`): a span pattern over them."""
    for day, source in enumerate(sorted(glob.glob(f"{tiny_data}/*")), start=1):
        os.makedirs(tmp_path / "days" / f"day={day}")
        os.symlink(source, tmp_path / "days" / f"day={day}" / os.path.basename(source))
    return f"{tmp_path}/days/day={{SPAN}}/*"


def test_kubeflow_spec_runs_every_task_on_a_window_of_days_and_fills_the_ui_artifacts(
    tmp_path, tiny_data, capsys
):
    """Also SpanExampleGen's executor as the container runs it: the older day trains, the newest evaluates.

    And the Tuner: its task searches, and the Trainer task trains with its best trial's value.
    """
    spec, sets = _compile(
        tmp_path, _days(tmp_path, tiny_data), "kubeflow", "evaluation.compare_to_baseline=false",
        "data.spans={latest: 2, eval: newest}",
        "tuning={trials: 2, steps_per_trial: 10, algorithm: random, space: {learning_rate: [0.03, 0.3]}}",
    )  # fmt: skip
    status, output = _run_spec(spec, sets, capsys)
    assert status == 0, output
    tasks = _task_lines(output)
    assert len(tasks) == 12 and set(tasks.values()) == {"complete"}, tasks
    run_dir = _run_dir(output)
    (best,) = glob.glob(f"{run_dir}/Tuner/**/best_hyperparameters.txt", recursive=True)
    tuned = json.loads(Path(best).read_text())["values"]
    assert set(tuned) == {"learning_rate"} and tuned["learning_rate"] in (0.03, 0.3)
    trainer_input = _executor_input(run_dir, "Trainer")["inputs"]["artifacts"]["hyperparameters"]
    (hyperparameters,) = trainer_input["artifacts"]
    assert os.path.dirname(best) == hyperparameters["uri"].rstrip("/")
    (settings,) = glob.glob(f"{run_dir}/Trainer/**/model_settings.json", recursive=True)
    assert json.loads(Path(settings).read_text())["tuned"] == tuned
    example_gen = json.loads((run_dir / "ImportExampleGen" / "executor_output.json").read_text())
    (examples,) = example_gen["artifacts"]["examples"]["artifacts"]
    assert json.loads(examples["metadata"]["lightrank_spans"]) == {"train": [1], "eval": [2]}
    assert examples["metadata"]["span"] == 2
    splits = {os.path.basename(path) for path in glob.glob(f"{run_dir}/ImportExampleGen/examples/Split-*")}
    assert splits == {"Split-train", "Split-eval"}
    summary_output = json.loads((run_dir / "RunSummary" / "executor_output.json").read_text())
    (metrics,) = summary_output["artifacts"]["metrics"]["artifacts"]
    evaluator_output = json.loads((run_dir / "Evaluator" / "executor_output.json").read_text())
    (blessing,) = evaluator_output["artifacts"]["blessing"]["artifacts"]
    assert metrics["metadata"]["blessed"] == blessing["metadata"]["blessed"] == 1.0
    assert 0.0 <= metrics["metadata"]["auc_unweighted"] <= 1.0
    assert metrics["metadata"]["example_count"] > 0
    assert (run_dir / "RunSummary" / "report").read_text().lstrip().lower().startswith("<!doctype html")
    summary = (run_dir / "RunSummary" / "summary").read_text()
    assert summary.startswith("## Blessed") and "| auc_unweighted |" in summary
    _score(str(tmp_path / "serving"), tiny_data)


@pytest.mark.faults
def test_a_failing_task_stops_the_run_names_it_and_pushes_nothing(tmp_path, tiny_data, capsys):
    spec, sets = _compile(tmp_path, tiny_data, "kubeflow", "evaluation.compare_to_baseline=false")
    empty = tmp_path / "empty"
    empty.mkdir()
    status, output = _run_spec(spec, sets, capsys, f"data_root={empty}")
    assert status == 1
    assert "task ImportExampleGen failed" in output and "ImportExampleGen/task.log" in output
    assert list(_task_lines(output)) == ["ImportExampleGen"]
    assert not (tmp_path / "serving").exists()
