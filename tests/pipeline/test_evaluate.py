"""`lightrank eval`: inputs, outputs and one run with the production EvalConfig.

Each bad input is one named error; ids stay exact; `evaluate()` on hand-built requests gives
hand-computed values, and n/a where a metric is undefined on the slice.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import math
import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma

from lightrank.cli import main
from lightrank.pipeline.commands.eval import register
from lightrank.pipeline.config import SAMPLE_CONFIG, load_config
from lightrank.pipeline.eval.evaluate import checked_candidate_files, evaluate
from lightrank.pipeline.eval.outputs import EvalInputError, EvalOutputs
from lightrank.pipeline.eval.predictions import (
    CandidateColumns,
    check_serving_model,
    resolve_model_dir,
    scan_candidates,
    write_predictions,
)
from lightrank.pipeline.eval.report import TABLE_COLUMNS, EvalResult, format_report, format_table

REPO = Path(__file__).resolve().parents[2]
#: A trace id a float64 cannot hold: the original's dump turned it into 2**62
#: (docs/model.md, Deviations from the original).
BIG_ID = 2**62 + 1

COLUMNS = CandidateColumns(
    request_key="meta.trace_id",
    heavy_score="meta.heavy",
    labels=("label.sent",),
    weight="meta.weight",
    dtypes={
        "meta.trace_id": tf.int64,
        "meta.heavy": tf.float32,
        "label.sent": tf.int64,
        "meta.weight": tf.float32,
    },
)


def _example(trace_id: int | bytes | None, heavy: float | None, x: float = 0.5) -> bytes:
    feature = {
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[x])),
        "label.sent": tf.train.Feature(int64_list=tf.train.Int64List(value=[1])),
        "meta.weight": tf.train.Feature(float_list=tf.train.FloatList(value=[3.0])),
    }
    if isinstance(trace_id, int):
        feature["meta.trace_id"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[trace_id]))
    elif isinstance(trace_id, bytes):
        feature["meta.trace_id"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[trace_id]))
    if heavy is not None:
        feature["meta.heavy"] = tf.train.Feature(float_list=tf.train.FloatList(value=[heavy]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _write(path: Path, records: list[bytes]) -> str:
    with tf.io.TFRecordWriter(str(path), options="GZIP" if str(path).endswith(".gz") else "") as writer:
        for record in records:
            writer.write(record)
    return str(path)


class _Scorer(tf.Module):
    """A stand-in for an exported ranker: prediction = 2 * x, from serialized examples."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        parsed = tf.io.parse_example(examples, {"x": tf.io.FixedLenFeature([1], tf.float32)})
        return {"prediction": 2.0 * parsed["x"]}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def serve_floats(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"prediction": x}


@pytest.fixture(scope="module")
def scorer_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("scorer"))
    module = _Scorer()
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    return path


