"""Grouped light-ranking metrics: TFMA wiring, missing data, and an end-to-end TFMA run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.api import types
from tensorflow_model_analysis.metrics import metric_specs, metric_types
from tfma_harness import run_computations

from lightrank.components.eval_extractors import custom_extractors
from lightrank.models.metrics.grouped import (
    FAMILY_NAME,
    LightRankingGroupMetrics,
    grouped_metric_names,
    needs_whole_requests,
    single_value_mask,
)
from lightrank.models.metrics.specs import light_ranking_metrics_specs
from lightrank.models.metrics.views import REQUEST_ID_KEY

REQUEST = "meta.trace_id"
HEAVY = "meta.ranking.weighted_oonc_model_score"


def _request(predictions: list[float], trace_ids: object, heavy: object) -> metric_types.StandardMetricInputs:
    return metric_types.StandardMetricInputs(
        labels=np.zeros(len(predictions)),
        predictions=np.asarray(predictions),
        example_weights=np.ones(len(predictions)),
        features={REQUEST: trace_ids, HEAVY: heavy},
    )


def _run(
    metric: LightRankingGroupMetrics, requests: list[metric_types.StandardMetricInputs]
) -> dict[str, float]:
    """Combines the requests in two halves, merges, and derives, as TFMA would."""
    computations = metric.computations(eval_config=tfma.EvalConfig())
    results = run_computations(computations, [requests[::2], requests[1::2]])
    return {key.name: value for key, value in results.items() if not key.name.startswith("_")}


def test_single_value_mask_reads_every_tfma_layout() -> None:
    values, present = single_value_mask(np.array([0.5, 0.25], dtype=np.float32), 2)
    assert present.tolist() == [True, True] and values.tolist() == [0.5, 0.25]
    values, present = single_value_mask(np.array([[0.5], [0.25]]), 2)
    assert present.tolist() == [True, True] and values.tolist() == [0.5, 0.25]
    # Candidate 1 has no value, candidate 2 has two: only candidate 0 counts.
    varlen = types.VarLenTensorValue(
        values=np.array([0.5, 0.1, 0.2]),
        indices=np.array([[0, 0], [2, 0], [2, 1]]),
        dense_shape=np.array([3, 2]),
    )
    values, present = single_value_mask(varlen, 3)
    assert present.tolist() == [True, False, False] and values[0] == 0.5
    assert single_value_mask(np.zeros((3, 0)), 3)[1].tolist() == [False] * 3
    assert single_value_mask(None, 2)[1].tolist() == [False, False]
    assert single_value_mask(np.array([[1.0, 2.0], [3.0, 4.0]]), 2)[1].tolist() == [False, False]
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.array([b"a"]), np.array([], dtype=object)
    assert single_value_mask(ragged, 2)[1].tolist() == [True, False]


def test_requests_are_averaged_and_incomplete_candidates_are_counted() -> None:
    metric = LightRankingGroupMetrics(HEAVY, n_values=[1, 2], k_values=[1, 2], request_key=REQUEST)
    a = _request(  # candidate 2 lacks the heavy score
        [0.9, 0.2, 0.6],
        np.array([5, 5, 5]),
        types.VarLenTensorValue(np.array([0.5, 0.8]), np.array([[0, 0], [1, 0]]), np.array([3, 1])),
    )
    b = _request([0.3, 0.7], np.array([6, 6]), np.array([0.1, 0.4]))
    c = _request([0.4], np.array([7]), np.array([0.0]))  # all-zero heavy score: recall undefined
    keyless = _request([0.5], np.zeros((1, 0)), np.array([0.9]))  # TFMA's '' pseudo-request
    nan_only = _request([0.5], np.array([8]), np.array([np.nan]))  # nothing usable: not a request
    values = _run(metric, [a, b, c, keyless, nan_only])
    assert set(values) == set(grouped_metric_names([1, 2], [1, 2]))
    # Per request (A, B, C): cgr(1,1) = 0.5/0.8, 1, 0 ; recall(1,1) = 0, 1, None ; EL(1) = 0.3, 0, 0.
    assert values["cgr_atLight_1_atHeavy_1"] == pytest.approx((0.625 + 1.0 + 0.0) / 3)
    assert values["cgr_atLight_1_atHeavy_2"] == pytest.approx((0.625 + 1.0 + 0.0) / 3)
    assert values["cgr_atLight_2_atHeavy_1"] == pytest.approx(2 / 3)
    assert values["recall_atLight_1_atHeavy_1"] == pytest.approx(0.5)
    assert values["recall_atLight_2_atHeavy_2"] == pytest.approx(1.0)
    assert values["expected_loss_atLight_1"] == pytest.approx(0.1)
    assert values["expected_loss_atLight_2"] == pytest.approx(0.0)
    # NDCG@10: A ranks (0.5, 0.8) against the ideal (0.8, 0.5); B is ideal; C has no positive gain.
    ndcg_a = (0.5 + 0.8 / math.log2(3)) / (0.8 + 0.5 / math.log2(3))
    assert values["ndcg_at_10"] == pytest.approx((ndcg_a + 1.0) / 2, rel=1e-12)
    assert values["num_requests"] == 3
    assert values["num_requests_all_zero_heavy_score"] == 1
    assert values["num_candidates_missing_heavy_score"] == 2
    assert values["num_candidates_missing_request_key"] == 1
    assert values["num_candidates_in_requests"] == 8  # every candidate handed over, usable or not


def test_recall_of_the_heavy_top_3_in_the_light_top_10() -> None:
    # 12 candidates; heavy score 12 - i, so the heavy top 3 are candidates 0, 1, 2. The light
    # ranker scores candidate i at 1 - i/100 except candidates 0 and 5, which it ranks last:
    # its top 10 drops candidates 0 and 5, so it keeps 2 of the heavy top 3.
    heavy = np.array([12.0 - i for i in range(12)])
    predictions = [1 - i / 100 for i in range(12)]
    predictions[0], predictions[5] = 0.01, 0.02
    metric = LightRankingGroupMetrics(HEAVY, n_values=[10], k_values=[3], request_key=REQUEST)
    values = _run(metric, [_request(predictions, np.full(12, 9), heavy)])
    assert values["recall_atLight_10_atHeavy_3"] == pytest.approx(2 / 3)
    # CGR: the 3 best heavy scores in the light top 10 (11 + 10 + 9) over the ideal (12 + 11 + 10).
    assert values["cgr_atLight_10_atHeavy_3"] == pytest.approx(30 / 33)
    assert values["expected_loss_atLight_10"] == pytest.approx(12 - 11)
    assert "recall_atLight_10_atHeavy_3" not in grouped_metric_names([50, 100, 200], [1, 3, 10, 20, 50])


def test_metric_without_any_defined_value_is_nan() -> None:
    values = _run(
        LightRankingGroupMetrics(HEAVY, [1], [1], request_key=REQUEST),
        [_request([0.2, 0.1], np.array([1, 1]), np.zeros(2))],
    )
    assert math.isnan(values["recall_atLight_1_atHeavy_1"])
    assert math.isnan(values["ndcg_at_10"])
    assert values["cgr_atLight_1_atHeavy_1"] == 0.0


def test_needs_whole_requests_names_the_slice_dependent_keys() -> None:
    undefined_on_split_slices = [
        name for name in grouped_metric_names([5], [1]) if needs_whole_requests(name)
    ]
    assert undefined_on_split_slices == [
        "cgr_atLight_5_atHeavy_1",
        "recall_atLight_5_atHeavy_1",
        "expected_loss_atLight_5",
        "ndcg_at_10",
        "num_requests_all_zero_heavy_score",
        "num_candidates_missing_heavy_score",
        "num_candidates_missing_request_key",
    ]
    assert not any(needs_whole_requests(name) for name in ("example_count", "auc", "rce_unweighted"))


def test_name_selects_a_single_key_sharing_the_family_computation() -> None:
    family = LightRankingGroupMetrics(HEAVY, [1, 2], [1], request_key=REQUEST)
    single = LightRankingGroupMetrics(
        HEAVY, [1, 2], [1], name="recall_atLight_2_atHeavy_1", request_key=REQUEST
    )
    family_computations = family.computations(eval_config=tfma.EvalConfig())
    single_computations = single.computations(eval_config=tfma.EvalConfig())
    assert family_computations[0] == single_computations[0]  # TFMA runs the shared combiner once
    assert [key.name for key in single_computations[1].keys] == ["recall_atLight_2_atHeavy_1"]
    assert len(family_computations[1].keys) == len(grouped_metric_names([1, 2], [1]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_values": []}, "n_values"),
        ({"n_values": [50, 0]}, "n_values"),
        ({"k_values": [1, 1]}, "duplicates"),
        ({"k_values": [True]}, "k_values"),
        ({"heavy_score_key": ""}, "heavy_score_key"),
        ({"name": "recall_atLight_50_atHeavy_100"}, "unknown grouped metric"),
    ],
)
def test_bad_configuration_is_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LightRankingGroupMetrics(**kwargs)


def test_request_key_is_required() -> None:
    with pytest.raises(ValueError, match="needs request_key"):
        LightRankingGroupMetrics().computations(eval_config=tfma.EvalConfig())


def test_a_spec_query_key_is_refused() -> None:
    """TFMA would regroup the request views by it, one candidate at a time."""
    metric = LightRankingGroupMetrics(request_key=REQUEST)
    with pytest.raises(ValueError, match="query_key"):
        metric.computations(eval_config=tfma.EvalConfig(), query_key=REQUEST)


def test_a_request_view_met_in_several_slices_is_scored_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from lightrank.models.metrics import grouped

    calls = []
    real = grouped.group_metric_values
    monkeypatch.setattr(grouped, "group_metric_values", lambda *args: calls.append(1) or real(*args))
    request = _request([0.9, 0.2], np.array([7, 7]), np.array([0.5, 0.8]))
    request[REQUEST_ID_KEY] = "7"
    other = _request([0.1, 0.3], np.array([8, 8]), np.array([0.5, 0.8]))
    other[REQUEST_ID_KEY] = "8"
    metric = LightRankingGroupMetrics(HEAVY, [1], [1], request_key=REQUEST)
    (combiner,) = [c.combiner for c in metric.computations() if isinstance(c, metric_types.MetricComputation)]
    slices = [combiner.create_accumulator() for _ in range(3)]  # three slices holding request 7
    for accumulator in slices:
        combiner.add_input(accumulator, request)
    combiner.add_input(slices[0], other)
    assert len(calls) == 2  # one per request, not one per (request, slice)
    assert [accumulator.counts["num_requests"] for accumulator in slices] == [2, 1, 1]
    assert slices[1].value("cgr_atLight_1_atHeavy_1") == pytest.approx(f32(0.5) / f32(0.8))
    assert "_scores" not in combiner.__getstate__()  # the memo is not shipped with the combiner


def test_config_round_trips_through_tfma_metric_config() -> None:
    metric = LightRankingGroupMetrics("score", n_values=[5], k_values=[1, 5])
    config = json.dumps(metric.get_config())
    rebuilt = metric_specs.metric_instance(
        tfma.MetricConfig(
            class_name="LightRankingGroupMetrics", module="lightrank.models.metrics.grouped", config=config
        )
    )
    assert rebuilt.get_config() == {
        "heavy_score_key": "score",
        "n_values": [5],
        "k_values": [1, 5],
        "name": FAMILY_NAME,
        "request_key": "",
    }


# --- end to end through tfma.run_model_analysis --------------------------------------------------

# Two trace ids that float64 cannot tell apart: grouping must use the exact int64.
ID_A, ID_B, ID_C = 2**62 + 1, 2**62 + 2, 7
# (trace id, prediction, label, weight, heavy score or None). No candidate lacks the trace id:
# TFMA's own grouping raises on an empty query key (see grouped.py).
CANDIDATES = [
    (ID_A, 0.9, 1.0, 2.0, 0.5),
    (ID_A, 0.2, 0.0, 1.0, 0.8),
    (ID_A, 0.6, 0.0, 1.0, None),
    (ID_B, 0.3, 0.0, 3.0, 0.1),
    (ID_B, 0.7, 1.0, 1.0, 0.4),
    (ID_C, 0.4, 1.0, 1.0, 0.0),
]


def _example(
    trace_id: int | None, prediction: float, label: float, weight: float, heavy: float | None
) -> bytes:
    def floats(value: float) -> tf.train.Feature:
        return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))

    feature = {
        "prediction": floats(prediction),
        "label": floats(label),
        "weight": floats(weight),
        REQUEST: tf.train.Feature(int64_list=tf.train.Int64List(value=[trace_id])),
    }
    if heavy is not None:
        feature[HEAVY] = floats(heavy)
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _analyse(eval_config: tfma.EvalConfig, data: str, output: str) -> tfma.EvalResult:
    """`tfma.run_model_analysis` with the Evaluator's extractors (the views the metrics read)."""
    return tfma.run_model_analysis(
        eval_config=eval_config,
        data_location=data,
        output_path=output,
        extractors=custom_extractors(None, eval_config),
    )


