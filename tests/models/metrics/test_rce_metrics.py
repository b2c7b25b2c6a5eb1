"""RCE / NRCE / ARCE / log loss / ctr / predicted_ctr TFMA metrics against hand computations."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.evaluators.metrics_plots_and_validations_evaluator import (
    _filter_and_separate_computations,
)
from tensorflow_model_analysis.metrics import metric_specs, metric_types
from tfma_harness import run_computations

from lightrank.models.metrics.formulas import clipped_log_loss, clipped_log_loss_scalar, rce_from_sums
from lightrank.models.metrics.rce_metrics import (
    ARCE,
    CTR,
    NRCE,
    RCE,
    LogLoss,
    PredictedCTR,
    arce_value,
    nrce_value,
)
from lightrank.models.metrics.specs import light_ranking_metrics_specs
from lightrank.models.metrics.streaming_sums import (
    STREAMING_STATE_KEY_NAME,
    BinarySums,
    PredictionHistogram,
    bucket_of,
)

# (label, prediction, weight)
EXAMPLES = [(1.0, 0.8, 2.0), (0.0, 0.4, 1.0), (1.0, 0.6, 1.0), (0.0, 0.3, 3.0)]


def _bce(y: float, p: float) -> float:
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def _hand_rce(examples: Sequence[tuple[float, float, float]]) -> float:
    total = sum(w for _, _, w in examples)
    ctr = sum(w * y for y, _, w in examples) / total
    ce_model = sum(w * _bce(y, p) for y, p, w in examples) / total
    return 100.0 * (1.0 - ce_model / _bce(ctr, ctr))


def _run(
    metric: metric_types.Metric,
    examples: Sequence[tuple[float, float, float]],
    example_weighted: bool,
    splits: int = 1,
) -> dict[str, float]:
    """Runs a metric's computations like TFMA does (combine per part, merge, derive), without Beam."""
    inputs = [
        metric_types.StandardMetricInputs(
            labels=np.array([label]), predictions=np.array([prediction]), example_weights=np.array([weight])
        )
        for label, prediction, weight in examples
    ]
    computations = metric.computations(eval_config=tfma.EvalConfig(), example_weighted=example_weighted)
    results = run_computations(computations, [inputs[part::splits] for part in range(splits)])
    public = {key.name: value for key, value in results.items() if not key.name.startswith("_")}
    assert all(key.example_weighted == example_weighted for key in results if not key.name.startswith("_"))
    return public


def test_ctr_pair_weighted_and_unweighted() -> None:
    assert _run(CTR(), EXAMPLES, True) == {"ctr": pytest.approx(3.0 / 7.0)}
    assert _run(CTR(unweighted=True), EXAMPLES, True) == {"ctr_unweighted": pytest.approx(0.5)}
    predicted = (2 * 0.8 + 0.4 + 0.6 + 3 * 0.3) / 7.0
    assert _run(PredictedCTR(), EXAMPLES, True) == {"predicted_ctr": pytest.approx(predicted)}
    assert _run(PredictedCTR(unweighted=True), EXAMPLES, True)["predicted_ctr_unweighted"] == pytest.approx(
        0.525
    )


def test_rce_weighted_matches_hand_computation() -> None:
    # CE = [2·-ln .8 + -ln .6 + -ln .6 + 3·-ln .7] / 7, baseline H(3/7).
    ce = (2 * -math.log(0.8) + 2 * -math.log(0.6) + 3 * -math.log(0.7)) / 7.0
    expected = 100.0 * (1.0 - ce / _bce(3 / 7, 3 / 7))
    assert _run(RCE(), EXAMPLES, True)["rce"] == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(_hand_rce(EXAMPLES), rel=1e-12)