def test_a_glob_matching_nothing_is_named(tmp_path):
    with pytest.raises(EvalInputError, match=r"--data .*nowhere/\*\.gz matches no file"):
        checked_candidate_files(str(tmp_path / "nowhere" / "*.gz"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvalInputError, match=r"--data .*empty matches no file"):
        checked_candidate_files(str(tmp_path / "empty"))


def test_checked_candidate_files_takes_a_directory_and_refuses_misnamed_gzip(tmp_path):
    a = _write(tmp_path / "a.tfrecord.gz", [_example(1, 0.5)])
    b = _write(tmp_path / "b.tfrecord.gz", [_example(2, 0.5)])
    assert checked_candidate_files(str(tmp_path)) == [a, b]
    with open(tmp_path / "c.tfrecord", "wb") as f:
        f.write(gzip.compress(b"records"))
    with pytest.raises(
        EvalInputError, match=r"c\.tfrecord is gzip-compressed but its name does not end in \.gz"
    ):
        checked_candidate_files(str(tmp_path))


def test_a_candidate_without_request_key_is_named_with_file_and_record(tmp_path):
    path = _write(tmp_path / "part-0.gz", [_example(1, 0.1), _example(1, 0.2), _example(None, 0.3)])
    with pytest.raises(
        EvalInputError, match=r"part-0\.gz: record 2 has no value of the request key 'meta.trace_id'"
    ):
        scan_candidates([path], COLUMNS)


def test_the_scan_counts_candidates_and_missing_heavy_scores(tmp_path):
    first = _write(tmp_path / "a.gz", [_example(1, 0.1), _example(1, None), _example(2, float("nan"))])
    second = _write(tmp_path / "b.gz", [_example(3, 0.4)])
    scan = scan_candidates([first, second], COLUMNS, batch_size=2)
    assert (scan.files, scan.candidates, scan.missing_heavy_score) == (2, 4, 2)


def test_a_directory_that_is_no_saved_model_is_refused(tmp_path):
    with pytest.raises(EvalInputError, match=r"model .*nothing is not a directory"):
        check_serving_model(str(tmp_path / "nothing"))
    (tmp_path / "variables").mkdir()
    with pytest.raises(EvalInputError, match=r"is not a SavedModel \(no saved_model.pb\)"):
        check_serving_model(str(tmp_path))
    (tmp_path / "saved_model.pb").write_bytes(b"\xff\xff not a proto")
    with pytest.raises(EvalInputError, match=r"saved_model.pb is corrupt"):
        check_serving_model(str(tmp_path))


def test_the_serving_signature_contract_is_checked(tmp_path, scorer_dir):
    check_serving_model(scorer_dir)
    with pytest.raises(EvalInputError, match=r"no 'slice_features' signature, which the config's evaluation"):
        check_serving_model(scorer_dir, ["slice_features"])  # a model exported before slices needed it
    module = _Scorer()
    floats = str(tmp_path / "floats")
    tf.saved_model.save(module, floats, signatures={"serving_default": module.serve_floats})
    with pytest.raises(EvalInputError, match=r"must take one string input 'examples'.*\{'x': 'float32'\}"):
        check_serving_model(floats)
    other = str(tmp_path / "other")
    tf.saved_model.save(module, other, signatures={"score": module.serve})
    with pytest.raises(EvalInputError, match=r"has no 'serving_default' signature \(it has \['score'\]\)"):
        check_serving_model(other)


def test_a_trainer_model_artifact_resolves_to_its_serving_model(tmp_path, scorer_dir):
    os.symlink(scorer_dir, tmp_path / "Format-Serving")
    assert resolve_model_dir(str(tmp_path)) == str(tmp_path / "Format-Serving")
    assert resolve_model_dir(scorer_dir) == scorer_dir


def test_predictions_keep_a_2_62_plus_1_trace_id_exact(tmp_path, scorer_dir):
    assert int(float(BIG_ID)) != BIG_ID  # what a float64 column would have written
    records = [_example(BIG_ID, 0.25, x=0.5), _example(BIG_ID + 1, None, x=0.125), _example(7, 0.75, x=1.0)]
    data = _write(tmp_path / "part.gz", records)
    out = str(tmp_path / "predictions.parquet")
    assert write_predictions(scorer_dir, [data, data], COLUMNS, out, batch_size=2) == 6
    table = pq.read_table(out)
    assert table.schema.field("meta.trace_id").type == "int64"
    assert table.column("meta.trace_id").to_pylist() == [BIG_ID, BIG_ID + 1, 7] * 2
    np.testing.assert_array_equal(table.column("prediction").to_numpy(), [1.0, 0.25, 2.0] * 2)
    assert table.column("meta.heavy").to_pylist() == [0.25, None, 0.75] * 2  # null, not dropped
    assert table.column("label.sent").to_pylist() == [1] * 6
    assert table.column("meta.weight").to_pylist() == [3.0] * 6
    assert table.schema.metadata[b"lightrank.request_key"] == b"meta.trace_id"
    assert [name for name in os.listdir(tmp_path) if name.startswith(".")] == []  # no temp file left


def test_a_bytes_request_key_becomes_a_string_column(tmp_path, scorer_dir):
    columns = CandidateColumns(
        **{**COLUMNS.__dict__, "dtypes": {**COLUMNS.dtypes, "meta.trace_id": tf.string}}
    )
    data = _write(tmp_path / "part.gz", [_example(b"req-1", 0.5), _example(b"req-2", 0.5)])
    out = str(tmp_path / "p.parquet")
    write_predictions(scorer_dir, [data], columns, out)
    assert pq.read_table(out).column("meta.trace_id").to_pylist() == ["req-1", "req-2"]


def test_a_failed_write_leaves_no_file(tmp_path, scorer_dir):
    data = _write(tmp_path / "part.gz", [_example(1, 0.5), _example(None, 0.5)])
    out = tmp_path / "p.parquet"
    with pytest.raises(EvalInputError, match="record 1 has no value"):
        write_predictions(scorer_dir, [data], COLUMNS, str(out))
    assert os.listdir(tmp_path) == ["part.gz"]


def test_sample_feature_spec_columns():
    from lightrank.models.features import load_schema, resolve_files

    schema_path = REPO / "schema" / "sample" / "schema.pbtxt"
    features = resolve_files(schema_path, REPO / "schema" / "sample" / "feature_spec.yaml")
    columns = CandidateColumns.from_features(features, load_schema(schema_path))
    assert columns.dtypes[features.request_key] == tf.int64
    assert columns.output_names[:2] == (features.request_key, "prediction")
    assert len(set(columns.output_names)) == len(columns.output_names)  # a label that is the heavy score


def test_outputs_are_checked_before_anything_runs(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "metrics").write_text("")
    with pytest.raises(EvalInputError, match=r"--out .*taken already exists"):
        EvalOutputs.plan(str(tmp_path / "taken"), None, None, "m")
    with pytest.raises(EvalInputError, match=r"--json .*: directory .*missing does not exist"):
        EvalOutputs.plan(str(tmp_path / "o"), str(tmp_path / "missing" / "m.json"), None, "m")
    default = EvalOutputs.plan(None, None, None, "/models/serving/17/")
    assert default.out_dir.startswith(os.path.join(os.getcwd(), "eval", "17-"))
    assert default.json_path == os.path.join(default.out_dir, "metrics.json")  # JSON by default
    chosen = EvalOutputs.plan(str(tmp_path / "o"), str(tmp_path / "m.json"), None, "m")
    assert chosen.json_path == str(tmp_path / "m.json")


def test_bad_data_through_the_command_writes_nothing(tmp_path, scorer_dir):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    out, metrics = tmp_path / "out", tmp_path / "m.json"
    args = parser.parse_args(
        [
            "eval",
            "--model",
            scorer_dir,
            "--data",
            str(tmp_path / "none*"),
            "--out",
            str(out),
            "--json",
            str(metrics),
        ]
    )
    with pytest.raises(EvalInputError, match="matches no file"):
        args.handler(args)
    assert not out.exists() and not metrics.exists()


def test_the_table_has_one_row_per_slice_overall_first():
    table = format_table(
        {
            "candidate.source:topic": {"example_count": 1234.0, "auc_unweighted": 0.61234},
            "Overall": {"example_count": 5000.0, "auc_unweighted": float("nan"), "num_requests": 7.0},
        }
    )
    header, overall, topic = table.splitlines()[:3]
    assert header.split()[:4] == ["slice", "examples", "requests", "auc"]
    assert overall.split()[:4] == ["Overall", "5,000", "7", "n/a"]  # NaN: undefined on the slice
    assert topic.split()[:4] == ["candidate.source:topic", "1,234", "-", "0.6123"]  # "-": not computed


# --- evaluate() with the sample config's EvalConfig, on hand-built requests --------------------

HEAVY = "meta.ranking.weighted_oonc_model_score"
# (trace id, user.device, candidate.source, prediction, heavy score or None, is_top3, meta.weight).
# The stand-in scorer predicts 2·x, so x = prediction / 2 gives the prediction exactly in float32.
# user.device is constant within a request, candidate.source is not; source "b" has positives only.
CANDIDATES = [
    (11, b"ios", b"a", 0.9, 0.2, 0, 1.0),
    (11, b"ios", b"b", 0.3, 0.9, 1, 2.0),
    (11, b"ios", b"a", 0.5, None, 0, 3.0),
    (12, b"android", b"a", 0.8, 0.7, 1, 1.0),
    (12, b"android", b"a", 0.1, 0.3, 0, 2.0),
    (13, b"android", b"b", 0.2, 0.6, 1, 1.0),
    (13, b"android", b"a", 0.6, 0.1, 0, 2.0),
]


def _f32(value: float) -> float:
    return float(np.float32(value))


def _ndcg2(first: float, second: float) -> float:
    """NDCG@10 of a two-candidate request whose light order has heavy scores (first, second)."""
    best, worst = max(first, second), min(first, second)
    return (_f32(first) + _f32(second) / math.log2(3)) / (_f32(best) + _f32(worst) / math.log2(3))


def _candidate(trace_id, device, source, prediction, heavy, is_top3, weight) -> bytes:
    def floats(value: float) -> tf.train.Feature:
        return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))

    feature = {
        "x": floats(prediction / 2),
        "meta.trace_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[trace_id])),
        "user.device": tf.train.Feature(bytes_list=tf.train.BytesList(value=[device])),
        "candidate.source": tf.train.Feature(bytes_list=tf.train.BytesList(value=[source])),
        "meta.ranking.is_top3": tf.train.Feature(int64_list=tf.train.Int64List(value=[is_top3])),
        "label.sent": tf.train.Feature(int64_list=tf.train.Int64List(value=[is_top3])),
        "meta.weight": floats(weight),
    }
    if heavy is not None:
        feature[HEAVY] = floats(heavy)
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory, scorer_dir: str) -> tuple[EvalResult, EvalOutputs]:
    root = tmp_path_factory.mktemp("evaluate")
    data = _write(root / "part-0.tfrecord", [_candidate(*candidate) for candidate in CANDIDATES])
    config = load_config(
        SAMPLE_CONFIG,
        [
            f"schema.path={REPO / 'schema' / 'sample' / 'schema.pbtxt'}",
            f"schema.feature_spec={REPO / 'schema' / 'sample' / 'feature_spec.yaml'}",
            "model.task=HeavyRankPosition",
            "evaluation.slices=[[candidate.source], [user.device]]",  # raw features: no slice_features
        ],
    )
    outputs = EvalOutputs.plan(str(root / "out"), None, None, scorer_dir)
    return evaluate(config, scorer_dir, data, outputs, io.StringIO()), outputs