def f32(value: float) -> float:
    """A float as tf.Example stores it (float32)."""
    return float(np.float32(value))


def _hand_rce(rows: list[tuple[float, float, float]]) -> float:
    """100·(1 - CE/H(ctr)) over (label, float32 prediction, weight) rows."""
    total = sum(w for _, _, w in rows)
    ctr = sum(w * y for y, _, w in rows) / total
    ce = sum(-w * (y * math.log(p) + (1 - y) * math.log(1 - p)) for y, p, w in rows) / total
    return 100.0 * (1.0 - ce / -(ctr * math.log(ctr) + (1 - ctr) * math.log(1 - ctr)))


@pytest.fixture(scope="module")
def tfma_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, float], tfma.ValidationResult]:
    root: Path = tmp_path_factory.mktemp("tfma_grouped")
    data = str(root / "eval.tfrecord")
    with tf.io.TFRecordWriter(data) as writer:
        for candidate in CANDIDATES:
            writer.write(_example(*candidate))
    specs = light_ranking_metrics_specs(
        REQUEST,
        HEAVY,
        n_values=[1, 2],
        k_values=[1, 2],
        thresholds={
            "ctr": {"lower_bound": 0.0},
            "rce_unweighted": {"upper_bound": -1000.0},
            "cgr_atLight_1_atHeavy_1": {"lower_bound": 0.9},
        },
    )
    eval_config = tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(prediction_key="prediction", label_key="label", example_weight_key="weight")
        ],
        metrics_specs=specs,
        slicing_specs=[tfma.SlicingSpec()],
    )
    output = str(root / "out")
    result = _analyse(eval_config, data, output)
    ((_, metrics),) = result.slicing_metrics
    values = {name: value["doubleValue"] for name, value in metrics[""][""].items() if "doubleValue" in value}
    return values, tfma.load_validation_result(output)


