"""Run parameters: names, defaults from the config, and type checks of every value."""

from __future__ import annotations

import pytest

from lightrank.components.run_values import (
    DATA_ROOT,
    LEARNING_RATE,
    TRAIN_STEPS,
    RunParameterError,
    threshold_parameter_name,
)
from lightrank.kubeflow.run_parameters import (
    collect_runtime_parameters,
    define_run_parameters,
    parse_assignments,
)
from lightrank.pipeline.config import SAMPLE_CONFIG, load_config

MODEL_CONFIG = {"training": {"learning_rate": 0.05}, "max_steps": 3000}


def _parameters(*overrides: str, model_config: dict | None = None):
    config = load_config(SAMPLE_CONFIG, list(overrides))
    return define_run_parameters(config, data_root="gs://b/data", model_config=model_config or MODEL_CONFIG)


def test_defaults_come_from_the_config_with_their_types():
    parameters = _parameters(
        "evaluation.thresholds={auc_unweighted: {lower_bound: 0.6}, "
        "rce_unweighted: {lower_bound: 0, change: higher_is_better, absolute: -0.5}}"
    ).by_name()
    assert list(parameters) == [
        DATA_ROOT,
        TRAIN_STEPS,
        LEARNING_RATE,
        "threshold_auc_unweighted_lower_bound",
        "threshold_rce_unweighted_lower_bound",
        "threshold_rce_unweighted_absolute",
    ]
    assert (parameters[DATA_ROOT].ptype, parameters[DATA_ROOT].default) == (str, "gs://b/data")
    assert (parameters[TRAIN_STEPS].ptype, parameters[TRAIN_STEPS].default) == (int, 3000)
    assert (parameters[LEARNING_RATE].ptype, parameters[LEARNING_RATE].default) == (float, 0.05)
    lower = parameters["threshold_rce_unweighted_lower_bound"]
    assert lower.ptype is float and lower.default == 0.0 and isinstance(lower.default, float)
    assert parameters["threshold_rce_unweighted_absolute"].default == -0.5


def test_change_thresholds_get_no_parameter_without_a_baseline():
    names = _parameters(
        "evaluation.compare_to_baseline=false",
        "evaluation.thresholds={rce_unweighted: {lower_bound: 0, change: higher_is_better, absolute: -0.5}}",
    ).by_name()
    assert "threshold_rce_unweighted_lower_bound" in names
    assert "threshold_rce_unweighted_absolute" not in names


def test_no_data_root_parameter_when_the_data_is_not_files():
    config = load_config(SAMPLE_CONFIG)
    parameters = define_run_parameters(config, data_root=None, model_config=MODEL_CONFIG)
    assert parameters.data_root is None and DATA_ROOT not in parameters.by_name()


def test_threshold_names_are_lower_case_identifiers():
    assert threshold_parameter_name("auc_unweighted", "lower_bound") == "threshold_auc_unweighted_lower_bound"
    assert (
        threshold_parameter_name("recall_atLight_100_atHeavy_10", "upper_bound")
        == "threshold_recall_atlight_100_atheavy_10_upper_bound"
    )


def test_a_default_of_the_wrong_type_fails_at_compile_time():
    with pytest.raises(RunParameterError, match="'learning_rate' must be a number, got 'fast'"):
        _parameters(model_config={"training": {"learning_rate": "fast"}, "max_steps": 10})
    with pytest.raises(RunParameterError, match=r"'train_steps' must be an integer, got 2\.5"):
        _parameters(model_config={"training": {"learning_rate": 0.1}, "max_steps": 2.5})


def test_an_integer_default_is_a_valid_float():
    parameters = _parameters(model_config={"training": {"learning_rate": 1}, "max_steps": 0})
    assert parameters.learning_rate.default == 1.0 and isinstance(parameters.learning_rate.default, float)
    assert parameters.train_steps.default == 0  # 0: no step limit


def test_assignments_are_parsed_to_the_parameter_types():
    parameters = _parameters().by_name()
    values = parse_assignments(
        ["learning_rate=0.01", "train_steps=200", "data_root=gs://b/2026-01-02", "learning_rate=1"],
        parameters,
    )
    assert values == {"learning_rate": 1.0, "train_steps": 200, DATA_ROOT: "gs://b/2026-01-02"}
    assert isinstance(values["learning_rate"], float) and isinstance(values["train_steps"], int)


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("learning_rte=0.1", "unknown run parameter 'learning_rte'; did you mean 'learning_rate'"),
        ("train_steps=1.5", "'train_steps' must be an integer, got '1.5'"),
        ("train_steps=-3", "'train_steps' must be >= 0"),
        ("learning_rate=abc", "'learning_rate' must be a number, got 'abc'"),
        ("learning_rate=0", "'learning_rate' must be > 0"),
        ("threshold_auc_unweighted_lower_bound=nan", "must be finite"),
        ("learning_rate", "expected NAME=VALUE"),
    ],
)
def test_bad_assignments_name_the_parameter(assignment, message):
    with pytest.raises(RunParameterError, match=message):
        parse_assignments([assignment], _parameters().by_name())


def test_collect_finds_the_parameters_of_built_components():
    from lightrank.kubeflow.runner import runner_settings
    from lightrank.pipeline.config.names import check_config_names
    from lightrank.pipeline.pipeline import create_pipeline

    config = load_config(SAMPLE_CONFIG)
    pipeline = create_pipeline(
        config, runner=runner_settings(config, check_config_names(config), cloud=False)
    )
    found = collect_runtime_parameters(pipeline.components)
    assert {DATA_ROOT, TRAIN_STEPS, LEARNING_RATE} <= set(found)
    assert {name for name in found if name.startswith("threshold_")} == {
        threshold_parameter_name(metric, field)
        for metric, threshold in config.evaluation.thresholds.items()
        for field in ("lower_bound", "upper_bound", "absolute", "relative")
        if getattr(threshold, field) is not None
    }
    assert collect_runtime_parameters(create_pipeline(config).components) == {}