def test_evaluate_counts_the_missing_heavy_score_and_still_scores_every_request(evaluated):
    result, _ = evaluated
    overall = result.metrics["Overall"]
    assert (result.candidates, result.missing_heavy_score) == (7, 1)
    assert overall["num_candidates_missing_heavy_score"] == 1.0
    assert overall["num_requests"] == 3.0
    assert overall["example_count"] == overall["num_candidates_in_requests"] == 7.0
    # Request 11 keeps its two scored candidates (light order: heavy 0.2, then 0.9); 12 is ideal.
    ndcg = (_ndcg2(0.2, 0.9) + 1.0 + _ndcg2(0.1, 0.6)) / 3
    assert overall["ndcg_at_10"] == pytest.approx(ndcg, rel=1e-9)
    log_loss = [
        -math.log(1 - _f32(p)) if y == 0 else -math.log(_f32(p)) for _, _, _, p, _, y, _ in CANDIDATES
    ]
    assert overall["log_loss_unweighted"] == pytest.approx(sum(log_loss) / 7, rel=1e-9)
    weights = [w for *_, w in CANDIDATES]
    assert overall["log_loss"] == pytest.approx(
        sum(w * loss for w, loss in zip(weights, log_loss, strict=True)) / sum(weights), rel=1e-9
    )