def test_end_to_end_grouped_metrics_match_hand_values(tfma_run: tuple[dict[str, float], object]) -> None:
    values, _ = tfma_run
    # Request A keeps (0.9, 0.5) and (0.2, 0.8); B is ordered right; C has heavy score 0.
    cgr_a = f32(0.5) / f32(0.8)
    assert values["cgr_atLight_1_atHeavy_1"] == pytest.approx((cgr_a + 1.0 + 0.0) / 3, rel=1e-9)
    assert values["cgr_atLight_2_atHeavy_2"] == pytest.approx(2 / 3, rel=1e-9)
    assert values["recall_atLight_1_atHeavy_1"] == pytest.approx(0.5, rel=1e-9)
    assert values["recall_atLight_2_atHeavy_1"] == pytest.approx(1.0, rel=1e-9)
    assert values["expected_loss_atLight_1"] == pytest.approx((f32(0.8) - f32(0.5)) / 3, rel=1e-9)
    assert values["num_requests"] == 3  # A and B would merge into one if ids went through float64
    assert values["num_requests_all_zero_heavy_score"] == 1
    assert values["num_candidates_missing_heavy_score"] == 1
    assert values["num_candidates_missing_request_key"] == 0
    assert values["num_candidates_in_requests"] == 6 == values["example_count"]


