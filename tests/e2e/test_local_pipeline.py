"""The whole pipeline on tiny data with LocalDagRunner, asserted through ML Metadata."""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from e2e_support import run, tiny_config, write_doctored_data

from lightrank.components.anomaly_gate import DataAnomaliesError
from lightrank.components.model_evaluation import metrics_by_slice
from lightrank.pipeline.metadata.runs import list_runs, open_store

pytestmark = pytest.mark.e2e

DATA_COMPONENTS = (
    "ImportExampleGen",
    "StatisticsGen",
    "ImportSchemaGen",
    "ExampleValidator",
    "AnomalyGate",
    "Transform",
)
ALL_COMPONENTS = (*DATA_COMPONENTS, "Trainer", "Evaluator", "Pusher")


@pytest.fixture(scope="module")
def workdir(first_pipeline_run) -> Path:
    return first_pipeline_run.workdir


@pytest.fixture(scope="module")
def first_run(first_pipeline_run) -> tuple[object, str]:
    return first_pipeline_run.config, first_pipeline_run.output


def _states(record) -> dict[str, str]:
    return {c.component: c.state for c in record.components}


def _raw_serving_examples(data_dir: str, n: int) -> list[bytes]:
    """The first `n` candidates without labels or meta.* (what serving sends)."""
    files = sorted(glob.glob(os.path.join(data_dir, "*")))
    records = tf.data.TFRecordDataset(files, compression_type="GZIP").take(n)
    examples = []
    for record in records.as_numpy_iterator():
        example = tf.train.Example.FromString(record)
        for name in list(example.features.feature):
            if name.startswith(("label.", "meta.")):
                del example.features.feature[name]
        examples.append(example.SerializeToString())
    return examples


def test_first_run_executes_every_component_and_pushes_a_servable_model(first_run, tiny_data):
    config, output = first_run
    runs = list_runs(open_store(config.metadata), config.name)
    record = runs[-1]  # the oldest: other modules may have added runs since
    states = _states(record)
    for component in ALL_COMPONENTS:
        assert states.get(component) == "complete", (component, states)
        assert f"{component}" in output  # the progress display named it
    assert record.blessed is True
    assert record.pushed_model and record.pushed_model.startswith(config.serving_dir)

    slices = metrics_by_slice(record.evaluation_uri)
    overall = slices["Overall"]
    assert overall["example_count"] > 0 and overall["num_requests"] >= 1
    assert 0.0 <= overall["auc_unweighted"] <= 1.0 and "rce_unweighted" in overall
    assert any(name.startswith("candidate.source:") for name in slices)
    age_slices = [name for name in slices if name.startswith("user.account_age_days_bucket:")]
    assert (
        age_slices and sum(slices[name]["example_count"] for name in age_slices) == overall["example_count"]
    )
    assert any("candidate.source" in name and "user.account_age_days_bucket" in name for name in slices)

    versions = os.listdir(config.serving_dir)
    assert len(versions) == 1 and versions[0].isdigit()  # versioned (timestamped) push
    pushed = os.path.join(config.serving_dir, versions[0])
    with open(os.path.join(pushed, "continuous_feature_list.json")) as f:
        feature_list = json.load(f)
    assert feature_list == sorted(feature_list) and all(
        name.startswith(("user.", "candidate.")) for name in feature_list
    )

    loaded = tf.saved_model.load(pushed)
    serve = loaded.signatures["serving_default"]
    examples = _raw_serving_examples(tiny_data, 300)
    prediction = serve(examples=tf.constant(examples))["prediction"].numpy()
    assert prediction.shape == (300, 1)
    assert np.all(np.isfinite(prediction)) and np.all((prediction >= 0) & (prediction <= 1))
    assert prediction.std() > 0  # the model distinguishes candidates


def test_second_run_is_served_from_the_cache(first_run, workdir):
    config, _ = first_run
    output = run(config, workdir)
    runs = list_runs(open_store(config.metadata), config.name)
    assert len(runs) >= 2
    states = _states(runs[0])
    for component in (*DATA_COMPONENTS, "Trainer"):
        assert states.get(component) == "cached", (component, states)
    assert "Trainer                          cached" in output
    # The Evaluator runs again: run 1 blessed a model, which is now its baseline.
    assert states["Evaluator"] == "complete"
    # The Pusher runs (the model is blessed) but finds the model already pushed, whole.
    assert runs[0].pushed_model is None, runs[0]
    assert len(os.listdir(config.serving_dir)) == 1
    # ... and says where: the summary line is "nothing new", not "nothing was pushed".
    (version,) = os.listdir(config.serving_dir)
    assert runs[0].already_pushed == os.path.join(config.serving_dir, version), runs[0]


def test_an_unreachable_threshold_blesses_nothing_and_pushes_nothing(first_run, workdir, tiny_data):
    config, _ = first_run
    before = sorted(os.listdir(config.serving_dir))
    strict = tiny_config(workdir, tiny_data, "evaluation.thresholds={auc_unweighted: {lower_bound: 1.01}}")
    run(strict, workdir)
    latest = list_runs(open_store(strict.metadata), strict.name)[0]
    states = _states(latest)
    assert states["Trainer"] == "cached"  # only the evaluation changed
    assert states["Evaluator"] == "complete"
    assert latest.blessed is False
    assert latest.pushed_model is None
    assert "Pusher" not in states or states["Pusher"] != "complete"
    assert sorted(os.listdir(config.serving_dir)) == before  # the pushed model stays untouched


