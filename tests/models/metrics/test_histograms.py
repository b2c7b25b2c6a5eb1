"""Batched AUC, PR-AUC and calibration plot: TFMA's values from whole arrays, and their refusals."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import calibration_histogram, metric_types
from tfma_harness import run_computations

from lightrank.models.metrics.histograms import (
    BatchedAUC,
    BatchedAUCPrecisionRecall,
    BatchedCalibrationHistogram,
    BatchedCalibrationPlot,
    batched,
)
from lightrank.models.metrics.views import CandidatesPreprocessor

NUM_BUCKETS = calibration_histogram.DEFAULT_NUM_BUCKETS
PAIRS = [
    (tfma.metrics.AUC(num_thresholds=200), BatchedAUC(num_thresholds=200)),
    (tfma.metrics.AUCPrecisionRecall(num_thresholds=200), BatchedAUCPrecisionRecall(num_thresholds=200)),
    (tfma.metrics.CalibrationPlot(), BatchedCalibrationPlot()),
]


def _candidates(seed: int, n: int, fractional: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, predictions and weights with the awkward cases: ends, bucket edges, zero weights."""
    rng = np.random.default_rng(seed)
    labels = rng.random(n) if fractional else rng.integers(0, 2, n).astype(np.float64)
    if fractional:
        labels[: n // 10] = rng.integers(0, 2, n // 10)  # exact 0.0 and 1.0 among the fractions
    predictions = rng.random(n)
    edges = rng.integers(0, NUM_BUCKETS + 1, n // 2) / NUM_BUCKETS
    predictions[: n // 6] = edges[: n // 6]
    predictions[n // 6 : n // 3] = np.nextafter(edges[n // 6 : n // 3], -np.inf)
    predictions[n // 3 : n // 2] = np.nextafter(edges[n // 6 : n // 3], np.inf)
    predictions[:4] = [0.0, 1.0, 0.0, 1.0]
    predictions[4:6] = [0.5 - 1e-12, 0.5 + 1e-12]
    weights = rng.random(n) * 2.0
    weights[rng.random(n) < 0.15] = 0.0
    order = rng.permutation(n)
    return labels[order], predictions[order], weights[order]


def _per_candidate(labels, predictions, weights) -> list[metric_types.StandardMetricInputs]:
    return [
        metric_types.StandardMetricInputs(
            labels=np.array([label]), predictions=np.array([prediction]), example_weights=np.array([weight])
        )
        for label, prediction, weight in zip(labels, predictions, weights, strict=True)
    ]


def _chunks(seed: int, labels, predictions, weights) -> list[metric_types.StandardMetricInputs]:
    """Cells of random sizes (1 to 40 candidates), shaped (n, 1) as TFMA's batches are."""
    rng = np.random.default_rng(seed)
    cuts = np.cumsum(rng.integers(1, 41, len(labels)))
    cuts = cuts[cuts < len(labels)]
    return [
        metric_types.StandardMetricInputs(
            labels=label.reshape(-1, 1), predictions=prediction.reshape(-1, 1), example_weights=weight
        )
        for label, prediction, weight in zip(
            np.split(labels, cuts), np.split(predictions, cuts), np.split(weights, cuts), strict=True
        )
    ]


def _parts(inputs: list, count: int = 3) -> list[list]:
    return [inputs[i::count] for i in range(count)]


def _assert_histograms_equal(actual, expected) -> None:
    assert [bucket.bucket_id for bucket in actual] == [bucket.bucket_id for bucket in expected]
    for column in ("weighted_labels", "weighted_predictions", "weighted_examples"):
        np.testing.assert_allclose(
            [getattr(bucket, column) for bucket in actual],
            [getattr(bucket, column) for bucket in expected],
            rtol=1e-9,
            atol=1e-12,
            err_msg=column,
        )


def _assert_same_results(expected: dict, actual: dict) -> None:
    assert set(actual) == set(expected)
    for key, value in expected.items():
        if key.name.startswith(calibration_histogram.CALIBRATION_HISTOGRAM_NAME):
            _assert_histograms_equal(actual[key], value)
        elif key.name == "calibration_plot":
            got = [(b.lower_threshold_inclusive, b.upper_threshold_exclusive) for b in actual[key].buckets]
            want = [(b.lower_threshold_inclusive, b.upper_threshold_exclusive) for b in value.buckets]
            assert got == want
            for field in (
                "total_weighted_label",
                "total_weighted_refined_prediction",
                "num_weighted_examples",
            ):
                np.testing.assert_allclose(
                    [getattr(b, field).value for b in actual[key].buckets],
                    [getattr(b, field).value for b in value.buckets],
                    rtol=1e-9,
                    atol=1e-12,
                    err_msg=field,
                )
        elif key.name in ("auc", "auc_precision_recall"):
            assert actual[key] == pytest.approx(value, rel=1e-9), key.name
            assert 0.0 < value < 1.0  # a degenerate AUC would compare nothing


@pytest.mark.parametrize("stock, batched_metric", PAIRS, ids=["auc", "pr_auc", "calibration_plot"])
@pytest.mark.parametrize("example_weighted", [True, False])
@pytest.mark.parametrize("fractional", [False, True], ids=["binary", "fractional"])
def test_chunks_give_tfma_values_fed_one_candidate_at_a_time(
    stock, batched_metric, example_weighted, fractional
) -> None:
    labels, predictions, weights = _candidates(7 + fractional, 600, fractional)
    config = tfma.EvalConfig()
    expected = run_computations(
        stock.computations(eval_config=config, example_weighted=example_weighted),
        _parts(_per_candidate(labels, predictions, weights)),
    )
    actual = run_computations(
        batched_metric.computations(eval_config=config, example_weighted=example_weighted),
        _parts(_chunks(11, labels, predictions, weights)),
    )
    _assert_same_results(expected, actual)
    (histogram,) = (value for key, value in actual.items() if isinstance(key, metric_types.PlotKey)
                    and key.name.startswith(calibration_histogram.CALIBRATION_HISTOGRAM_NAME))  # fmt: skip
    ids = [bucket.bucket_id for bucket in histogram]
    assert ids[0] == 1 and ids[-1] == NUM_BUCKETS + 1  # 0.0 and 1.0 reached both ends


def test_labels_outside_zero_one_count_as_tfma_does_when_not_fractional() -> None:
    """A plot over [0, 2] uses a histogram without fractional labels: every candidate makes a bucket."""
    labels, predictions, weights = _candidates(3, 300, fractional=False)
    labels = labels * 3.0
    predictions = predictions * 2.0 - 0.25  # some below left, some above right
    stock = tfma.metrics.CalibrationPlot(left=0.0, right=2.0)
    batch = BatchedCalibrationPlot(left=0.0, right=2.0)
    expected = run_computations(
        stock.computations(eval_config=tfma.EvalConfig(), example_weighted=True),
        _parts(_per_candidate(labels, predictions, weights)),
    )
    actual = run_computations(
        batch.computations(eval_config=tfma.EvalConfig(), example_weighted=True),
        _parts(_chunks(5, labels, predictions, weights)),
    )
    _assert_same_results(expected, actual)


def _histogram(labels, predictions, weights, example_weighted: bool, left=0.0, right=1.0):
    """The batched and the stock histogram of one cell, combined in two parts."""
    results = []
    for wrap in (batched, lambda computations: computations):
        (computation,) = wrap(
            calibration_histogram.calibration_histogram(
                left=left, right=right, example_weighted=example_weighted
            )
        )
        inputs = metric_types.StandardMetricInputs(
            labels=np.asarray(labels),
            predictions=np.asarray(predictions),
            example_weights=np.asarray(weights),
        )
        per_candidate = _per_candidate(labels, predictions, weights)
        parts = [[inputs], []] if wrap is batched else [per_candidate[:1], per_candidate[1:]]
        results.append(next(iter(run_computations([computation], parts).values())))
    return results


def test_a_bucket_reached_only_by_zero_weights_does_not_exist_with_fractional_labels() -> None:
    labels, predictions, weights = [1.0, 0.25, 0.0], [0.05, 0.55, 0.95], [0.0, 2.0, 0.0]
    batch, stock = _histogram(labels, predictions, weights, example_weighted=True)
    assert [b.bucket_id for b in batch] == [b.bucket_id for b in stock] == [5501]
    assert (batch[0].weighted_labels, batch[0].weighted_examples) == (0.5, 2.0)
    # Unweighted, every candidate weighs 1 and makes its bucket.
    batch, stock = _histogram(labels, predictions, weights, example_weighted=False)
    assert [b.bucket_id for b in batch] == [b.bucket_id for b in stock] == [501, 5501, 9501]
    # Without fractional labels (a range other than [0, 1]) zero weights make buckets too.
    batch, stock = _histogram(labels, predictions, weights, example_weighted=True, right=2.0)
    assert [b.bucket_id for b in batch] == [b.bucket_id for b in stock] == [251, 2751, 4751]
    assert [b.weighted_examples for b in batch] == [0.0, 2.0, 0.0]


def test_batched_replaces_only_the_histogram_and_reads_candidate_cells() -> None:
    stock = tfma.metrics.AUC(num_thresholds=200).computations(eval_config=tfma.EvalConfig())
    result = BatchedAUC(num_thresholds=200).computations(eval_config=tfma.EvalConfig())
    assert [c.keys for c in result] == [c.keys for c in stock]
    histogram, *derived = result
    assert isinstance(histogram.combiner, BatchedCalibrationHistogram)
    assert [type(p) for p in histogram.preprocessors] == [CandidatesPreprocessor]
    # TFMA's own derivations, untouched.
    assert all(isinstance(c, metric_types.DerivedMetricComputation) for c in derived)
    assert [c.result.__qualname__ for c in derived] == [c.result.__qualname__ for c in stock[1:]]


def test_batched_refuses_other_base_computations() -> None:
    with pytest.raises(TypeError, match="_ExampleCountCombiner"):
        batched(tfma.metrics.ExampleCount().computations(eval_config=tfma.EvalConfig()))


@pytest.mark.parametrize(
    "computations",
    [
        lambda: calibration_histogram.calibration_histogram(class_weights={0: 1.0, 1: 2.0}),
        lambda: calibration_histogram.calibration_histogram(sub_key=metric_types.SubKey(class_id=1)),
        lambda: calibration_histogram.calibration_histogram(prediction_based_bucketing=False),
        lambda: tfma.metrics.AUC().computations(eval_config=tfma.EvalConfig(), class_weights={0: 1.0}),
    ],
    ids=["class_weights", "sub_key", "label_buckets", "auc_class_weights"],
)
def test_replacing_refuses_settings_it_does_not_implement(computations) -> None:
    (histogram, *_) = computations()
    with pytest.raises(NotImplementedError, match="does not support"):
        BatchedCalibrationHistogram.replacing(histogram.combiner)


def test_class_weights_are_named_in_the_refusal() -> None:
    (histogram,) = calibration_histogram.calibration_histogram(class_weights={0: 1.0})
    with pytest.raises(NotImplementedError, match="class_weights"):
        batched([histogram])


def _add(combiner, labels, predictions, weights=None):
    inputs = metric_types.StandardMetricInputs(
        labels=np.asarray(labels),
        predictions=np.asarray(predictions),
        example_weights=None if weights is None else np.asarray(weights),
    )
    return combiner.add_input(combiner.create_accumulator(), inputs)


def _batched_combiner(**kwargs) -> BatchedCalibrationHistogram:
    (computation,) = batched(calibration_histogram.calibration_histogram(**kwargs))
    return computation.combiner


def test_a_nan_prediction_is_an_error() -> None:
    with pytest.raises(ValueError, match="NaN"):
        _add(_batched_combiner(), [0.0, 1.0], [0.3, np.nan])


def test_fractional_labels_outside_zero_one_are_an_error() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        _add(_batched_combiner(), [0.0, 1.5], [0.3, 0.4])
    accumulator = _add(_batched_combiner(right=2.0), [0.0, 1.5], [0.3, 0.4])  # not fractional: fine
    assert accumulator.sums[:, 0].sum() == 1.5


def test_labels_and_predictions_of_different_sizes_are_an_error() -> None:
    with pytest.raises(ValueError, match="3 labels for 2 predictions"):
        _add(_batched_combiner(), [0.0, 1.0, 1.0], [[0.3], [0.4]], [[1.0], [1.0]])


def test_merging_adds_the_tables() -> None:
    combiner = _batched_combiner(example_weighted=True)
    first = _add(combiner, [1.0, 0.0], [0.1, 0.9], [2.0, 0.0])
    second = _add(combiner, [0.0, 1.0], [0.1, 0.5], [1.0, 3.0])
    merged = combiner.merge_accumulators([first, second])
    (histogram,) = combiner.extract_output(merged).values()
    assert [(b.bucket_id, b.weighted_labels, b.weighted_examples) for b in histogram] == [
        (1001, 2.0, 3.0),
        (5001, 3.0, 3.0),
    ]
