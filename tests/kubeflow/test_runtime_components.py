"""RuntimeTrainer / RuntimeEvaluator: run parameter values reach TFX's executors as they expect them."""

from __future__ import annotations

import json

import pytest
import tensorflow_model_analysis as tfma
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts
from tfx.utils import json_utils, proto_utils

from lightrank.components.run_values import RunParameterError
from lightrank.components.runtime_evaluator import apply_threshold_values, differs_from_baseline
from lightrank.components.runtime_trainer import apply_training_values
from lightrank.models.features import resolve_files
from lightrank.pipeline.config import SAMPLE_CONFIG, load_config
from lightrank.pipeline.eval_config import EvalSettings, build_eval_config


def _trainer_properties(**extra):
    return {
        "train_args": proto_utils.proto_to_json(trainer_pb2.TrainArgs(num_steps=3000)),
        "custom_config": json_utils.dumps(
            {"training": {"learning_rate": 0.05, "batch_size": 32}, "max_steps": 3000, "kind": "deepnorm"}
        ),
        "run_fn": "lightrank.models.trainer.run_fn",
        **extra,
    }


def test_training_values_land_in_train_args_and_custom_config():
    properties = _trainer_properties(train_steps=7, learning_rate=0.0123)
    applied = apply_training_values(properties)
    assert "train_steps" not in applied and "learning_rate" not in applied
    train_args = trainer_pb2.TrainArgs()
    proto_utils.json_to_proto(applied["train_args"], train_args)
    assert train_args.num_steps == 7
    custom = json_utils.loads(applied["custom_config"])
    assert custom["training"] == {"learning_rate": 0.0123, "batch_size": 32}
    assert custom["max_steps"] == 7 and custom["kind"] == "deepnorm"
    assert applied["run_fn"] == "lightrank.models.trainer.run_fn"
    assert "train_steps" in properties  # the orchestrator's dict is left alone


def test_a_bad_value_from_the_ui_fails_before_training():
    with pytest.raises(RunParameterError, match="'learning_rate' must be > 0"):
        apply_training_values(_trainer_properties(train_steps=7, learning_rate=-1.0))
    with pytest.raises(RunParameterError, match="'train_steps' must be an integer"):
        apply_training_values(_trainer_properties(train_steps="many", learning_rate=0.1))


@pytest.fixture(scope="module")
def eval_config_json() -> str:
    config = load_config(
        SAMPLE_CONFIG,
        [
            "evaluation.thresholds={auc_unweighted: {lower_bound: 0.6}, "
            "rce_unweighted: {lower_bound: 0, change: higher_is_better, absolute: -0.5}, "
            "recall_atLight_100_atHeavy_10: {upper_bound: 1.0}}"
        ],
    )
    features = resolve_files(config.schema.path, config.schema.feature_spec)
    return proto_utils.proto_to_json(build_eval_config(EvalSettings.from_config(config, features)))


def _thresholds(eval_config_json: str) -> dict[str, tfma.MetricThreshold]:
    config = tfma.EvalConfig()
    proto_utils.json_to_proto(eval_config_json, config)
    found = {}
    for spec in config.metrics_specs:
        for metric in spec.metrics:
            for per_slice in metric.per_slice_thresholds:
                found[json.loads(metric.config)["name"]] = per_slice.threshold
    return found


def test_threshold_values_replace_the_compiled_gates(eval_config_json):
    before = _thresholds(eval_config_json)
    assert before["auc_unweighted"].value_threshold.lower_bound.value == pytest.approx(0.6)
    applied = apply_threshold_values(
        eval_config_json,
        {
            "threshold_auc_unweighted_lower_bound": 0.75,
            "threshold_rce_unweighted_absolute": -0.1,
            "threshold_recall_atlight_100_atheavy_10_upper_bound": 0.9,
        },
    )
    after = _thresholds(applied)
    assert after["auc_unweighted"].value_threshold.lower_bound.value == pytest.approx(0.75)
    assert after["rce_unweighted"].change_threshold.absolute.value == pytest.approx(-0.1)
    assert after["rce_unweighted"].value_threshold.lower_bound.value == pytest.approx(0.0)  # not given: kept
    assert after["recall_atLight_100_atHeavy_10"].value_threshold.upper_bound.value == pytest.approx(0.9)
    assert after["rce_unweighted"].change_threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER


def test_a_parameter_without_a_threshold_is_an_error_not_a_silent_no_op(eval_config_json):
    with pytest.raises(RunParameterError, match=r"threshold_ndcg_lower_bound.*match no threshold"):
        apply_threshold_values(eval_config_json, {"threshold_ndcg_lower_bound": 0.5})
    with pytest.raises(RunParameterError, match="must be a number"):
        apply_threshold_values(eval_config_json, {"threshold_auc_unweighted_lower_bound": "high"})


def _model(artifact_id: int) -> standard_artifacts.Model:
    model = standard_artifacts.Model()
    model.id = artifact_id
    return model


def test_differs_from_baseline_compares_artifact_ids():
    assert differs_from_baseline({"model": [_model(5)]})  # first run: no baseline
    assert differs_from_baseline({"model": [_model(5)], "baseline_model": []})
    assert differs_from_baseline({"model": [_model(5)], "baseline_model": [_model(3)]})
    assert not differs_from_baseline({"model": [_model(5)], "baseline_model": [_model(5)]})