def test_grouped_metrics_are_exact_on_request_level_slices_and_n_a_on_candidate_slices(evaluated):
    result, outputs = evaluated
    ios, android = result.metrics["user.device:ios"], result.metrics["user.device:android"]
    assert ios["ndcg_at_10"] == pytest.approx(_ndcg2(0.2, 0.9), rel=1e-9)
    assert android["ndcg_at_10"] == pytest.approx((1.0 + _ndcg2(0.1, 0.6)) / 2, rel=1e-9)
    assert ios["ndcg_at_10"] != pytest.approx(result.metrics["Overall"]["ndcg_at_10"], rel=1e-3)
    assert (ios["num_candidates_missing_heavy_score"], android["num_candidates_missing_heavy_score"]) == (
        1,
        0,
    )
    # Source "a" has 5 candidates, but TFMA hands its 3 requests over whole (7 candidates): the
    # raw grouped values are the overall ones, so they are shown as undefined.
    source_a = result.metrics["candidate.source:a"]
    assert (source_a["example_count"], source_a["num_candidates_in_requests"]) == (5.0, 7.0)
    raw = _raw_metrics(outputs.out_dir)
    assert raw["candidate.source:a"]["ndcg_at_10"] == pytest.approx(result.metrics["Overall"]["ndcg_at_10"])
    assert math.isnan(source_a["ndcg_at_10"]) and math.isnan(source_a["recall_atLight_50_atHeavy_3"])
    assert math.isnan(source_a["num_candidates_missing_heavy_score"])
    assert source_a["num_requests"] == 3.0  # requests with a candidate in the slice: still true
    assert source_a["auc_unweighted"] == pytest.approx(0.75, abs=1e-6)  # per-candidate metrics stay


