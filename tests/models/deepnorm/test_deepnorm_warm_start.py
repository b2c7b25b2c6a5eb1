from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from deepnorm_test_inputs import features

from lightrank.models.deepnorm.config import DeepNormConfig
from lightrank.models.deepnorm.model import deepnorm_light_ranker
from lightrank.models.deepnorm.warm_start import truncated_normal_like, warm_start

CONFIG = DeepNormConfig(use_missing_sub_branch=True, input_size_bits=4, momentum=0.9)
OLD_FEATURES = ["a", "b", "c"]
NEW_FEATURES = ["c", "a", "d"]
KEPT_NEW, KEPT_OLD = [0, 1], [2, 0]


def _trained_old_model(config: DeepNormConfig = CONFIG) -> tf.keras.Model:
    model = deepnorm_light_ranker(config, len(OLD_FEATURES))
    rng = np.random.default_rng(7)
    for variable in model.trainable_variables:
        variable.assign(rng.normal(0.0, 0.3, size=variable.shape).astype(np.float32))
    for _ in range(3):
        x = rng.normal(2.0, 1.5, size=(16, 3))
        model(features(x, [[1, 2]] * 16), training=True)
    return model


def _value(model: tf.keras.Model, layer: str, path: str = "") -> np.ndarray:
    matches = [v for v in model.get_layer(layer).weights if v.name.endswith(f"{path}:0")]
    assert len(matches) == 1, [v.name for v in model.get_layer(layer).weights]
    return matches[0].numpy()


def test_overlapping_features_are_copied_and_new_ones_initialised_as_recommended() -> None:
    old = _trained_old_model()
    new = deepnorm_light_ranker(CONFIG, len(NEW_FEATURES))
    fresh_gate = _value(new, "continuous_embedding", "gate/kernel").copy()
    fresh_groupwise = _value(new, "adaptive_transformation", "groupwise_1/kernel").copy()
    report = warm_start(new, old, OLD_FEATURES, NEW_FEATURES)

    assert report.kept_features == ("c", "a") and report.added_features == ("d",)
    assert report.dropped_features == ("b",)
    assert not report.skipped and not report.not_in_old
    assert "zscore/moving_var_biased" in report.remapped and "sparse_embedding/embeddings" in report.copied

    # Z-score: kept slices copied; new feature mean 0 / var 1 with a consistent biased shadow.
    for stat, fill in (("moving_mean", 0.0), ("moving_var", 1.0)):
        new_stat, old_stat = _value(new, "zscore", f"/{stat}"), _value(old, "zscore", f"/{stat}")
        np.testing.assert_array_equal(new_stat[KEPT_NEW], old_stat[KEPT_OLD])
        assert new_stat[2] == fill
    step = _value(old, "zscore", "moving_var_local_step")
    assert step == 3.0 and _value(new, "zscore", "moving_var_local_step") == 3.0
    assert _value(new, "zscore", "moving_var_biased")[2] == pytest.approx(1.0 - 0.9**3)
    assert _value(new, "zscore", "moving_mean_biased")[2] == 0.0
    np.testing.assert_array_equal(
        _value(new, "zscore", "moving_var_biased")[KEPT_NEW],
        _value(old, "zscore", "moving_var_biased")[KEPT_OLD],
    )

    # Group-wise weights carry G on axis 1; the new feature keeps its fresh initialisation.
    new_gw, old_gw = (
        _value(new, "adaptive_transformation", "groupwise_1/kernel"),
        _value(old, "adaptive_transformation", "groupwise_1/kernel"),
    )
    np.testing.assert_array_equal(new_gw[:, KEPT_NEW], old_gw[:, KEPT_OLD])
    np.testing.assert_array_equal(new_gw[:, 2], fresh_groupwise[:, 2])

    # Adaptive BN statistics: copied, new feature mean 0 and variance / stddev 1.
    for stat, fill in (("moving_mean", 0.0), ("moving_variance", 1.0), ("moving_stddev", 1.0)):
        new_stat = _value(new, "adaptive_transformation", f"batch_normalization/{stat}")
        old_stat = _value(old, "adaptive_transformation", f"batch_normalization/{stat}")
        np.testing.assert_array_equal(new_stat[KEPT_NEW], old_stat[KEPT_OLD])
        assert new_stat[2] == fill
    assert not np.allclose(_value(old, "adaptive_transformation", "batch_normalization/moving_mean"), 0.0)

    # The G x G gate is re-indexed on both axes; its new row and column stay fresh.
    for branch in ("continuous_embedding", "missing_embedding"):
        new_gate, old_gate = _value(new, branch, "gate/kernel"), _value(old, branch, "gate/kernel")
        np.testing.assert_array_equal(
            new_gate[np.ix_(KEPT_NEW, KEPT_NEW)], old_gate[np.ix_(KEPT_OLD, KEPT_OLD)]
        )
        np.testing.assert_array_equal(
            _value(new, branch, "projection/kernel")[KEPT_NEW],
            _value(old, branch, "projection/kernel")[KEPT_OLD],
        )
    np.testing.assert_array_equal(_value(new, "continuous_embedding", "gate/kernel")[2], fresh_gate[2])

    # Variables without a feature axis are copied exactly.
    for layer, path in (("sparse_embedding", "embeddings"), ("mlp_1", "gate/kernel"), ("logit", "gate/bias")):
        np.testing.assert_array_equal(_value(new, layer, path), _value(old, layer, path))


