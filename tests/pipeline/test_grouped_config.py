"""`evaluation.grouped`: the (N, K) cut-offs of the grouped metrics, from the config to TFMA.

The lists are checked when the config loads, decide which names a threshold may use, and
reach the EvalConfig the Evaluator and `lightrank eval` run; the defaults are the cut-offs
the metric code always had.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tensorflow_model_analysis as tfma

from lightrank.errors import ConfigError
from lightrank.models.features import resolve_files
from lightrank.models.metrics.grouped import DEFAULT_K_VALUES, DEFAULT_N_VALUES, FAMILY_NAME
from lightrank.pipeline.config import SAMPLE_CONFIG, EvaluationConfig, PipelineConfig, load_config
from lightrank.pipeline.config.names import check_evaluation_names
from lightrank.pipeline.eval_config import EvalSettings, build_eval_config

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schema" / "sample" / "schema.pbtxt"
FEATURE_SPEC = REPO / "schema" / "sample" / "feature_spec.yaml"
SCHEMA_FEATURES = ("candidate.source", "meta.trace_id")


def _config(*overrides: str) -> PipelineConfig:
    return load_config(
        SAMPLE_CONFIG, [f"schema.path={SCHEMA}", f"schema.feature_spec={FEATURE_SPEC}", *overrides]
    )


def _grouped_family(eval_config: tfma.EvalConfig) -> dict:
    """The config of the all-keys grouped metric in an EvalConfig."""
    (family,) = [
        json.loads(metric.config)
        for spec in eval_config.metrics_specs
        for metric in spec.metrics
        if metric.class_name == "LightRankingGroupMetrics"
        and json.loads(metric.config)["name"] == FAMILY_NAME
    ]
    return family


def test_the_defaults_are_the_metric_codes_cut_offs():
    grouped = EvaluationConfig().grouped
    assert tuple(grouped.light_n) == DEFAULT_N_VALUES and tuple(grouped.heavy_k) == DEFAULT_K_VALUES
    assert _config().evaluation.grouped == grouped  # the sample config keeps today's metrics


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "evaluation.grouped.light_n=[10, 0]",
            "evaluation.grouped.light_n must be a non-empty list of positive",
        ),
        ("evaluation.grouped.heavy_k=[]", "evaluation.grouped.heavy_k must be a non-empty list of positive"),
        (
            "evaluation.grouped.light_n=[10, 50, 10]",
            r"evaluation.grouped.light_n lists \[10\] more than once",
        ),
        (
            "evaluation.grouped.heavy_k=[1, 2.5]",
            r"'evaluation.grouped.heavy_k\[1\]' in .* must be an integer",
        ),
        ("evaluation.grouped.heavy_k=[true]", r"'evaluation.grouped.heavy_k\[0\]' in .* must be an integer"),
        ("evaluation.grouped.light=[10]", "unknown key 'evaluation.grouped.light' .*did you mean 'light_n'"),
    ],
)
def test_bad_cut_offs_are_one_line_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        _config(override)


def test_the_eval_config_computes_the_configured_cut_offs():
    config = _config("evaluation.grouped.light_n=[10, 50, 100, 200]", "evaluation.grouped.heavy_k=[3]")
    features = resolve_files(SCHEMA, FEATURE_SPEC)
    family = _grouped_family(build_eval_config(EvalSettings.from_config(config, features)))
    assert (family["n_values"], family["k_values"]) == ([10, 50, 100, 200], [3])
    default = _grouped_family(build_eval_config(EvalSettings.from_config(_config(), features)))
    assert (default["n_values"], default["k_values"]) == ([50, 100, 200], [1, 3, 10, 20, 50])


def test_a_threshold_at_n_10_is_valid_only_when_10_is_configured():
    features = resolve_files(SCHEMA, FEATURE_SPEC)
    gate = "evaluation.thresholds={recall_atLight_10_atHeavy_3: {lower_bound: 0.5}}"
    with pytest.raises(ConfigError) as raised:
        check_evaluation_names(_config(gate), features, SCHEMA_FEATURES)
    assert str(raised.value) == (
        "evaluation.thresholds.recall_atLight_10_atHeavy_3: this grouped metric is not computed; "
        "add 10 to evaluation.grouped.light_n [50, 100, 200]"
    )
    configured = _config(gate, "evaluation.grouped.light_n=[10, 50]")
    check_evaluation_names(configured, features, SCHEMA_FEATURES)  # valid now
    eval_config = build_eval_config(EvalSettings.from_config(configured, features))
    gated = [
        json.loads(metric.config)["name"]
        for spec in eval_config.metrics_specs
        for metric in spec.metrics
        if metric.per_slice_thresholds
    ]
    assert gated == ["recall_atLight_10_atHeavy_3"]


def test_a_recall_with_k_above_n_and_a_typo_get_their_own_reasons():
    features = resolve_files(SCHEMA, FEATURE_SPEC)
    above = _config(
        "evaluation.thresholds={recall_atLight_10_atHeavy_20: {lower_bound: 0.5}}",
        "evaluation.grouped.light_n=[10]",
    )
    with pytest.raises(ConfigError, match=r"recall exists only for N >= K \(the light top 10 cannot hold"):
        check_evaluation_names(above, features, SCHEMA_FEATURES)
    typo = _config("evaluation.thresholds={recal_atLight_50_atHeavy_3: {lower_bound: 0.5}}")
    with pytest.raises(ConfigError, match="did you mean 'recall_atLight_50_atHeavy_3'"):
        check_evaluation_names(typo, features, SCHEMA_FEATURES)
