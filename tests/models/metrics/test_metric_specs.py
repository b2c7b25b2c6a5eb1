"""`light_ranking_metrics_specs`: the spec layout, threshold parsing and name validation."""

from __future__ import annotations

import json

import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_specs

from lightrank.models.metrics.grouped import FAMILY_NAME
from lightrank.models.metrics.specs import (
    light_ranking_metrics_specs,
    metric_threshold,
    thresholdable_metric_names,
)

REQUEST = "meta.trace_id"
HEAVY = "meta.ranking.weighted_oonc_model_score"


def _names(spec: tfma.MetricsSpec) -> list[str]:
    return [json.loads(config.config or "{}").get("name", config.class_name) for config in spec.metrics]


def test_layout_of_the_three_specs() -> None:
    weighted, unweighted, grouped = light_ranking_metrics_specs(REQUEST, HEAVY)
    assert _names(weighted) == [
        "rce",
        "nrce",
        "arce",
        "log_loss",
        "ctr",
        "predicted_ctr",
        "weighted_example_count",
        "auc",
        "auc_precision_recall",
    ]
    assert not weighted.HasField("example_weights") and not weighted.query_key
    assert _names(unweighted) == [
        "rce_unweighted",
        "nrce_unweighted",
        "arce_unweighted",
        "log_loss_unweighted",
        "ctr_unweighted",
        "predicted_ctr_unweighted",
        "example_count",
        "auc_unweighted",
        "auc_precision_recall_unweighted",
        "calibration_plot",
    ]
    assert unweighted.example_weights.unweighted and not unweighted.example_weights.weighted
    assert _names(grouped) == [FAMILY_NAME]
    # The grouped metrics group requests themselves (the Evaluator's request views): a spec
    # query_key would make TFMA regroup them one candidate at a time.
    assert not grouped.query_key and grouped.example_weights.unweighted
    assert json.loads(grouped.metrics[0].config) == {
        "heavy_score_key": HEAVY,
        "n_values": [50, 100, 200],
        "k_values": [1, 3, 10, 20, 50],
        "name": FAMILY_NAME,
        "request_key": REQUEST,
    }
    assert json.loads(weighted.metrics[_names(weighted).index("auc")].config)["num_thresholds"] == 200
    # NDCG is part of the grouped family, not TFMA's NDCG (which raises on a missing gain).
    assert not any(
        config.class_name == "NDCG" for spec in (weighted, unweighted, grouped) for config in spec.metrics
    )


def test_every_metric_config_deserialises_like_tfma_does() -> None:
    for spec in light_ranking_metrics_specs(
        REQUEST, HEAVY, thresholds={"recall_atLight_50_atHeavy_3": {"lower_bound": 0}}
    ):
        for config in spec.metrics:
            metric = metric_specs.metric_instance(config)
            expected_name = json.loads(config.config or "{}").get("name")
            if expected_name:
                assert metric.name == expected_name


def test_default_grouped_names_follow_the_original_configuration() -> None:
    names = thresholdable_metric_names()
    assert sum(name.startswith("cgr_atLight_") for name in names) == 15
    assert sum(name.startswith("recall_atLight_") for name in names) == 15  # every default N >= every K
    assert [name for name in names if name.startswith("expected_loss")] == [
        "expected_loss_atLight_50",
        "expected_loss_atLight_100",
        "expected_loss_atLight_200",
    ]
    assert {
        "num_requests",
        "num_candidates_missing_heavy_score",
        "num_candidates_in_requests",
        "ndcg_at_10",
        "rce_unweighted",
        "log_loss",
        "log_loss_unweighted",
    } <= set(names)
    assert "ndcg" not in names
    assert len(names) == len(set(names))
    assert "recall_atLight_1_atHeavy_3" not in thresholdable_metric_names(n_values=[1, 3], k_values=[1, 3])


def test_thresholds_land_on_the_named_metric_config() -> None:
    specs = light_ranking_metrics_specs(
        REQUEST,
        HEAVY,
        thresholds={
            "auc": {"lower_bound": 0.6},
            "rce_unweighted": {"lower_bound": 0, "change": "higher_is_better", "absolute": -1e-10},
            "expected_loss_atLight_50": {"upper_bound": 0.2, "change": "lower_is_better", "relative": 0.05},
        },
    )
    weighted, unweighted, grouped = specs
    auc_config = weighted.metrics[_names(weighted).index("auc")]
    assert not auc_config.HasField("threshold")  # gates bind to the overall slice only
    (per_slice,) = auc_config.per_slice_thresholds
    assert list(per_slice.slicing_specs) == [tfma.SlicingSpec()]
    auc = per_slice.threshold
    assert auc.value_threshold.lower_bound.value == pytest.approx(0.6)
    assert not auc.value_threshold.HasField("upper_bound") and not auc.HasField("change_threshold")
    rce = unweighted.metrics[0].per_slice_thresholds[0].threshold
    assert rce.value_threshold.lower_bound.value == 0.0
    assert rce.change_threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    assert rce.change_threshold.absolute.value == -1e-10
    assert not rce.change_threshold.HasField("relative")
    extra = grouped.metrics[-1]
    assert json.loads(extra.config)["name"] == "expected_loss_atLight_50"
    extra_threshold = extra.per_slice_thresholds[0].threshold
    assert extra_threshold.value_threshold.upper_bound.value == pytest.approx(0.2)
    assert extra_threshold.change_threshold.direction == tfma.MetricDirection.LOWER_IS_BETTER
    assert extra_threshold.change_threshold.relative.value == pytest.approx(0.05)
    assert not grouped.metrics[0].per_slice_thresholds  # the family config stays unthresholded


@pytest.mark.parametrize("name", ["aucc", "calibration_plot", "cgr_atLight_50_atHeavy_7"])
def test_unknown_metric_names_are_rejected_by_name(name: str) -> None:
    with pytest.raises(ValueError, match=f"unknown metric '{name}'"):
        light_ranking_metrics_specs(REQUEST, HEAVY, thresholds={name: {"lower_bound": 0}})


def test_a_threshold_on_ndcg_gets_its_own_single_key_grouped_config() -> None:
    _, _, grouped = light_ranking_metrics_specs(
        REQUEST, HEAVY, thresholds={"ndcg_at_10": {"lower_bound": 0.1}}
    )
    assert [json.loads(config.config)["name"] for config in grouped.metrics] == [FAMILY_NAME, "ndcg_at_10"]
    with pytest.raises(ValueError, match="unknown metric 'ndcg'"):
        light_ranking_metrics_specs(REQUEST, HEAVY, thresholds={"ndcg": {"lower_bound": 0.1}})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"lower": 1.0}, "unknown fields"),
        ({"change": "up", "absolute": 1.0}, "must be one of"),
        ({"change": "higher_is_better"}, "needs 'absolute'"),
        ({"absolute": 1.0}, "without 'change'"),
        ({}, "sets nothing"),
        ({"lower_bound": "0"}, "must be a number"),
        ({"upper_bound": True}, "must be a number"),
    ],
)
def test_bad_threshold_fields_are_rejected(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        metric_threshold("auc", fields)


def test_keys_are_required() -> None:
    with pytest.raises(ValueError, match="request_key"):
        light_ranking_metrics_specs("", HEAVY)