def test_a_reordered_feature_list_gives_the_same_scores_on_reordered_inputs() -> None:
    old = _trained_old_model()
    order = [2, 0, 1]
    new = deepnorm_light_ranker(CONFIG, 3)
    warm_start(new, old, OLD_FEATURES, [OLD_FEATURES[i] for i in order])
    x = np.random.default_rng(3).normal(1.0, 2.0, size=(6, 3))
    x[1, 1] = CONFIG.missing_value
    rows = [[1], [2, 3], [], [4], [5, 5], [15]]
    np.testing.assert_allclose(
        new(features(x[:, order], rows), training=False).numpy(),
        old(features(x, rows), training=False).numpy(),
        rtol=1e-5,
    )


def test_truncnorm_initialisation_of_new_feature_weights() -> None:
    old = _trained_old_model()
    new = deepnorm_light_ranker(CONFIG, 3)
    warm_start(new, old, OLD_FEATURES, NEW_FEATURES, new_feature_init="truncnorm", seed=5)
    old_projection = _value(old, "continuous_embedding", "projection/kernel")
    new_row = _value(new, "continuous_embedding", "projection/kernel")[2]
    bound = 0.5 * np.std(old_projection)
    assert np.abs(new_row).max() <= bound + 1e-7 and np.abs(new_row).max() > 0.8 * bound
    assert _value(new, "zscore", "/moving_var")[2] == 1.0  # statistics are never noise


def test_truncated_normal_like_stays_within_half_a_standard_deviation() -> None:
    old = np.random.default_rng(0).normal(0.0, 2.0, size=1000)
    draws = truncated_normal_like(old, (50, 40), np.random.default_rng(1))
    bound = 0.5 * np.std(old)
    assert draws.shape == (50, 40) and np.abs(draws).max() <= bound
    assert np.abs(draws).max() > 0.95 * bound and abs(draws.mean()) < 0.05 * bound
    np.testing.assert_array_equal(
        truncated_normal_like(np.ones(3), (2,), np.random.default_rng(0)), [0.0, 0.0]
    )


def test_architecture_changes_are_reported_not_copied() -> None:
    old = _trained_old_model(DeepNormConfig(input_size_bits=4, momentum=0.9))
    new = deepnorm_light_ranker(CONFIG, 3)
    report = warm_start(new, old, OLD_FEATURES, NEW_FEATURES)
    assert "missing_embedding/gate/kernel" in report.not_in_old
    assert "mlp_1/gate/kernel" in report.skipped  # 178 wide before, 306 now
    assert "mlp_2/gate/kernel" in report.copied


def test_bad_feature_lists_are_rejected() -> None:
    old = _trained_old_model()
    new = deepnorm_light_ranker(CONFIG, 3)
    with pytest.raises(ValueError, match="duplicate feature names: \\['a'\\]"):
        warm_start(new, old, OLD_FEATURES, ["a", "a", "d"])
    before = [v.numpy() for v in new.variables]
    with pytest.raises(ValueError, match="feature lists have 2 / 3 names"):
        warm_start(new, old, ["a", "b"], NEW_FEATURES)
    for variable, value in zip(new.variables, before, strict=True):
        np.testing.assert_array_equal(variable.numpy(), value)
    with pytest.raises(ValueError, match="new_feature_init='noise'"):
        warm_start(new, old, OLD_FEATURES, NEW_FEATURES, new_feature_init="noise")


def _zscore(model: tf.keras.Model, name: str) -> np.ndarray:
    return _value(model, "zscore", f"/{name}")