def test_unweighted_variant_ignores_weights_even_in_a_weighted_spec() -> None:
    expected = _hand_rce([(y, p, 1.0) for y, p, _ in EXAMPLES])
    assert _run(RCE(unweighted=True), EXAMPLES, True)["rce_unweighted"] == pytest.approx(expected, rel=1e-12)
    assert _run(RCE(unweighted=True), EXAMPLES, False)["rce_unweighted"] == pytest.approx(expected, rel=1e-12)
    # A weighted metric in an unweighted spec (no example_weight_key) uses weight 1 too.
    assert _run(RCE(), EXAMPLES, False)["rce"] == pytest.approx(expected, rel=1e-12)
    assert _run(RCE(), EXAMPLES, True)["rce"] != pytest.approx(expected, rel=1e-6)


def test_nrce_uses_the_slice_global_normaliser() -> None:
    a = 3.0 / 3.5  # Σw·y / Σw·p
    scaled = [(y, p * a, w) for y, p, w in EXAMPLES]
    assert _run(NRCE(), EXAMPLES, True)["nrce"] == pytest.approx(_hand_rce(scaled), rel=1e-12)
    a_unweighted = 2.0 / 2.1
    scaled = [(y, p * a_unweighted, 1.0) for y, p, _ in EXAMPLES]
    assert _run(NRCE(unweighted=True), EXAMPLES, True)["nrce_unweighted"] == pytest.approx(
        _hand_rce(scaled), rel=1e-12
    )


def test_arce_uses_global_a_and_c() -> None:
    a, c = 3.0 / 3.5, (7.0 - 3.0) / (7.0 - 3.5)
    recalibrated = [(y, p * a / (p * a + (1 - p) * c), w) for y, p, w in EXAMPLES]
    assert _run(ARCE(), EXAMPLES, True)["arce"] == pytest.approx(_hand_rce(recalibrated), rel=1e-12)


def test_arce_unweighted_uses_unit_weight_a_and_c() -> None:
    # Unweighted: Σy = 2, Σp = 2.1, n = 4, so a = 2 / 2.1 and c = (4 - 2) / (4 - 2.1).
    a, c = 2.0 / 2.1, 2.0 / 1.9
    recalibrated = [(y, p * a / (p * a + (1 - p) * c), 1.0) for y, p, _ in EXAMPLES]
    expected = _hand_rce(recalibrated)
    assert _run(ARCE(unweighted=True), EXAMPLES, True)["arce_unweighted"] == pytest.approx(
        expected, rel=1e-12
    )
    assert expected != pytest.approx(_run(ARCE(), EXAMPLES, True)["arce"], rel=1e-3)  # weights matter


def test_log_loss_weighted_and_unweighted_hand_values() -> None:
    weighted = (2 * -math.log(0.8) + -math.log(0.6) + -math.log(0.6) + 3 * -math.log(0.7)) / 7.0
    unweighted = (-math.log(0.8) - math.log(0.6) - math.log(0.6) - math.log(0.7)) / 4.0
    assert _run(LogLoss(), EXAMPLES, True) == {"log_loss": pytest.approx(weighted, rel=1e-12)}
    assert _run(LogLoss(unweighted=True), EXAMPLES, True) == {
        "log_loss_unweighted": pytest.approx(unweighted, rel=1e-12)
    }
    # RCE is built on it: RCE = 100 * (1 - log_loss / H(ctr)).
    assert _run(RCE(), EXAMPLES, True)["rce"] == pytest.approx(
        100.0 * (1.0 - weighted / _bce(3 / 7, 3 / 7)), rel=1e-12
    )
    # A saturated prediction is clipped (TFMA's BinaryCrossEntropy would give inf).
    assert _run(LogLoss(), [(0.0, 1.0, 1.0), (1.0, 0.5, 1.0)], False)["log_loss"] == pytest.approx(
        (-math.log(1e-5) - math.log(0.5)) / 2, rel=1e-12
    )
    assert math.isnan(_run(LogLoss(), [(1.0, 0.3, 0.0)], True)["log_loss"])  # no weight


