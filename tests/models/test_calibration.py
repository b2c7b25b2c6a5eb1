"""Platt scaling (`model.calibration: platt`): the fit, its guards, and the config key.

The export and a real `run_fn` with calibration on are in `test_calibration_run_fn.py`.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from lightrank.errors import ConfigError
from lightrank.models.calibration import calibrate, fit_platt, platt_probability, score_summary
from lightrank.models.deepnorm.config import PRESETS
from lightrank.models.metrics import formulas
from lightrank.models.settings import (
    PRESET_CALIBRATION,
    ModelConfig,
    model_custom_config,
    resolve_calibration,
)
from lightrank.pipeline.config import SAMPLE_CONFIG, load_config


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _draw(a: float, b: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits ~ N(0, 2) and labels drawn from sigmoid(a * logit + b)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, n)
    return z, (rng.uniform(size=n) < _sigmoid(a * z + b)).astype(np.float64)


def test_the_fit_recovers_the_a_and_b_the_labels_were_drawn_with():
    z, y = _draw(0.6, -1.3, 200_000, seed=0)
    fit = fit_platt(z, y)
    assert fit.converged and fit.steps < 10
    # Standard errors at this n are about 0.004 (a) and 0.007 (b).
    assert fit.a == pytest.approx(0.6, abs=0.02) and fit.b == pytest.approx(-1.3, abs=0.03)


def test_the_fit_is_the_maximum_likelihood_by_hand():
    # Four points, two of them positive: the likelihood equations say the fitted probabilities
    # sum to the labels' sum and Σ z·p = Σ z·y; at the optimum the gradient is 0.
    z = np.array([-2.0, -1.0, 1.0, 2.0])
    y = np.array([0.0, 1.0, 0.0, 1.0])
    fit = fit_platt(z, y)
    p = platt_probability(z, fit.a, fit.b)
    assert fit.converged
    np.testing.assert_allclose([p.sum(), (z * p).sum()], [y.sum(), (z * y).sum()], atol=1e-9)
    # Symmetric in z with labels balanced: b is 0, and a solves Σ z·σ(a z) = 1.
    assert fit.b == pytest.approx(0.0, abs=1e-9)
    assert (z * _sigmoid(fit.a * z)).sum() == pytest.approx(1.0, abs=1e-9)


def test_a_well_calibrated_model_is_left_as_it_is():
    z, y = _draw(1.0, 0.0, 100_000, seed=1)
    fit = fit_platt(z, y)
    assert fit.a == pytest.approx(1.0, abs=0.03) and fit.b == pytest.approx(0.0, abs=0.03)


def test_a_prior_shift_makes_rce_negative_and_calibration_brings_it_back_without_changing_the_ranking():
    # The model learnt sigmoid(z) at train's rate; the eval split's odds are 8x lower.
    z, y = _draw(1.0, -math.log(8.0), 50_000, seed=2)
    before = score_summary(y, _sigmoid(z))
    assert before.rce < 0.0 < before.nrce  # the ranking is good, the level is wrong
    record = calibrate(z, y)
    assert record.applied and record.reason == ""
    assert record.b == pytest.approx(-math.log(8.0), abs=0.05) and record.a == pytest.approx(1.0, abs=0.03)
    # The module's sigmoid is tanh-based (no overflow), the test's exp-based: equal to the last bits or so.
    assert record.before.to_dict() == pytest.approx(before.to_dict(), rel=1e-12)
    assert record.after.rce > 0.0 and record.after.rce >= record.after.nrce - 1e-9
    assert record.after.auc == before.auc  # monotone: the exact AUC is unchanged
    assert record.after.predicted_ctr == pytest.approx(record.after.ctr, rel=1e-9)  # MLE with an offset
    calibrated = platt_probability(z, record.a, record.b)
    assert record.after.rce == pytest.approx(formulas.rce(y, calibrated))
    assert np.array_equal(np.argsort(calibrated, kind="stable"), np.argsort(z, kind="stable"))
    as_json = record.to_dict()
    assert as_json["before"]["rce_unweighted"] < 0.0 < as_json["after"]["rce_unweighted"]
    assert (
        as_json["fitted_on"] == "eval" and as_json["a"] == record.a and record.scale == (record.a, record.b)
    )


def test_a_negative_slope_is_refused_with_a_warning(caplog):
    z, y = _draw(-0.8, 0.0, 5_000, seed=3)  # the scores rank the eval split backwards
    with caplog.at_level(logging.WARNING, logger="lightrank.models.calibration"):
        record = calibrate(z, y)
    assert not record.applied and record.scale is None and record.after is None
    assert record.a < 0.0 and "not positive" in record.reason
    assert "calibration skipped, the model is exported uncalibrated" in caplog.text


def test_a_single_class_and_separable_data_are_skipped():
    z = np.linspace(-3.0, 3.0, 100)
    single = calibrate(z, np.zeros_like(z))
    assert not single.applied and single.reason == "the eval split has a single label class"
    assert math.isnan(single.before.rce) and single.to_dict()["before"]["rce_unweighted"] is None
    separable = calibrate(z, (z > 0).astype(np.float64))  # a grows without bound
    assert not separable.applied and "did not converge" in separable.reason


def test_nrce_in_memory_is_rce_after_rescaling_to_the_rate():
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.0])
    p = np.array([0.4, 0.1, 0.2, 0.3, 0.1])
    a = y.sum() / p.sum()
    assert formulas.nrce(y, p) == pytest.approx(formulas.rce(y, a * p))
    assert formulas.nrce(y, 2.0 * p) == pytest.approx(formulas.nrce(y, p))  # scale-free
    assert math.isnan(formulas.nrce(y, np.zeros_like(p)))


def test_calibration_is_the_presets_unless_the_config_sets_it_and_only_platt_reaches_the_trainer():
    assert ModelConfig().calibration is None  # unset: the preset's
    assert PRESET_CALIBRATION == {"default": "platt", "original": "none", "one_bag": "none"}
    for deepnorm, training in PRESETS.values():
        assert "calibration" not in deepnorm.model_dump() and "calibration" not in training.model_dump()
    config = load_config(SAMPLE_CONFIG)  # the default preset, calibration unset
    assert config.model.calibration is None and resolve_calibration(config.model) == "platt"
    assert model_custom_config(config.model, _features())["calibration"] == "platt"
    # The original preset serves sigmoid(logit), and its Trainer's custom_config (its cache key) has no
    # calibration key, as before calibration existed.
    original = load_config(SAMPLE_CONFIG, ["model.preset=original"])
    assert "calibration" not in model_custom_config(original.model, _features())
    original_platt = load_config(SAMPLE_CONFIG, ["model.preset=original", "model.calibration=platt"])
    assert model_custom_config(original_platt.model, _features())["calibration"] == "platt"
    # An explicit `none` turns it off on the default preset, and is a different config.
    explicit_none = load_config(SAMPLE_CONFIG, ["model.calibration=none"])
    assert "calibration" not in model_custom_config(explicit_none.model, _features())
    assert explicit_none.digest() != config.digest()


@pytest.mark.parametrize("value", ["isotonic", "true", "1", "Platt"])
def test_a_bad_calibration_is_one_line_naming_the_key(value):
    with pytest.raises(ConfigError, match=r"'model.calibration' .*must be one of 'none' or 'platt'") as error:
        load_config(SAMPLE_CONFIG, [f"model.calibration={value}"])
    assert "\n" not in str(error.value)


def test_a_bad_calibration_exits_2_at_config_load(capsys):
    from lightrank.cli import main

    assert main(["run", "--set", "model.calibration=isotonic"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'model.calibration'" in err[0]


def _features():
    from tiny_transform import TINY_FEATURES

    return TINY_FEATURES
