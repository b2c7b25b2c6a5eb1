from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from lightrank.models.deepnorm.config import DEFAULT_TASK, PRESETS, TASKS, DeepNormConfig, TrainingConfig
from lightrank.models.features import DEFAULT_MISSING_VALUE
from lightrank.models.settings import ModelConfig


def test_defaults_are_the_originals() -> None:
    config = DeepNormConfig()
    assert (config.input_size_bits, config.momentum, config.dropout) == (18, 0.99999, 0.2)
    assert (config.sparse_embedding_size, config.dense_embedding_size) == (50, 128)
    assert (config.num_mlp_layers, config.mlp_neuron_scale) == (3, 4)
    assert config.use_missing_sub_branch is False and config.use_record_weight is False
    assert (config.smooth_weight, config.min_record_weight) == (0.0, 0.0)
    assert config.task == "HeavyRankPosition" and config.adaptive_transform == "tiny"
    assert config.adaptive_bn_momentum == 0.9999
    assert config.missing_value == -1.23456789 and config.trainable_regexes is None
    training = TrainingConfig()
    assert (training.optimizer, training.learning_rate, training.batch_size) == ("sgd", 0.002, 32)
    assert training.early_stop_patience is None and training.max_steps is None


def test_mlp_widths_follow_the_neuron_scale() -> None:
    assert DeepNormConfig().mlp_widths == (64, 16, 4)
    assert DeepNormConfig(num_mlp_layers=2, mlp_neuron_scale=3).mlp_widths == (9, 3)
    assert DeepNormConfig(num_mlp_layers=0).mlp_widths == ()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("num_mlp_layers", -1),
        ("sparse_embedding_size", 0),
        ("dense_embedding_size", 0),
        ("input_size_bits", 0),
        ("input_size_bits", 31),
        ("dropout", 1.0),
        ("dropout", -0.1),
        ("momentum", 1.0),
        ("mlp_neuron_scale", 0),
        ("task", "heavy rank"),  # a task is an identifier: metric names carry it
        ("adaptive_transform", "huge"),
        ("min_record_weight", 1.5),
        ("smooth_weight", -1.0),
        ("use_record_weight", 1),
        ("trainable_regexes", ()),
        ("missing_value", float("nan")),
    ],
)
def test_impossible_model_configs_name_the_field_and_value(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"\n{field}\n .*input_value={re.escape(repr(value))}"):
        DeepNormConfig(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("optimizer", "rmsprop"),
        ("learning_rate", 0.0),
        ("batch_size", 0),
        ("eval_every_steps", 0),
        ("max_steps", -5),
        ("early_stop_patience", 0),
        ("early_stop_min_delta", -0.1),
        ("seed", 1.5),
    ],
)
def test_impossible_training_configs_name_the_field_and_value(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"\n{field}\n .*input_value={re.escape(repr(value))}"):
        TrainingConfig(**{field: value})


def test_configs_round_trip_through_json() -> None:
    config = DeepNormConfig(use_missing_sub_branch=True, trainable_regexes=("mlp_.*", "logit/.*"))
    restored = DeepNormConfig.model_validate(json.loads(json.dumps(config.model_dump(mode="json"))))
    assert restored == config
    assert config.model_dump(mode="json")["trainable_regexes"] == ["mlp_.*", "logit/.*"]
    training = TrainingConfig(optimizer="adagrad", eval_every_steps=10, early_stop_patience=3)
    assert TrainingConfig.model_validate(json.loads(json.dumps(training.model_dump(mode="json")))) == training


def test_from_dict_rejects_unknown_keys_and_fills_defaults() -> None:
    with pytest.raises(ValueError, match=r"DeepNormConfig\nnum_layers\n  Extra inputs are not permitted"):
        DeepNormConfig.model_validate({"num_layers": 3})
    assert TrainingConfig.model_validate({"batch_size": 64}) == TrainingConfig(batch_size=64)


def test_configs_are_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        DeepNormConfig().dropout = 0.5  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        TrainingConfig().learning_rate = 0.5  # type: ignore[misc]


def test_presets() -> None:
    original_model, original_training = PRESETS["original"]
    assert original_model == DeepNormConfig() and original_training == TrainingConfig()
    default_model, default_training = PRESETS["default"]
    assert default_model.use_missing_sub_branch is True
    assert default_training.optimizer in ("adagrad", "adam") and default_training.batch_size == 256
    assert default_training.early_stop_patience is not None and default_training.eval_every_steps is not None


def test_nothing_is_converted_implicitly() -> None:
    with pytest.raises(ValidationError, match="batch_size"):
        TrainingConfig(batch_size="64")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="use_missing_sub_branch"):
        DeepNormConfig(use_missing_sub_branch="true")  # type: ignore[arg-type]
    assert TrainingConfig(learning_rate=1).learning_rate == 1.0  # an int is a number


def test_one_home_for_the_task_names_and_the_missing_value_marker() -> None:
    assert tuple(TASKS) == ("Sent", "HeavyRankPosition", "HeavyRankProbability")
    assert DEFAULT_TASK in TASKS
    assert DeepNormConfig().task == ModelConfig().task == DEFAULT_TASK
    assert all(DeepNormConfig(task=task).task == task for task in (*TASKS, "clicked", "relevance_v2"))
    assert DeepNormConfig().missing_value == DEFAULT_MISSING_VALUE