def test_result_does_not_depend_on_how_the_slice_is_split() -> None:
    for metric in (RCE(), NRCE(), ARCE(), CTR(), LogLoss(), LogLoss(unweighted=True)):
        whole = _run(metric, EXAMPLES, True)
        assert _run(metric, EXAMPLES, True, splits=3) == {
            k: pytest.approx(v, rel=1e-12) for k, v in whole.items()
        }


def test_predictions_are_clipped_before_the_log_loss() -> None:
    examples = [(1.0, 1.0, 1.0), (0.0, 0.0, 1.0), (1.0, 0.0, 1.0)]  # last one: -ln(1e-5)
    expected = 100.0 * (1.0 - (2 * -math.log(1 - 1e-5) + -math.log(1e-5)) / 3.0 / _bce(2 / 3, 2 / 3))
    assert _run(RCE(), examples, False)["rce"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("label", [0.0, 1.0])
def test_single_class_slice_gives_nan(label: float) -> None:
    examples = [(label, 0.3, 1.0), (label, 0.6, 2.0)]
    for metric, name in ((RCE(), "rce"), (NRCE(), "nrce"), (ARCE(), "arce")):
        assert math.isnan(_run(metric, examples, True)[name])
    assert _run(CTR(), examples, True)["ctr"] == label


def test_zero_total_weight_gives_nan() -> None:
    examples = [(1.0, 0.3, 0.0), (0.0, 0.6, 0.0)]
    assert math.isnan(_run(CTR(), examples, True)["ctr"])
    assert math.isnan(_run(RCE(), examples, True)["rce"])
    assert math.isnan(_run(NRCE(), examples, True)["nrce"])


def test_soft_labels_split_a_bucket_between_classes_exactly() -> None:
    examples = [(0.3, 0.2, 1.0), (0.9, 0.7, 2.0), (0.0, 0.1, 1.0)]
    a = (0.3 + 1.8) / (0.2 + 1.4 + 0.1)
    scaled = [(y, p * a, w) for y, p, w in examples]
    assert _run(NRCE(), examples, True)["nrce"] == pytest.approx(_hand_rce(scaled), rel=1e-12)


def test_histogram_nrce_and_arce_track_the_exact_values_on_dense_predictions() -> None:
    # 20k predictions share ~9k buckets, so buckets mix predictions: the error must stay tiny.
    rng = np.random.default_rng(0)
    p = rng.beta(0.5, 8.0, 20_000)
    y = (rng.random(p.size) < np.clip(1.3 * p, 0.0, 1.0)).astype(np.float64)
    w = rng.integers(0, 5, p.size).astype(np.float64)
    sums, histogram = BinarySums(), PredictionHistogram()
    for part in np.array_split(np.arange(p.size), 7):  # cells of different sizes, as TFMA hands them
        sums.add(y[part], p[part], w[part])
        histogram.add(y[part], p[part], w[part])
    assert 0 < histogram.num_buckets < p.size
    a = np.sum(w * y) / np.sum(w * p)
    c = (np.sum(w) - np.sum(w * y)) / (np.sum(w) - np.sum(w * p))
    exact_nrce = rce_from_sums(w.sum(), np.sum(w * y), np.sum(w * clipped_log_loss(y, a * p)))
    exact_arce = rce_from_sums(
        w.sum(), np.sum(w * y), np.sum(w * clipped_log_loss(y, p * a / (p * a + (1 - p) * c)))
    )
    assert nrce_value(sums, histogram) == pytest.approx(exact_nrce, abs=1e-5)
    assert arce_value(sums, histogram) == pytest.approx(exact_arce, abs=1e-5)
    assert sums.num_examples == p.size


def test_bucket_of_is_monotone_and_fine() -> None:
    buckets = bucket_of(np.array([0.0, 1e-6, 0.5, 1 - 1e-6, 1.0]))
    assert np.all(np.diff(buckets) > 0)
    assert bucket_of(np.array([0.5]))[0] == 0
    assert bucket_of(np.array([0.2]))[0] == bucket_of(np.array([0.2 + 1e-6]))[0]
    assert bucket_of(np.array([0.2]))[0] != bucket_of(np.array([0.2 * 1.002]))[0]


def test_histogram_survives_pickling_with_batches_still_pending() -> None:
    import pickle

    histogram = PredictionHistogram()
    histogram.add(np.array([1.0, 0.0]), np.array([0.3, 0.3]), np.array([2.0, 1.0]))
    histogram.add(np.array([0.0]), np.array([0.9]), np.array([1.0]))
    restored = pickle.loads(pickle.dumps(histogram))
    restored.merge(histogram)
    assert restored.sums.tolist() == [[4.0, 2.0, 1.2, 0.6], [0.0, 2.0, 0.0, 1.8]]


@pytest.mark.parametrize(
    ("metric", "config"),
    [
        (RCE(), {"name": "rce", "unweighted": False}),
        (NRCE(unweighted=True), {"name": "nrce_unweighted", "unweighted": True}),
        (ARCE(name="arce_custom"), {"name": "arce_custom", "unweighted": False}),
        (PredictedCTR(unweighted=True), {"name": "predicted_ctr_unweighted", "unweighted": True}),
        (LogLoss(unweighted=True), {"name": "log_loss_unweighted", "unweighted": True}),
    ],
)
def test_config_round_trips_through_tfma_metric_config(metric: metric_types.Metric, config: dict) -> None:
    assert metric.get_config() == config
    metric_config = tfma.MetricConfig(
        class_name=type(metric).__name__, module=type(metric).__module__, config=json.dumps(config)
    )
    rebuilt = metric_specs.metric_instance(metric_config)
    assert type(rebuilt) is type(metric)
    assert rebuilt.get_config() == config
    assert rebuilt.name == config["name"]


@pytest.mark.parametrize("label", [0.0, 1.0, 0.3])
@pytest.mark.parametrize("prediction", [0.0, 1e-9, 0.2, 0.5, 0.999999, 1.0])
def test_scalar_log_loss_equals_the_array_formula(label: float, prediction: float) -> None:
    assert clipped_log_loss_scalar(label, prediction) == pytest.approx(
        float(clipped_log_loss(label, prediction)), rel=1e-12, abs=1e-15
    )


def test_the_whole_family_weighted_and_unweighted_shares_one_combiner() -> None:
    """One pass over the examples feeds all twelve metrics (TFMA de-duplicates by key)."""
    eval_config = tfma.EvalConfig(model_specs=[tfma.ModelSpec()])
    # The production specs: a weighted and an unweighted spec, one state computation between them.
    production = metric_specs.to_computations(
        light_ranking_metrics_specs("meta.key", "meta.score"), eval_config
    )
    combiners, *_ = _filter_and_separate_computations(production)  # TFMA's own de-duplication
    states = [c for c in combiners if STREAMING_STATE_KEY_NAME in {key.name for key in c.keys}]
    assert len(states) == 1
    # Every metric of the family, in one weighted spec: both variants from the one state, still
    # differing where weights matter.
    metrics = [
        cls(unweighted=flag)
        for cls in (RCE, NRCE, ARCE, LogLoss, CTR, PredictedCTR)
        for flag in (False, True)
    ]
    computations = [
        c for m in metrics for c in m.computations(eval_config=eval_config, example_weighted=True)
    ]
    combined, *_ = _filter_and_separate_computations(computations)
    assert [key.name for c in combined for key in c.keys] == [STREAMING_STATE_KEY_NAME]
    inputs = [
        metric_types.StandardMetricInputs(
            labels=np.array([y]), predictions=np.array([p]), example_weights=np.array([w])
        )
        for y, p, w in EXAMPLES
    ]
    by_name = {key.name: value for key, value in run_computations(computations, [inputs]).items()}
    assert by_name["rce"] == pytest.approx(_hand_rce(EXAMPLES))
    assert by_name["rce_unweighted"] == pytest.approx(_hand_rce([(y, p, 1.0) for y, p, _ in EXAMPLES]))
