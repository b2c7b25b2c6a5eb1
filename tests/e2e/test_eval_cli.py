"""`lightrank eval` on the pushed model and the Evaluator's own eval split gives the Evaluator's numbers."""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
import yaml
from ml_metadata.proto import metadata_store_pb2

from lightrank.components.model_evaluation import metrics_by_slice
from lightrank.models.export import read_model_asset
from lightrank.pipeline.commands.eval import register
from lightrank.pipeline.metadata.runs import open_store

pytestmark = pytest.mark.e2e

KEY_METRICS = ("example_count", "auc_unweighted", "rce_unweighted", "recall_atLight_50_atHeavy_3")


def _evaluator_examples_uri(config, evaluator_execution_id: int) -> str:
    """The Examples artifact the Evaluator read, from ML Metadata."""
    store = open_store(config.metadata)
    events = store.get_events_by_execution_ids([evaluator_execution_id])
    inputs = store.get_artifacts_by_id(
        [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.INPUT]
    )
    (examples,) = [a for a in inputs if a.type == "Examples"]
    return examples.uri


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory, first_pipeline_run) -> dict:
    workdir = tmp_path_factory.mktemp("eval_cli")
    config, record = first_pipeline_run.config, first_pipeline_run.record
    assert record.pushed_model and record.evaluation_uri
    (evaluator,) = [c for c in record.components if c.component == "Evaluator"]
    eval_split = os.path.join(_evaluator_examples_uri(config, evaluator.execution_id), "Split-eval")
    config_file = workdir / "config.yaml"
    config_file.write_text(yaml.safe_dump(config.model_dump(mode="json")))  # the run's exact config
    outputs = {
        "out": workdir / "eval",
        "json": workdir / "metrics.json",
        "predictions": workdir / "p.parquet",
    }
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["eval", "--model", record.pushed_model, "--data", os.path.join(eval_split, "*")]
        + ["--config", str(config_file)]
        + [arg for name, path in outputs.items() for arg in (f"--{name}", str(path))]
    )
    assert args.handler(args) == 0
    return {"record": record, "eval_split": eval_split, **outputs}


def _same(a: float, b: float) -> bool:
    # The two runs batch examples differently, and the model's float32 outputs change in their
    # last bits with the batch shape; metrics built from differences of cross-entropies (NRCE is
    # near zero) amplify that to about 1e-8 relative. A metric computed differently (wrong weights,
    # wrong slice, wrong label) is off by far more than these tolerances.
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def test_metrics_equal_the_evaluators(evaluated):
    expected = metrics_by_slice(evaluated["record"].evaluation_uri)
    measured = metrics_by_slice(str(evaluated["out"]))
    assert set(KEY_METRICS) <= set(expected["Overall"])
    assert set(measured) == set(expected)  # every slice
    for slice_name, metrics in expected.items():
        assert set(measured[slice_name]) == set(metrics), slice_name
        for name, value in metrics.items():
            assert _same(measured[slice_name][name], value), (
                slice_name,
                name,
                measured[slice_name][name],
                value,
            )
    assert os.path.isfile(Path(evaluated["out"]) / "eval.log")

    with open(evaluated["json"]) as f:
        written = json.load(f)["metrics"]
    for name in KEY_METRICS:  # the JSON holds this run's TFMA values exactly
        assert written["Overall"][name] == measured["Overall"][name]


def test_without_config_the_pushed_model_gives_the_configs_overall_metrics(evaluated, tmp_path, capfd):
    """The model's own asset stands in for the config that trained it: same overall numbers."""
    record = evaluated["record"]
    asset = read_model_asset(record.pushed_model)  # written by the Trainer's export
    assert asset is not None and asset.task == "HeavyRankPosition"
    assert asset.label_key == "meta.ranking.is_top3" and asset.features.request_key == "meta.trace_id"
    out = tmp_path / "alone"
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    data = os.path.join(evaluated["eval_split"], "*")
    args = parser.parse_args(["eval", "--model", record.pushed_model, "--data", data, "--out", str(out)])
    assert args.handler(args) == 0
    assert capfd.readouterr().out.startswith(f"Evaluating {record.pushed_model} on ")
    expected = metrics_by_slice(str(evaluated["out"]))["Overall"]
    measured = metrics_by_slice(str(out))
    assert set(measured) == {"Overall"}  # no config: no slices
    assert set(measured["Overall"]) == set(expected) and set(KEY_METRICS) <= set(expected)
    for name, value in expected.items():
        assert _same(measured["Overall"][name], value), (name, measured["Overall"][name], value)
    assert (out / "eval.log").is_file()


def test_predictions_have_one_exact_row_per_eval_candidate(evaluated):
    files = sorted(Path(evaluated["eval_split"]).iterdir())
    records = [
        record
        for path in files
        for record in tf.data.TFRecordDataset(str(path), compression_type="GZIP").as_numpy_iterator()
    ]
    trace_ids = [
        tf.train.Example.FromString(r).features.feature["meta.trace_id"].int64_list.value[0] for r in records
    ]
    assert max(trace_ids) > 2**53  # ids a float64 column would have mangled

    table = pq.read_table(evaluated["predictions"])
    assert table.num_rows == len(records)
    assert table.schema.field("meta.trace_id").type == "int64"
    assert table.column("meta.trace_id").to_pylist() == trace_ids
    assert table.column("meta.ranking.weighted_oonc_model_score").null_count == 0

    serve = tf.saved_model.load(evaluated["record"].pushed_model).signatures["serving_default"]
    direct = serve(examples=tf.constant(records))["prediction"].numpy().reshape(-1)
    np.testing.assert_array_equal(table.column("prediction").to_numpy(), direct)