@pytest.mark.parametrize("new_features", [OLD_FEATURES, NEW_FEATURES])
def test_a_new_momentum_keeps_the_debiased_statistics_and_continues_with_the_new_ema(
    new_features: list[str],
) -> None:
    # The audit's case: statistics learnt at 0.99999, warm-started into a model at 0.99.
    old_config = DeepNormConfig(use_missing_sub_branch=True, input_size_bits=4, momentum=0.99999)
    new_config = DeepNormConfig(use_missing_sub_branch=True, input_size_bits=4, momentum=0.99)
    old = deepnorm_light_ranker(old_config, len(OLD_FEATURES))
    rng = np.random.default_rng(11)
    for _ in range(2):
        old(features(rng.normal(10.0, 2.0, size=(32, 3)), [[1]] * 32), training=True)
    new = deepnorm_light_ranker(new_config, len(new_features))
    warm_start(new, old, OLD_FEATURES, new_features)

    kept_new = [i for i, name in enumerate(new_features) if name in OLD_FEATURES]
    kept_old = [OLD_FEATURES.index(new_features[i]) for i in kept_new]
    step = 2.0
    assert _zscore(new, "moving_mean_local_step") == step == _zscore(new, "moving_var_local_step")
    for stat in ("moving_mean", "moving_var"):
        old_stat = _zscore(old, stat)[kept_old]
        assert np.all(old_stat > 1.0)  # means near 10, variances near 4
        np.testing.assert_array_equal(_zscore(new, stat)[kept_new], old_stat)
        # What the layer computes at the next step: the shadow debiased with the NEW decay.
        np.testing.assert_allclose(
            _zscore(new, f"{stat}_biased")[kept_new] / (1.0 - 0.99**step), old_stat, rtol=1e-12
        )

    # One training step moves each statistic by the new decay's zero-debiased EMA update.
    mean_before, biased_mean = _zscore(new, "moving_mean").copy(), _zscore(new, "moving_mean_biased").copy()
    biased_var = _zscore(new, "moving_var_biased").copy()
    x = rng.normal(12.0, 3.0, size=(32, 3)).astype(np.float32)
    new(features(x, [[1]] * 32), training=True)
    x = x.astype(np.float64)
    expected_mean = (0.99 * biased_mean + 0.01 * x.mean(axis=0)) / (1.0 - 0.99**3)
    batch_var = ((x - expected_mean) ** 2).mean(axis=0)
    expected_var = (0.99 * biased_var + 0.01 * batch_var) / (1.0 - 0.99**3)
    np.testing.assert_allclose(_zscore(new, "moving_mean"), expected_mean, rtol=1e-9)
    np.testing.assert_allclose(_zscore(new, "moving_var"), expected_var, rtol=1e-9)
    # With 2 steps behind it, a kept mean moves 0.01 / (1 - 0.99**3) ~ 0.34 of the way to the batch mean.
    shift = _zscore(new, "moving_mean")[kept_new] - mean_before[kept_new]
    expected_shift = (x.mean(axis=0) - mean_before)[kept_new] * 0.01 / (1.0 - 0.99**3)
    np.testing.assert_allclose(shift, expected_shift, rtol=1e-9)


def test_an_untrained_old_model_gives_zero_statistics_at_any_momentum() -> None:
    old = deepnorm_light_ranker(DeepNormConfig(input_size_bits=4, momentum=0.99999), 3)
    new = deepnorm_light_ranker(DeepNormConfig(input_size_bits=4, momentum=0.9), 3)
    warm_start(new, old, OLD_FEATURES, OLD_FEATURES)
    for stat in ("moving_mean", "moving_mean_biased", "moving_var", "moving_var_biased"):
        np.testing.assert_array_equal(_zscore(new, stat), 0.0)
    new(features(np.full((4, 3), 5.0), [[1]] * 4), training=True)
    np.testing.assert_allclose(_zscore(new, "moving_mean"), 5.0, rtol=1e-12)  # step 1: the batch mean


def test_a_logistic_model_is_pointed_to_its_own_warm_start() -> None:
    from lightrank.models.baseline.model import logistic_regression

    old = logistic_regression(3, 4, CONFIG.missing_value)
    new = logistic_regression(3, 4, CONFIG.missing_value)
    with pytest.raises(ValueError, match="warm_start_logistic takes the logistic baseline"):
        warm_start(new, old, OLD_FEATURES, OLD_FEATURES)
