from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from lightrank.models.deepnorm.attention import SelfAttentionDense


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def test_gated_projection_with_leaky_relu_matches_hand_computation() -> None:
    layer = SelfAttentionDense(2)
    x = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32)
    layer(tf.constant(x))
    gate_kernel = np.array([[0.2, -0.1], [0.4, 0.3]], dtype=np.float32)
    gate_bias = np.array([0.05, -0.2], dtype=np.float32)
    kernel = np.array([[1.0, -1.0], [2.0, 0.5]], dtype=np.float32)
    bias = np.array([0.1, -0.3], dtype=np.float32)
    layer.gate.set_weights([gate_kernel, gate_bias])
    layer.projection.set_weights([kernel, bias])
    pre = (_sigmoid(x @ gate_kernel + gate_bias) * x) @ kernel + bias
    expected = np.where(pre > 0, pre, 0.3 * pre)
    assert (pre < 0).any() and (pre > 0).any()
    np.testing.assert_allclose(layer(tf.constant(x)).numpy(), expected, rtol=1e-5)


def test_linear_activation_for_the_logit() -> None:
    layer = SelfAttentionDense(1, activation="linear")
    x = tf.constant([[1.0, 2.0, 3.0]])
    layer(x)
    layer.projection.set_weights([np.full((3, 1), -1.0, np.float32), np.zeros(1, np.float32)])
    gate = _sigmoid(x.numpy() @ layer.gate.kernel.numpy())
    np.testing.assert_allclose(layer(x).numpy(), -(gate * x.numpy()).sum(keepdims=True), rtol=1e-5)


def test_initialisation_is_glorot_uniform_with_zero_biases() -> None:
    layer = SelfAttentionDense(300)
    layer(tf.zeros([1, 200]))
    for dense, (fan_in, fan_out) in ((layer.gate, (200, 200)), (layer.projection, (200, 300))):
        limit = math.sqrt(6 / (fan_in + fan_out))
        kernel = dense.kernel.numpy()
        assert kernel.shape == (fan_in, fan_out)
        assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.99 * limit
        np.testing.assert_array_equal(dense.bias.numpy(), 0.0)


def test_unknown_activation_is_rejected_and_config_round_trips() -> None:
    with pytest.raises(ValueError, match="activation='relu'"):
        SelfAttentionDense(4, activation="relu")
    clone = SelfAttentionDense.from_config(SelfAttentionDense(4, activation="linear").get_config())
    assert (clone.units, clone.activation) == (4, "linear")