def test_end_to_end_rce_family_uses_weights_only_where_asked(
    tfma_run: tuple[dict[str, float], object],
) -> None:
    values, _ = tfma_run
    rows = [(y, f32(p), w) for _, p, y, w, _ in CANDIDATES]
    assert values["ctr"] == pytest.approx(4.0 / 9.0, rel=1e-12)
    assert values["ctr_unweighted"] == pytest.approx(3.0 / 6.0, rel=1e-12)
    assert values["weighted_example_count"] == 9.0
    assert values["example_count"] == 6.0
    assert values["rce"] == pytest.approx(_hand_rce(rows), rel=1e-9)
    assert values["rce_unweighted"] == pytest.approx(_hand_rce([(y, p, 1.0) for y, p, _ in rows]), rel=1e-9)
    a = sum(w * y for y, _, w in rows) / sum(w * p for _, p, w in rows)
    assert values["nrce"] == pytest.approx(_hand_rce([(y, p * a, w) for y, p, w in rows]), rel=1e-9)
    log_loss = sum(-w * (y * math.log(p) + (1 - y) * math.log(1 - p)) for y, p, w in rows)
    assert values["log_loss"] == pytest.approx(log_loss / 9.0, rel=1e-9)
    assert values["log_loss_unweighted"] == pytest.approx(
        sum(-(y * math.log(p) + (1 - y) * math.log(1 - p)) for y, p, _ in rows) / 6.0, rel=1e-9
    )
    # Positives 0.9, 0.7, 0.4 against negatives 0.2, 0.6, 0.3: 8 of 9 pairs ordered right.
    assert values["auc_unweighted"] == pytest.approx(8 / 9, abs=1e-6)


