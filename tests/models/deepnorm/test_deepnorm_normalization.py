from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from lightrank.models.deepnorm.normalization import (
    FilterNonFinite,
    ZscoreNormalization,
    renorm_batch_normalization,
)


def test_filter_non_finite_zeroes_nan_and_infinities_only() -> None:
    x = tf.constant([[np.nan, np.inf, -np.inf, -1.23456789, 2.5]], dtype=tf.float32)
    np.testing.assert_array_equal(
        FilterNonFinite()(x).numpy(), np.array([[0.0, 0.0, 0.0, -1.23456789, 2.5]], np.float32)
    )


def test_zscore_hand_computed_training_and_inference_steps() -> None:
    layer = ZscoreNormalization(decay=0.5)
    # Column 0 fully present; column 1 has zeros, which the default mask treats as missing.
    step1 = layer(tf.constant([[1.0, 0.0], [3.0, 4.0], [5.0, 0.0]]), training=True).numpy()
    # Step 1 = masked batch statistics: col 0 mean 3, var 8/3; col 1 mean 4, var 0 -> std 1.
    np.testing.assert_allclose(step1[:, 0], [-2 / math.sqrt(8 / 3), 0.0, 2 / math.sqrt(8 / 3)], rtol=1e-6)
    np.testing.assert_array_equal(step1[:, 1], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(layer.moving_mean.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(layer.moving_var.numpy(), [8 / 3, 0.0])
    np.testing.assert_allclose(layer.moving_mean_biased.numpy(), [1.5, 2.0])
    assert layer.moving_mean_local_step.numpy() == 1.0

    # Inference: the stored statistics, masked entries stay 0, zero std replaced by 1.
    inference = layer(tf.constant([[2.0, 6.0], [0.0, 1.0]]), training=False).numpy()
    np.testing.assert_allclose(inference, [[-1 / math.sqrt(8 / 3), 2.0], [0.0, -3.0]], rtol=1e-6)
    np.testing.assert_allclose(layer.moving_mean.numpy(), [3.0, 4.0])  # inference does not update

    # Step 2: debiased EMA (biased 1.5 -> 4.25, /0.75 = 17/3), variance about the *updated* mean.
    step2 = layer(tf.constant([[7.0, 2.0], [0.0, 0.0]]), training=True).numpy()
    mean0, mean1 = 4.25 / 0.75, 2.0 / 0.75
    var0 = ((4 / 3) - ((4 / 3) - (7 - mean0) ** 2) * 0.5) / 0.75
    var1 = (0.0 - (0.0 - (2 - mean1) ** 2) * 0.5) / 0.75
    np.testing.assert_allclose(layer.moving_mean.numpy(), [mean0, mean1])
    np.testing.assert_allclose(layer.moving_var.numpy(), [var0, var1])
    np.testing.assert_allclose(
        step2, [[(7 - mean0) / math.sqrt(var0), (2 - mean1) / math.sqrt(var1)], [0.0, 0.0]], rtol=1e-6
    )


def test_zscore_step_one_is_exact_with_the_production_decay() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, size=(64, 3))
    x[::3, 1] = 0.0  # missing under the default mask
    out = ZscoreNormalization(decay=0.99999)(tf.constant(x, tf.float32), training=True).numpy()
    present = x[:, 1] != 0
    col = x[present, 1]
    expected = (col - col.mean()) / col.std()
    np.testing.assert_allclose(out[present, 1], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(out[~present, 1], 0.0)
    np.testing.assert_allclose(out[:, 0], (x[:, 0] - x[:, 0].mean()) / x[:, 0].std(), rtol=1e-4, atol=1e-5)


def test_zscore_statistics_are_float64_and_not_trainable() -> None:
    layer = ZscoreNormalization()
    layer.build(tf.TensorShape([None, 4]))
    assert len(layer.weights) == 6 and not layer.trainable_weights
    assert all(w.dtype == tf.float64 for w in layer.weights)
    assert layer.epsilon == 1.0


def test_zscore_explicit_presence_keeps_genuine_zeros() -> None:
    layer = ZscoreNormalization(decay=0.9)
    out = layer(
        tf.constant([[0.0], [2.0], [0.0]]), presence=tf.constant([[True], [True], [False]]), training=True
    )
    np.testing.assert_allclose(out.numpy(), [[-1.0], [1.0], [0.0]])


def test_zscore_all_missing_column_pulls_the_mean_towards_zero() -> None:
    layer = ZscoreNormalization(decay=0.5)
    layer(tf.constant([[2.0], [4.0]]), training=True)
    out = layer(tf.constant([[0.0], [0.0]]), training=True)
    np.testing.assert_array_equal(out.numpy(), [[0.0], [0.0]])
    # count 0 -> epsilon 1, batch mean 0: biased 1.5 -> 0.75, debiased by 1 - 0.25.
    np.testing.assert_allclose(layer.moving_mean.numpy(), [1.0])


def test_zscore_config_round_trip() -> None:
    layer = ZscoreNormalization(decay=0.9, epsilon=2.0, name="z")
    clone = ZscoreNormalization.from_config(layer.get_config())
    assert (clone.decay, clone.epsilon, clone.name) == (0.9, 2.0, "z")


def test_renorm_batch_normalization_settings() -> None:
    layer = renorm_batch_normalization(0.99999, name="bn")
    assert layer.renorm and layer.renorm_clipping == {}
    assert (layer.momentum, layer.renorm_momentum, layer.epsilon) == (0.99999, 0.99999, 1e-3)


def test_renorm_training_forward_uses_renorm_statistics_and_inference_uses_moving_ones() -> None:
    layer = renorm_batch_normalization(0.9, name="bn")
    x = tf.constant([[1.0, 10.0], [3.0, 30.0], [8.0, -4.0]])
    # Unclipped renorm: forward = (x - renorm_mean) / renorm_stddev = x at initialisation,
    # where plain batch norm would standardise the batch.
    np.testing.assert_allclose(layer(x, training=True).numpy(), x.numpy(), rtol=1e-4, atol=1e-4)
    batch_mean = x.numpy().mean(axis=0)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.1 * batch_mean, rtol=1e-5)
    expected = (x.numpy() - layer.moving_mean.numpy()) / np.sqrt(layer.moving_variance.numpy() + 1e-3)
    np.testing.assert_allclose(layer(x, training=False).numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("training", [True, False])
def test_zscore_output_dtype_is_the_input_dtype(training: bool) -> None:
    out = ZscoreNormalization()(tf.constant([[1.0, 2.0]], tf.float32), training=training)
    assert out.dtype == tf.float32