def test_auc_on_a_one_class_slice_is_n_a_not_zero(evaluated):
    result, outputs = evaluated
    source_b = result.metrics["candidate.source:b"]  # two positives, no negative
    assert source_b["ctr_unweighted"] == 1.0 and source_b["ctr"] == 1.0
    assert _raw_metrics(outputs.out_dir)["candidate.source:b"]["auc_unweighted"] == 0.0  # TFMA's value
    for name in ("auc", "auc_unweighted", "auc_precision_recall", "auc_precision_recall_unweighted"):
        assert math.isnan(source_b[name]), name
    row = next(
        line for line in format_table(result.metrics).splitlines() if line.startswith("candidate.source:b")
    )
    cells = dict(zip(["slice", *(title for title, _ in TABLE_COLUMNS)], row.split(), strict=True))
    assert (cells["auc"], cells["rce"], cells["R@50/3"], cells["NDCG@10"]) == ("n/a",) * 4
    assert cells["examples"] == "2" and cells["logloss"] != "n/a"


def test_metrics_json_is_written_into_out_by_default(evaluated):
    result, outputs = evaluated
    assert outputs.json_path == os.path.join(outputs.out_dir, "metrics.json")
    with open(outputs.json_path) as f:
        written = json.load(f)
    assert written["metrics"]["Overall"]["ndcg_at_10"] == result.metrics["Overall"]["ndcg_at_10"]
    assert written["metrics"]["candidate.source:a"]["ndcg_at_10"] is None  # n/a is null in JSON
    assert set(written["metrics"]) == {
        "Overall",
        "candidate.source:a",
        "candidate.source:b",
        "user.device:ios",
        "user.device:android",
    }
    assert tfma.load_metrics(outputs.out_dir)  # TFMA's own output still reads next to it
    assert f"Metrics:     {outputs.json_path}" in format_report(result, outputs)


def _raw_metrics(evaluation_dir: str) -> dict[str, dict[str, float]]:
    """TFMA's values as written, before `metrics_by_slice` marks the undefined ones."""
    raw: dict[str, dict[str, float]] = {}
    for metrics_for_slice in tfma.load_metrics(evaluation_dir):
        name = tfma.slicer.stringify_slice_key(tfma.slicer.deserialize_slice_key(metrics_for_slice.slice_key))
        raw[name or "Overall"] = {
            kv.key.name: kv.value.double_value.value
            for kv in metrics_for_slice.metric_keys_and_values
            if kv.value.HasField("double_value") and not kv.key.HasField("sub_key")
        }
    return raw


