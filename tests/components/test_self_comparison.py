"""A model that is its own baseline: one TFMA pass, judged exactly as TFMA judges the comparison.

The reference is TFMA itself: the same tiny model evaluated as candidate and baseline (two
models scored), against which the one-pass output rewritten by `rewrite_as_comparison` must
agree in verdict, metrics and eval config.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.writers import eval_config_writer
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from lightrank.components import self_comparison
from lightrank.components.runtime_evaluator import differs_from_baseline

#: label, score (the model's prediction), source. Source "b" has only negatives: its mean label is 0.
ROWS = [(1.0, 0.9, "a"), (0.0, 0.2, "a"), (1.0, 0.6, "a"), (0.0, 0.4, "b"), (0.0, 0.1, "b"), (0.0, 0.3, "b")]
HIGHER, LOWER = tfma.MetricDirection.HIGHER_IS_BETTER, tfma.MetricDirection.LOWER_IS_BETTER
SLICE_B = tfma.SlicingSpec(feature_values={"source": "b"})
#: name -> (TFMA metric class, threshold fields, fails against itself). Every change is 0.
GATES = {
    "count_at_least_1": ("ExampleCount", {"lower_bound": 1.0}, False),
    "mean_prediction_at_most_0": ("MeanPrediction", {"upper_bound": 0.0}, True),
    "value_and_tolerance": (
        "MeanPrediction",
        {"lower_bound": 0.0, "change": HIGHER, "absolute": -0.5},
        False,
    ),
    "improve_absolute": ("MeanPrediction", {"change": HIGHER, "absolute": 0.01}, True),
    "tolerate_absolute": ("MeanPrediction", {"change": HIGHER, "absolute": -0.5}, False),
    "no_worse_absolute": ("MeanPrediction", {"change": HIGHER, "absolute": 0.0}, False),
    "lower_tolerate_absolute": ("MeanPrediction", {"change": LOWER, "absolute": 0.01}, False),
    "lower_improve_absolute": ("MeanPrediction", {"change": LOWER, "absolute": -0.01}, True),
    "improve_relative": ("MeanPrediction", {"change": HIGHER, "relative": 0.01}, True),
    "tolerate_relative": ("MeanPrediction", {"change": HIGHER, "relative": -0.1}, False),
    "lower_tolerate_relative": ("MeanPrediction", {"change": LOWER, "relative": 0.1}, False),
    "lower_improve_relative": ("MeanPrediction", {"change": LOWER, "relative": -0.1}, True),
}
#: Relative to a baseline value of 0 (slice "b"'s mean label): TFMA's ratio is NaN, so it fails.
RELATIVE_ON_ZERO = "relative_on_zero"


def _threshold(fields: dict) -> tfma.MetricThreshold:
    threshold = tfma.MetricThreshold()
    fields = dict(fields)
    if "change" in fields:
        threshold.change_threshold.direction = fields.pop("change")
        for name in ("absolute", "relative"):
            if name in fields:
                getattr(threshold.change_threshold, name).value = fields.pop(name)
    for name, value in fields.items():
        getattr(threshold.value_threshold, name).value = value
    return threshold


def _eval_config(gates: dict = GATES) -> tfma.EvalConfig:
    metrics = [
        tfma.MetricConfig(class_name=kind, config=f'{{"name": "{name}"}}', threshold=_threshold(fields))
        for name, (kind, fields, _) in gates.items()
    ]
    metrics.append(
        tfma.MetricConfig(
            class_name="MeanLabel",
            config=f'{{"name": "{RELATIVE_ON_ZERO}"}}',
            per_slice_thresholds=[
                tfma.PerSliceMetricThreshold(
                    slicing_specs=[SLICE_B], threshold=_threshold({"change": LOWER, "relative": 0.5})
                )
            ],
        )
    )
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="label", prediction_key="prediction")],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["source"])],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
    )


class _Scores(tf.Module):
    """A model whose prediction is the example's `score`: deterministic, with a serving signature."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        return {
            "prediction": tf.io.parse_example(examples, {"score": tf.io.FixedLenFeature([1], tf.float32)})[
                "score"
            ]
        }