def test_data_with_a_schema_anomaly_stops_at_the_gate(tmp_path, tiny_data):
    config = tiny_config(tmp_path, write_doctored_data(tiny_data, tmp_path / "doctored"))
    with pytest.raises(DataAnomaliesError, match=r"feature 'candidate.source'"):
        run(config, tmp_path)
    record = list_runs(open_store(config.metadata), config.name)[0]
    states = _states(record)
    assert states["AnomalyGate"] == "failed"
    assert "Transform" not in states and "Trainer" not in states
    assert record.pushed_model is None
    assert not os.path.exists(config.serving_dir) or not os.listdir(config.serving_dir)


def test_a_model_worse_than_the_blessed_baseline_is_not_blessed_or_pushed(tmp_path, tiny_data):
    gates = (
        "evaluation.thresholds={auc_unweighted: {lower_bound: 0.0},"
        " rce_unweighted: {change: higher_is_better, absolute: -1e-10}}"
    )
    good = tiny_config(tmp_path, tiny_data, gates)
    run(good, tmp_path)
    first = list_runs(open_store(good.metadata), good.name)[0]
    assert first.blessed is True  # no baseline yet: the change threshold is not applied
    pushed_before = sorted(os.listdir(good.serving_dir))
    assert len(pushed_before) == 1

    # One step of a zero-initialised logistic regression predicts 0.5 everywhere: far worse.
    worse = tiny_config(tmp_path, tiny_data, gates, "model.kind=logistic", "model.training.max_steps=1")
    run(worse, tmp_path)
    second = list_runs(open_store(worse.metadata), worse.name)[0]
    assert _states(second)["Trainer"] == "complete"
    assert second.blessed is False
    assert second.pushed_model is None
    assert sorted(os.listdir(good.serving_dir)) == pushed_before
    candidate = metrics_by_slice(second.evaluation_uri)["Overall"]["rce_unweighted"]
    baseline = metrics_by_slice(first.evaluation_uri)["Overall"]["rce_unweighted"]
    assert candidate < baseline


def test_warm_start_continues_from_the_previous_model(tmp_path, tiny_data):
    first = tiny_config(tmp_path, tiny_data)
    run(first, tmp_path)
    previous = list_runs(open_store(first.metadata), first.name)[0]

    # A near-zero learning rate: whatever the new model predicts comes from the copied weights.
    warm = tiny_config(
        tmp_path,
        tiny_data,
        "model.warm_start=true",
        "model.training.learning_rate=1e-12",
        "model.training.max_steps=1",
    )
    run(warm, tmp_path)
    latest = list_runs(open_store(warm.metadata), warm.name)[0]
    assert _states(latest)["Trainer"] == "complete"
    assert latest.model_uri != previous.model_uri

    examples = tf.constant(_raw_serving_examples(tiny_data, 200))

    def predict(model_uri: str) -> np.ndarray:
        serve = tf.saved_model.load(os.path.join(model_uri, "Format-Serving")).signatures["serving_default"]
        return serve(examples=examples)["prediction"].numpy()

    before, after = predict(previous.model_uri), predict(latest.model_uri)
    assert before.std() > 1e-4
    # One step at lr 1e-12 moves nothing but the batch statistics of one batch.
    np.testing.assert_allclose(after, before, rtol=0.05, atol=1e-3)


def test_warm_start_from_a_pushed_model_imports_it_and_starts_from_its_weights(
    tmp_path, tiny_data, first_pipeline_run
):
    pushed = first_pipeline_run.record.pushed_model
    assert pushed and os.path.isdir(pushed)
    # Its own store and root: the pushed model comes from another pipeline's run.
    warm = tiny_config(
        tmp_path,
        tiny_data,
        f"model.warm_start_from={pushed}",
        "model.training.learning_rate=1e-12",
        "model.training.max_steps=1",
    )
    run(warm, tmp_path)
    store = open_store(warm.metadata)
    latest = list_runs(store, warm.name)[0]
    assert _states(latest)["base_model_importer"] == "complete"
    assert _states(latest)["Trainer"] == "complete"
    # ML Metadata records the pushed model as the Trainer's base_model input.
    trainer = next(c for c in latest.components if c.component == "Trainer")
    events = store.get_events_by_execution_ids([trainer.execution_id])
    base_inputs = [e.artifact_id for e in events if any(s.key == "base_model" for s in e.path.steps)]
    assert [a.uri for a in store.get_artifacts_by_id(base_inputs)] == [pushed]

    examples = tf.constant(_raw_serving_examples(tiny_data, 200))
    before = tf.saved_model.load(pushed).signatures["serving_default"](examples=examples)["prediction"]
    after_model = tf.saved_model.load(os.path.join(latest.model_uri, "Format-Serving"))
    after = after_model.signatures["serving_default"](examples=examples)["prediction"]
    assert before.numpy().std() > 1e-4
    np.testing.assert_allclose(after.numpy(), before.numpy(), rtol=0.05, atol=1e-3)