def test_eval_through_the_command_line_writes_report_metrics_and_log(tmp_path, scorer_dir, capfd):
    data = _write(tmp_path / "part-0.tfrecord", [_candidate(*candidate) for candidate in CANDIDATES])
    out, predictions = tmp_path / "out", tmp_path / "p.parquet"
    sets = [
        f"schema.path={REPO / 'schema' / 'sample' / 'schema.pbtxt'}",
        f"schema.feature_spec={REPO / 'schema' / 'sample' / 'feature_spec.yaml'}",
        "model.task=HeavyRankPosition",
        "evaluation.slices=[[user.device]]",
    ]
    argv = [
        "eval",
        "--model",
        scorer_dir,
        "--data",
        data,
        "--config",
        SAMPLE_CONFIG,
        "--out",
        str(out),
        "--predictions",
        str(predictions),
    ]
    code = main([*argv, *[arg for setting in sets for arg in ("--set", setting)]])
    printed, err = capfd.readouterr()
    assert code == 0, err
    first = printed.splitlines()[0]
    assert first == f"Evaluating {scorer_dir} on {data} (full log: {out / 'eval.log'})"
    assert "Overall" in printed and "user.device:ios" in printed  # the table
    assert f"Metrics:     {out / 'metrics.json'}" in printed
    with open(out / "metrics.json") as f:
        overall = json.load(f)["metrics"]["Overall"]
    assert (overall["example_count"], overall["num_requests"]) == (7.0, 3.0)
    log = (out / "eval.log").read_text()  # the printed path, written from the start
    assert (
        "Running TFMA" in log and "user.device:ios" in log and f"Metrics:     {out / 'metrics.json'}" in log
    )
    assert not [name for name in os.listdir(out) if name.startswith(".")]  # no staging left
    assert pq.read_table(predictions).column("meta.trace_id").to_pylist() == [c[0] for c in CANDIDATES]


def test_eval_of_a_missing_model_is_one_line_with_exit_2(tmp_path, capfd):
    data = _write(tmp_path / "part-0.tfrecord", [_candidate(*CANDIDATES[0])])
    code = main(["eval", "--model", str(tmp_path / "no-model"), "--data", data, "--out", str(tmp_path / "o")])
    printed, err = capfd.readouterr()
    assert code == 2
    assert err.startswith("lightrank: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "no-model" in err and not (tmp_path / "o").exists()  # nor the log inside it
    assert printed.startswith(
        f"Evaluating {tmp_path / 'no-model'} on {data} (full log: {tmp_path / 'o' / 'eval.log'})"
    )


def test_workers_default_to_one_per_file_up_to_the_cores_and_replace_the_direct_mode(monkeypatch):
    from lightrank.pipeline.eval.evaluate import beam_workers

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    config_args = ("--direct_running_mode=in_memory", "--direct_num_workers=1", "--max_bundle_size=9")
    args, where = beam_workers(config_args, None, files=4)
    assert args == ("--max_bundle_size=9", "--direct_running_mode=multi_processing", "--direct_num_workers=2")
    assert where == "2 worker processes"
    args, where = beam_workers(config_args, None, files=1)  # a second worker would only pickle
    assert args[-2:] == ("--direct_running_mode=in_memory", "--direct_num_workers=1")
    assert where == "in this process"
    assert beam_workers((), 3, files=1)[0][-1] == "--direct_num_workers=3"  # asked for: given
    dataflow = ("--runner=DataflowRunner", "--project=p")
    assert beam_workers(dataflow, 2, files=8) == (dataflow, "Beam DataflowRunner (the config's beam_args)")


@pytest.mark.parametrize("workers", ["0", "-1", "two"])
def test_a_bad_worker_count_is_refused_before_anything_runs(workers, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--model", "m", "--data", "d", "--workers", workers])
    assert exit_info.value.code == 2
    assert "--workers: must be a whole number of processes, at least 1" in capsys.readouterr().err