def test_end_to_end_thresholds_reach_grouped_and_per_example_metrics(
    tfma_run: tuple[dict[str, float], object],
) -> None:
    _, validation = tfma_run
    assert not validation.validation_ok
    failed = {
        failure.metric_key.name
        for per_slice in validation.metric_validations_per_slice
        for failure in per_slice.failures
    }
    assert failed == {"cgr_atLight_1_atHeavy_1", "rce_unweighted"}  # ctr passes its bound


def test_end_to_end_default_specs_survive_a_missing_heavy_score(tmp_path: Path) -> None:
    """The production specs, unchanged, on data where one candidate lacks its heavy score."""
    data = str(tmp_path / "eval.tfrecord")
    with tf.io.TFRecordWriter(data) as writer:
        for candidate in CANDIDATES:  # candidate 2 of request A has no heavy score
            writer.write(_example(*candidate))
    eval_config = tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(prediction_key="prediction", label_key="label", example_weight_key="weight")
        ],
        metrics_specs=light_ranking_metrics_specs(REQUEST, HEAVY),
        slicing_specs=[tfma.SlicingSpec()],
    )
    result = _analyse(eval_config, data, str(tmp_path / "out"))
    ((_, metrics),) = result.slicing_metrics
    values = metrics[""][""]
    assert set(grouped_metric_names([50, 100, 200], [1, 3, 10, 20, 50])) <= set(values)
    assert values["num_candidates_missing_heavy_score"]["doubleValue"] == 1.0
    # Every request is smaller than every N: all CGRs and recalls of A and B are 1, C's CGR is 0.
    assert values["cgr_atLight_50_atHeavy_1"]["doubleValue"] == pytest.approx(2 / 3)
    assert values["recall_atLight_200_atHeavy_50"]["doubleValue"] == pytest.approx(1.0)
    # NDCG@10 over A (its two candidates with a heavy score) and B (ideal); C has no positive gain.
    dcg_a = f32(0.5) + f32(0.8) / math.log2(3)
    ideal_a = f32(0.8) + f32(0.5) / math.log2(3)
    assert values["ndcg_at_10"]["doubleValue"] == pytest.approx((dcg_a / ideal_a + 1.0) / 2, rel=1e-9)
    assert values["auc_unweighted"]["doubleValue"] == pytest.approx(8 / 9, abs=1e-6)
    assert list(metrics[""]) == [""]  # no TFMA NDCG (its "topK:10" sub-key) any more
