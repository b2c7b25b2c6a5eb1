"""`lightrank eval` without `--config`, and where its log goes whatever happens.

A model carrying its `ModelAsset` is evaluated with its own features and task and gives the
overall numbers of an evaluation with the config that describes it; a model without one asks
for `--config`. The printed log path is the final one: it holds the log after a success and
after an unexpected failure, and a user error leaves nothing behind.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
import tensorflow as tf

from lightrank.cli import main
from lightrank.models.export import MODEL_ASSET, ModelAsset, write_model_asset
from lightrank.models.features import load_schema, resolve_files
from lightrank.pipeline.config import SAMPLE_CONFIG, load_config
from lightrank.pipeline.eval.evaluate import evaluate
from lightrank.pipeline.eval.outputs import EvalOutputs
from lightrank.pipeline.eval.predictions import CandidateColumns

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schema" / "sample" / "schema.pbtxt"
FEATURE_SPEC = REPO / "schema" / "sample" / "feature_spec.yaml"
HEAVY = "meta.ranking.weighted_oonc_model_score"
# (trace id, device, prediction, heavy score, is_top3): three requests, one device each.
CANDIDATES = [
    (21, b"ios", 0.9, 0.2, 0),
    (21, b"ios", 0.3, 0.9, 1),
    (21, b"ios", 0.5, 0.4, 1),
    (22, b"android", 0.8, 0.7, 1),
    (22, b"android", 0.1, 0.3, 0),
    (23, b"android", 0.2, 0.6, 1),
    (23, b"android", 0.6, 0.1, 0),
]


class _Scorer(tf.Module):
    """A stand-in for an exported ranker: prediction = x, from serialized examples."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        return {
            "prediction": tf.io.parse_example(examples, {"x": tf.io.FixedLenFeature([1], tf.float32)})["x"]
        }


def _candidate(trace_id: int, device: bytes, prediction: float, heavy: float, is_top3: int) -> bytes:
    feature = {
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[prediction])),
        "meta.trace_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[trace_id])),
        "user.device": tf.train.Feature(bytes_list=tf.train.BytesList(value=[device])),
        HEAVY: tf.train.Feature(float_list=tf.train.FloatList(value=[heavy])),
        "meta.ranking.is_top3": tf.train.Feature(int64_list=tf.train.Int64List(value=[is_top3])),
        "label.sent": tf.train.Feature(int64_list=tf.train.Int64List(value=[is_top3])),
        "meta.weight": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0 + is_top3])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("data") / "part-0.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for candidate in CANDIDATES:
            writer.write(_candidate(*candidate))
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(a model exported before the asset existed, the same model carrying its asset)."""
    bare, described = (str(tmp_path_factory.mktemp(name)) for name in ("bare", "described"))
    for path in (bare, described):
        module = _Scorer()
        tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    features = resolve_files(SCHEMA, FEATURE_SPEC)
    dtypes = CandidateColumns.from_features(features, load_schema(SCHEMA)).dtypes
    write_model_asset(
        described,
        ModelAsset(features, "HeavyRankPosition", {name: dtype.name for name, dtype in dtypes.items()}),
    )
    return bare, described


def test_without_config_the_model_asset_gives_the_configs_overall_metrics(tmp_path, data, models):
    _, described = models
    config = load_config(
        SAMPLE_CONFIG,
        [
            f"schema.path={SCHEMA}",
            f"schema.feature_spec={FEATURE_SPEC}",
            "model.task=HeavyRankPosition",
            "evaluation.slices=[[user.device]]",
        ],
    )
    with_config = evaluate(
        config, described, data, EvalOutputs.plan(str(tmp_path / "a"), None, None, described), io.StringIO()
    )
    console = io.StringIO()
    alone = evaluate(
        None, described, data, EvalOutputs.plan(str(tmp_path / "b"), None, None, described), console
    )
    assert set(with_config.metrics) == {"Overall", "user.device:ios", "user.device:android"}
    assert set(alone.metrics) == {"Overall"}  # nothing config-specific: no slices ...
    assert alone.gated is False and with_config.gated is True  # ... and no gates
    assert f"from the model's {MODEL_ASSET}: task HeavyRankPosition" in console.getvalue()
    expected, measured = with_config.metrics["Overall"], alone.metrics["Overall"]
    assert set(measured) == set(expected) and "recall_atLight_50_atHeavy_3" in measured
    for name, value in expected.items():
        same = (math.isnan(value) and math.isnan(measured[name])) or math.isclose(
            measured[name], value, rel_tol=1e-12, abs_tol=1e-12
        )
        assert same, (name, measured[name], value)
    assert measured["example_count"] == 7 and measured["num_requests"] == 3


def _eval(capfd: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(["eval", *argv])
    printed, err = capfd.readouterr()
    return code, printed, err


def test_a_model_without_the_asset_needs_config_and_leaves_nothing(tmp_path, data, models, capfd):
    bare, _ = models
    out = tmp_path / "new" / "deeper" / "out"  # every directory the command would create
    code, printed, err = _eval(capfd, "--model", bare, "--data", data, "--out", str(out))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"model {bare} has no {MODEL_ASSET}" in err and "pass --config" in err
    assert f"(full log: {out / 'eval.log'})" in printed
    assert not (tmp_path / "new").exists()


def test_an_existing_empty_out_stays_after_a_user_error(tmp_path, data, models, capfd):
    bare, _ = models
    (tmp_path / "out").mkdir()
    code, _, _ = _eval(capfd, "--model", bare, "--data", data, "--out", str(tmp_path / "out"))
    assert code == 2 and (tmp_path / "out").is_dir() and not list((tmp_path / "out").iterdir())


def test_set_without_config_is_refused(tmp_path, data, models, capfd):
    code, _, err = _eval(capfd, "--model", models[1], "--data", data, "--set", "model.task=Sent")
    assert code == 2 and "--set overrides a config: pass --config FILE with it" in err


def test_an_unexpected_failure_keeps_the_log_it_names(tmp_path, data, models, capfd, monkeypatch):
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("lightrank.pipeline.eval.evaluate.evaluate", broken)
    out = tmp_path / "out"
    code, printed, err = _eval(capfd, "--model", models[1], "--data", data, "--out", str(out))
    log = out / "eval.log"
    assert code == 1 and f"(full log: {log})" in printed
    assert "RuntimeError: disk on fire" in err and f"(full log: {log})" in err
    assert "Traceback" in log.read_text() and "disk on fire" in log.read_text()


def test_without_config_the_command_writes_overall_metrics_and_its_log(tmp_path, data, models, capfd):
    out = tmp_path / "out"
    code, printed, err = _eval(capfd, "--model", models[1], "--data", data, "--out", str(out))
    assert code == 0, err
    assert printed.splitlines()[0].endswith(f"(full log: {out / 'eval.log'})")
    assert "Quality gates: none (no --config)" in printed
    with open(out / "metrics.json") as f:
        assert set(json.load(f)["metrics"]) == {"Overall"}
    assert "Running TFMA" in (out / "eval.log").read_text()