def _evaluate(root: Path, data: str, model: str, *, with_baseline: bool) -> str:
    """TFMA's output as TFX's Evaluator runs it: the model alone, or as candidate and baseline."""
    config = tfma.utils.update_eval_config_with_defaults(
        _eval_config(), has_baseline=with_baseline, rubber_stamp=True
    )
    models = [
        tfma.default_eval_shared_model(eval_saved_model_path=model, model_name=spec.name, eval_config=config)
        for spec in config.model_specs
    ]
    out = str(root / ("comparison" if with_baseline else "alone"))
    tfma.run_model_analysis(
        eval_shared_model=models if with_baseline else models[0],
        eval_config=config,
        data_location=data,
        output_path=out,
    )
    return out


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """TFMA's comparison of the model with itself, and the one-pass output (before any rewrite)."""
    root = tmp_path_factory.mktemp("self_comparison")
    data = str(root / "rows.tfrecord")
    with tf.io.TFRecordWriter(data) as writer:
        for label, score, source in ROWS:
            feature = {
                "label": tf.train.Feature(float_list=tf.train.FloatList(value=[label])),
                "score": tf.train.Feature(float_list=tf.train.FloatList(value=[score])),
                "source": tf.train.Feature(bytes_list=tf.train.BytesList(value=[source.encode()])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    scores = _Scores()
    model = str(root / "model")
    tf.saved_model.save(scores, model, signatures={"serving_default": scores.serve})
    return {
        "comparison": _evaluate(root, data, model, with_baseline=True),
        "alone": _evaluate(root, data, model, with_baseline=False),
    }


@pytest.fixture()
def rewritten(outputs: dict[str, str], tmp_path: Path) -> tuple[str, object]:
    """A copy of the one-pass output turned into its comparison with itself, and the verdict."""
    uri = str(tmp_path / "evaluation")
    shutil.copytree(outputs["alone"], uri)
    return uri, self_comparison.rewrite_as_comparison(uri, self_comparison.comparison_config(_eval_config()))


def _failures(result) -> dict[str, set[str]]:
    """Failed metric names by slice name (TFMA's, e.g. "Overall", "source:b")."""
    failed: dict[str, set[str]] = {}
    for per_slice in result.metric_validations_per_slice:
        name = tfma.slicer.stringify_slice_key(tfma.slicer.deserialize_slice_key(per_slice.slice_key))
        failed.setdefault(name, set()).update(failure.metric_key.name for failure in per_slice.failures)
    return failed


def _normalised(result) -> tuple:
    per_slice = sorted(
        (v.slice_key.SerializeToString(), sorted(f.SerializeToString() for f in v.failures))
        for v in result.metric_validations_per_slice
    )
    details = sorted(d.SerializeToString() for d in result.validation_details.slicing_details)
    return result.validation_ok, per_slice, details, list(result.missing_slices), result.missing_thresholds


def _metrics(uri: str) -> dict[tuple[bytes, bytes], float]:
    return {
        (record.slice_key.SerializeToString(), entry.key.SerializeToString()): entry.value.double_value.value
        for record in tfma.load_metrics(uri)
        for entry in record.metric_keys_and_values
    }


def test_each_threshold_kind_is_judged_on_a_difference_of_0(rewritten):
    _, result = rewritten
    failing = {name for name, (_, _, fails) in GATES.items() if fails}
    failed = _failures(result)
    assert failed["Overall"] == failing
    assert failed["source:a"] == failing
    assert failed["source:b"] == failing | {RELATIVE_ON_ZERO}
    assert not result.validation_ok


def test_the_verdict_metrics_and_config_are_tfmas_own_comparison_of_the_model_with_itself(outputs, rewritten):
    uri, result = rewritten
    assert _normalised(result) == _normalised(tfma.load_validation_result(outputs["comparison"]))
    assert _normalised(tfma.load_validation_result(uri)) == _normalised(result)  # the file holds it
    ours, theirs = _metrics(uri), _metrics(outputs["comparison"])
    assert ours.keys() == theirs.keys()  # candidate, baseline and diff of every metric
    assert all(
        ours[key] == theirs[key] or (math.isnan(ours[key]) and math.isnan(theirs[key])) for key in ours
    )
    our_run, their_run = (
        eval_config_writer.load_eval_run(uri),
        eval_config_writer.load_eval_run(outputs["comparison"]),
    )
    assert our_run[0] == their_run[0] and our_run[3] == their_run[3]


def test_with_tolerances_and_reachable_bounds_only_the_model_passes(rewritten):
    uri, _ = rewritten
    passing = {name: gate for name, gate in GATES.items() if not gate[2]}
    config = self_comparison.comparison_config(_eval_config(passing))
    config.metrics_specs[0].metrics.pop()  # no relative gate on a baseline value of 0
    result = self_comparison.validate_against_itself(tfma.load_metrics(uri), config)
    assert result.validation_ok and not result.metric_validations_per_slice


def _artifact(kind, artifact_id: int, uri: str):
    artifact = kind()
    artifact.id, artifact.uri = artifact_id, uri
    return artifact


def test_the_same_model_is_the_same_id_or_the_same_directory():
    model = _artifact(standard_artifacts.Model, 7, "/root/Trainer/model/7")
    assert self_comparison.is_same_model(model, _artifact(standard_artifacts.Model, 7, "/elsewhere"))
    assert self_comparison.is_same_model(
        model, _artifact(standard_artifacts.Model, 9, "/root/Trainer/model/7/")
    )
    assert not self_comparison.is_same_model(
        model, _artifact(standard_artifacts.Model, 9, "/root/Trainer/model/9")
    )
    unregistered = _artifact(standard_artifacts.Model, 0, "")
    assert not self_comparison.is_same_model(unregistered, _artifact(standard_artifacts.Model, 0, ""))
    assert not differs_from_baseline({"model": [model], "baseline_model": [model]})
    assert differs_from_baseline({"model": [model], "baseline_model": []})


def _run(outputs: dict[str, str], tmp_path: Path, gates: dict) -> tuple[object, list[dict]]:
    """`evaluate_against_itself` with TFX's Do faked by a copy of the one-pass output."""
    model = _artifact(standard_artifacts.Model, 7, str(tmp_path / "model"))
    evaluation = _artifact(standard_artifacts.ModelEvaluation, 11, str(tmp_path / "evaluation"))
    blessing = _artifact(standard_artifacts.ModelBlessing, 12, str(tmp_path / "blessing"))
    os.makedirs(blessing.uri)
    calls: list[dict] = []

    def evaluate(inputs: dict, output_dict: dict, properties: dict) -> None:
        calls.append(inputs)
        shutil.copytree(outputs["alone"], evaluation.uri)
        if gates:
            Path(blessing.uri, "BLESSED").touch()  # TFX's verdict on the value thresholds alone

    config = _eval_config(gates)
    if not gates:
        config.metrics_specs[0].metrics.pop()
    self_comparison.evaluate_against_itself(
        evaluate,
        {"model": [model], "baseline_model": [model], "examples": []},
        {"evaluation": [evaluation], "blessing": [blessing]},
        {"eval_config": proto_utils.proto_to_json(config)},
    )
    return blessing, calls


def test_the_blessing_says_what_tfx_says_and_that_the_baseline_was_the_candidate(outputs, tmp_path):
    blessing, calls = _run(outputs, tmp_path, GATES)
    assert [sorted(inputs) for inputs in calls] == [["examples", "model"]]  # scored once, alone
    assert blessing.get_int_custom_property("blessed") == 0
    assert blessing.get_int_custom_property(self_comparison.BASELINE_IS_CANDIDATE) == 1
    assert blessing.get_int_custom_property("current_model_id") == 7
    assert blessing.get_int_custom_property("baseline_model_id") == 7
    assert blessing.get_string_custom_property("baseline_model") == blessing.get_string_custom_property(
        "current_model"
    )
    assert sorted(os.listdir(blessing.uri)) == ["NOT_BLESSED"]


def test_without_thresholds_there_is_no_verdict_as_in_tfx(outputs, tmp_path):
    blessing, _ = _run(outputs, tmp_path, {})
    assert blessing.get_int_custom_property(self_comparison.BASELINE_IS_CANDIDATE) == 1
    assert not blessing.has_custom_property("blessed")
