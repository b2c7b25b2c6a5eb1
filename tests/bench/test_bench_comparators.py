"""LightGBM and ONNX Runtime comparators: input handling by hand, then a ~1 s run on a tiny exported model.

No speed is asserted: the numbers only have to be present, positive and consistent.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import tensorflow as tf

from lightrank.pipeline.config import SAMPLE_CONFIG
from lightrank_bench.comparators import (
    FEATURIZATIONS,
    LIGHTGBM,
    ONNX,
    ONNX_END_TO_END,
    SERVING_DEFAULT,
    SYSTEMS,
    ComparatorRow,
    ComparatorsResult,
    comparators_table,
    measure_comparators,
    run_comparators,
    system_name,
    task_label,
)
from lightrank_bench.comparators_setup import (
    BOOSTER_FILE,
    ComparatorSetup,
    training_labels,
)
from lightrank_bench.errors import BenchInputError
from lightrank_bench.featurizer import SERVING_FEATURES, TFT_LAYER, featurizer
from lightrank_bench.gbdt import continuous_matrix, train_lightgbm
from lightrank_bench.onnx_model import convert_to_onnx, prediction_difference
from lightrank_bench.serving import STRIPPED_PREFIXES, load_candidates, read_records

MARKER = -1.23456789
LABEL = "label.top3"


@pytest.fixture(scope="module")
def loaded(tiny):
    """The tiny exported model, loaded once for the tests that call its signatures in this process."""
    return tf.saved_model.load(tiny["model"])


def _without_serving_features(loaded: object) -> types.SimpleNamespace:
    """The tiny export as an export older than `serving_features` looks (same Transform layer)."""
    signatures = {name: f for name, f in loaded.signatures.items() if name != SERVING_FEATURES}
    return types.SimpleNamespace(signatures=signatures, tft_layer=loaded.tft_layer)


def test_continuous_matrix_turns_the_marker_and_non_finite_values_into_nan():
    raw = np.array([[1.5, MARKER, np.inf], [np.nan, -1.2345, -np.inf], [0.0, 7.0, MARKER]], np.float64)
    matrix = continuous_matrix(raw, MARKER)
    expected = np.array([[1.5, np.nan, np.nan], [np.nan, -1.2345, np.nan], [0.0, 7.0, np.nan]], np.float32)
    np.testing.assert_array_equal(matrix, expected)  # NaNs compare equal here; -1.2345 is not the marker
    assert matrix.dtype == np.float32 and matrix.flags["C_CONTIGUOUS"]
    assert raw[0, 1] == MARKER  # the input is not modified
    # The Transform's float32 marker matches too.
    assert np.isnan(continuous_matrix(np.array([[MARKER]], np.float32), MARKER)).all()
    with pytest.raises(BenchInputError, match="2-D"):
        continuous_matrix(np.zeros(3), MARKER)


def test_train_lightgbm_is_deterministic_and_separates_a_separable_set():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 3)).astype(np.float32)
    features[::7, 1] = np.nan  # missing values are fine
    labels = (features[:, 0] > 0).astype(np.int64)
    first = train_lightgbm(features, labels, trees=20, seed=3)
    second = train_lightgbm(features, labels, trees=20, seed=3)
    assert first.num_trees() == 20 and first.params["num_leaves"] == 31
    np.testing.assert_array_equal(first.predict(features), second.predict(features))
    assert first.model_to_string() == second.model_to_string()
    predictions = first.predict(np.array([[2.0, 0.0, 0.0], [-2.0, 0.0, 0.0]], np.float32))
    assert predictions[0] > 0.9 and predictions[1] < 0.1
    assert ((first.predict(features) > 0.5) == labels).all()
    soft = train_lightgbm(features, np.clip(features[:, 0] + 0.5, 0.0, 1.0), trees=5)
    assert soft.params["objective"] == "cross_entropy"
    with pytest.raises(BenchInputError, match=r"\[0, 1\]"):
        train_lightgbm(features, labels * 2, trees=2)
    with pytest.raises(BenchInputError, match="features"):
        train_lightgbm(features, labels[:10], trees=2)


def test_records_are_the_serving_candidates_with_their_labels(tiny):
    labeled = read_records(tiny["data"], 350)
    served = load_candidates(tiny["data"], 350)
    assert len(labeled) == 350 and labeled[300] == labeled[0]
    for raw, request in zip(labeled, served, strict=True):
        example = tf.train.Example.FromString(raw)
        assert LABEL in example.features.feature
        for name in list(example.features.feature):
            if name.startswith(STRIPPED_PREFIXES):
                del example.features.feature[name]
        assert example == tf.train.Example.FromString(request)


def test_both_featurisations_give_serving_transformed_the_predictions_of_serving_default(tiny, loaded):
    request = tf.constant(load_candidates(tiny["data"], 40))
    current = featurizer(loaded)
    assert current.source == SERVING_FEATURES  # the tiny export is current: it has the signature
    continuous, ids, row_lengths = current.featurize(request)
    # u.id holds 1 or 2 values (alternating), c.source 1: 2, 3, 2, 3, ... ids per candidate.
    np.testing.assert_array_equal(row_lengths.numpy(), [2, 3] * 20)
    assert ids.shape == (100,) and continuous.shape == (40, 2)
    assert ids.dtype == row_lengths.dtype == tf.int64 and continuous.dtype == tf.float32
    np.testing.assert_array_equal(current.continuous_only(request).numpy(), continuous.numpy())
    assert continuous.numpy()[0, 1] == np.float32(MARKER)  # candidate 0 has no c.likes
    transformed = loaded.signatures["serving_transformed"](
        continuous=continuous, ids=ids, row_lengths=row_lengths
    )["prediction"]
    served = loaded.signatures["serving_default"](examples=request)["prediction"]
    np.testing.assert_allclose(transformed.numpy(), served.numpy(), atol=1e-6)

    # An older export falls back to the Transform layer, which computes the very same tensors.
    fallback = featurizer(_without_serving_features(loaded))
    assert fallback.source == TFT_LAYER and featurizer(loaded, TFT_LAYER).source == TFT_LAYER
    for mine, theirs in zip(fallback.featurize(request), (continuous, ids, row_lengths), strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    np.testing.assert_array_equal(fallback.continuous_only(request).numpy(), continuous.numpy())
    with pytest.raises(BenchInputError, match="no serving_features signature: re-export"):
        featurizer(_without_serving_features(loaded), SERVING_FEATURES)
    with pytest.raises(BenchInputError, match="no Transform layer"):
        featurizer(types.SimpleNamespace(signatures={}))
    with pytest.raises(ValueError, match="unknown featurisation"):
        featurizer(loaded, "parse_only")


def test_onnx_conversion_keeps_infinite_inputs_finite_as_tensorflow_does(tiny, loaded, tmp_path):
    inputs = [
        value.numpy()
        for value in featurizer(loaded).featurize(tf.constant(load_candidates(tiny["data"], 30)))
    ]
    inputs[0][0, 0], inputs[0][1, 1] = np.inf, -np.inf  # FilterNonFinite zeroes them in TF
    status, difference = convert_to_onnx(loaded, inputs, str(tmp_path / "model.onnx"))
    if status != "converted":
        pytest.skip(status)
    assert difference is not None and difference <= 1e-5  # a NaN prediction would make it inf


def test_prediction_difference_treats_nan_as_a_mismatch_unless_both_are_nan():
    assert prediction_difference(np.array([0.5, 0.25]), np.array([0.5, 0.75])) == 0.5
    assert prediction_difference(np.array([np.nan, 0.1]), np.array([np.nan, 0.1])) == 0.0
    assert prediction_difference(np.array([np.nan, 0.1]), np.array([0.2, 0.1])) == np.inf


def test_comparators_run_every_system_and_onnx_matches_tensorflow(tiny):
    results = run_comparators(tiny["model"], tiny["data"], LABEL, [10, 50], 0.01, [1], train_candidates=300)
    [result] = results
    setup = result.setup
    assert result.threads == 1
    assert (setup.label, setup.train_candidates, setup.continuous_features) == (LABEL, 300, 2)
    assert setup.positive_rate == pytest.approx(3 / 20)  # label.top3 = 1 for i % 20 < 3
    assert (setup.trees, setup.leaves, setup.featurization) == (200, 31, SERVING_FEATURES)
    names = [(system_name(system, SERVING_FEATURES), system) for system, _ in SYSTEMS]
    if setup.onnx_converted:
        assert setup.onnx_max_abs_diff is not None and setup.onnx_max_abs_diff <= 1e-5
        assert setup.onnx_checked_candidates == 50
        expected = [(size, name) for size in (10, 50) for name, _ in names]
    else:
        assert setup.onnx_status.startswith("did not convert: ")
        expected = [(size, name) for size in (10, 50) for name, system in names if "ONNX" not in system]
    assert [(row.batch_size, row.system) for row in result.rows] == expected
    assert "DeepNorm, serving featurisation (`serving_features`), then ONNX Runtime" in dict(names)
    for row in result.rows:
        assert row.requests >= 5 and row.candidates_per_sec > 0 and 0 < row.p50_ms <= row.p99_ms
    command = ["lightrank-bench", "comparators", "--model", tiny["model"]]
    table = comparators_table(results, command)
    assert f"`lightrank-bench comparators --model {tiny['model']}`" in table
    assert "lightgbm 4." in table and "onnxruntime 1." in table and "tf2onnx 1." in table
    assert "- End-to-end rows featurise with the export's `serving_features` signature" in table
    for row in result.rows:
        assert (
            f"| 1 thread | {row.batch_size} | {row.system} | {row.inputs} | {row.candidates_per_sec:,.0f} |"
            in (table)
        )


def test_a_worker_featurises_as_told_and_names_the_rows_after_it(tiny, tmp_path):
    # A booster and no ONNX file: the worker times every system but the two ONNX Runtime ones.
    rng = np.random.default_rng(0)
    features = rng.normal(size=(50, 2)).astype(np.float32)
    train_lightgbm(features, (features[:, 0] > 0).astype(float), trees=3).save_model(
        str(tmp_path / BOOSTER_FILE)
    )
    rows = measure_comparators(tiny["model"], tiny["data"], str(tmp_path), [20], 0.01, 1, TFT_LAYER)
    expected = [system_name(system, TFT_LAYER) for system, _ in SYSTEMS if "ONNX" not in system]
    assert [row.system for row in rows] == expected
    assert (
        expected[-1]
        == "TF parse + Transform layer (`tft_layer`) alone"
        == FEATURIZATIONS[TFT_LAYER] + " alone"
    )
    assert all(row.batch_size == 20 and row.candidates_per_sec > 0 for row in rows)


def _setup(onnx_status: str, featurization: str = TFT_LAYER) -> ComparatorSetup:
    return ComparatorSetup(LABEL, 300, 0.15, 2, 200, 31, onnx_status, None, 0, featurization)


def test_table_shows_ratios_to_serving_default_a_failed_conversion_and_the_fallback():
    rows = (
        ComparatorRow(SERVING_DEFAULT, "serialized candidates", 100, 10, 50_000.0, 2.0, 3.0),
        ComparatorRow(LIGHTGBM, "`continuous` array", 100, 10, 125_000.0, 0.8, 1.0),
    )
    reason = "did not convert: tf2onnx: ValueError: unsupported op SparseSegmentSum"
    table = comparators_table([ComparatorsResult(0, _setup(reason), rows)], ["lightrank-bench"])
    assert "| all cores | 100 | LightGBM | `continuous` array | 125,000 | 0.80 | 1.00 | 2.50x |" in table
    assert "| 50,000 | 2.00 | 3.00 | 1.00x |" in table
    assert f"opset 17): {reason}" in table
    assert f"| all cores | 100 | {ONNX} | transformed tensors | did not convert |" in table
    onnx_end_to_end = "DeepNorm, TF parse + Transform layer (`tft_layer`), then ONNX Runtime"
    assert system_name(ONNX_END_TO_END, TFT_LAYER) == onnx_end_to_end
    assert f"| all cores | 100 | {onnx_end_to_end} | serialized candidates | did not convert |" in table
    assert "this export has no `serving_features` signature" in table


def test_bad_labels_are_user_errors(tiny):
    with pytest.raises(BenchInputError, match=r"label 'label\.nope' is not an output.*\['continuous'"):
        training_labels({"continuous": np.zeros([3, 2]), LABEL: np.zeros([3, 1])}, "label.nope", 3, "d/")
    with pytest.raises(BenchInputError, match=r"1 distinct value\(s\) in 3 candidates of d/"):
        training_labels({LABEL: np.zeros([3, 1], np.int64)}, LABEL, 3, "d/")
    np.testing.assert_array_equal(training_labels({LABEL: np.array([[1], [0]])}, LABEL, 2, "d/"), [1.0, 0.0])
    # The tiny model's task is in the sample feature spec, under the sample's column name.
    assert task_label(tiny["model"], SAMPLE_CONFIG) == "meta.ranking.is_top3"
