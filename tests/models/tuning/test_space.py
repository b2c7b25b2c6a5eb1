"""The `tuning` section: what a search space may name, and the one line a bad one gets."""

from __future__ import annotations

import pytest

from lightrank.errors import ConfigError
from lightrank.models.deepnorm.config import DeepNormConfig, TrainingConfig
from lightrank.models.tuning.space import TUNABLE, TuningConfig, apply_values
from lightrank.pipeline.config import from_dict

BASE = {
    "name": "tiny",
    "root": "/tmp/root",
    "serving_dir": "/tmp/serving",
    "data": {"path": "/tmp/data"},
    "schema": {"path": "/tmp/schema.pbtxt", "feature_spec": "/tmp/spec.yaml"},
    "metadata": {"sqlite": "/tmp/m.db"},
}


def _load(tuning: dict) -> TuningConfig:
    config = from_dict({**BASE, "tuning": tuning}, source="tiny.yaml")
    assert config.tuning is not None
    return config.tuning


def test_a_search_space_over_the_issues_settings_loads_with_typed_values():
    tuning = _load(
        {
            "trials": 4,
            "steps_per_trial": 200,
            "space": {
                "learning_rate": {"min": 0.01, "max": 0.3, "log": True},
                "optimizer": ["adagrad", "sgd"],
                "sparse_embedding_size": {"min": 16, "max": 64, "step": 16},
                "mlp_neuron_scale": [3, 4],
                "dropout": {"min": 0.0, "max": 0.4},
                "use_missing_sub_branch": [True, False],
                "batch_size": [128, 256],
            },
        }
    )
    assert (tuning.trials, tuning.steps_per_trial, tuning.algorithm) == (4, 200, "bayesian")
    assert set(tuning.space) <= set(TUNABLE)


@pytest.mark.parametrize(
    ("tuning", "message"),
    [
        (
            {"space": {"learning_rate": {"min": 0.3, "max": 0.1}}},
            "the range is empty: min 0.3 must be below max 0.1",
        ),
        ({"space": {"learning_rate": {"min": 0.1, "max": 0.1}}}, "the range is empty"),
        ({"space": {"optimizer": []}}, "'optimizer' lists no choices"),
        ({"space": {}}, "tuning.space"),
        ({"trials": 0, "space": {"dropout": [0.1, 0.2]}}, "tuning.trials"),
        ({"steps_per_trial": 0, "space": {"dropout": [0.1, 0.2]}}, "tuning.steps_per_trial"),
        (
            {"space": {"learning_rat": [0.1]}},
            "unknown hyperparameter 'learning_rat'; did you mean 'learning_rate'?",
        ),
        ({"space": {"input_size_bits": [16, 18]}}, "'input_size_bits' cannot be tuned"),
        ({"space": {"optimizer": ["adagrad", "rmsprop"]}}, "'optimizer' cannot be 'rmsprop'"),
        ({"space": {"dropout": {"min": 0.1, "max": 1.5}}}, "'dropout' cannot be 1.5"),
        ({"space": {"batch_size": {"min": 32.5, "max": 64}}}, "'batch_size' cannot be 32.5"),
        ({"space": {"optimizer": {"min": 1, "max": 2}}}, "'optimizer'"),
        ({"space": {"learning_rate": {"min": 0.0, "max": 0.1, "log": True}}}, "a log range needs min > 0"),
        ({"space": {"batch_size": [64, 64]}}, "'batch_size' lists 64 more than once"),
        (
            {"space": {"batch_size": {"min": 64, "max": 512, "log": True, "step": 2}}},
            "'log' or 'step', not both",
        ),
        ({"space": {"dropout": [0.1]}, "algorithm": "grid"}, "tuning.algorithm"),
    ],
)
def test_a_bad_search_space_is_one_line_naming_the_key_at_load(tuning, message):
    with pytest.raises(ConfigError) as raised:
        _load(tuning)
    text = str(raised.value)
    assert message in text
    assert "\n" not in text.strip()
    assert "tiny.yaml" in text


def test_tuned_values_land_on_the_settings_they_name_and_are_validated():
    deepnorm, training = apply_values(
        {"learning_rate": 0.2, "sparse_embedding_size": 32, "use_missing_sub_branch": False},
        DeepNormConfig(use_missing_sub_branch=True),
        TrainingConfig(learning_rate=0.1),
    )
    assert (training.learning_rate, deepnorm.sparse_embedding_size, deepnorm.use_missing_sub_branch) == (
        0.2,
        32,
        False,
    )
    with pytest.raises(ValueError, match="unknown settings"):
        apply_values({"tuner/epochs": 2}, DeepNormConfig(), TrainingConfig())
    with pytest.raises(ValueError, match=r"'dropout' cannot be 2\.0"):
        apply_values({"dropout": 2.0}, DeepNormConfig(), TrainingConfig())


def test_an_unset_tuning_section_leaves_the_config_digest_unchanged():
    without = from_dict(BASE)
    assert without.tuning is None
    with_tuning = from_dict({**BASE, "tuning": {"space": {"dropout": [0.1, 0.2]}}})
    assert with_tuning.digest() != without.digest()
    assert (
        "tuning" not in without.model_dump(mode="json") or without.model_dump(mode="json")["tuning"] is None
    )
