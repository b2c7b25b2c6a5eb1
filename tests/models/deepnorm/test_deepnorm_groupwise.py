from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from lightrank.models.deepnorm.groupwise import (
    AdaptiveTransformation,
    FastGroupWiseTrans,
    customized_glorot_limit,
)


def test_customized_glorot_limits_of_the_spec() -> None:
    assert customized_glorot_limit(1, 2) == pytest.approx(0.5)
    assert customized_glorot_limit(2, 1) == pytest.approx(0.5)
    assert customized_glorot_limit(1, 1) == pytest.approx(math.sqrt(3 / 8))
    assert customized_glorot_limit(1, 8) == pytest.approx(math.sqrt(3 / 36))


@pytest.mark.parametrize(
    ("variant", "shapes", "limits"),
    [
        ("tiny", [(1, 2), (2, 1), (1, 1)], [0.5, 0.5, math.sqrt(3 / 8)]),
        ("default", [(1, 8), (8, 4), (4, 1)], [math.sqrt(3 / 36), math.sqrt(3 / 48), math.sqrt(3 / 20)]),
    ],
)
def test_initial_weights_lie_inside_and_reach_near_their_limits(
    variant: str, shapes: list[tuple[int, int]], limits: list[float]
) -> None:
    groups = 2000
    layer = AdaptiveTransformation(variant)
    layer.build(tf.TensorShape([None, groups]))
    layer(tf.zeros([2, groups]))
    for groupwise, (units_in, units_out), limit in zip(layer.groupwise, shapes, limits, strict=True):
        kernel = groupwise.kernel.numpy()
        assert kernel.shape == (1, groups, units_in, units_out)
        assert np.abs(kernel).max() <= limit
        assert np.abs(kernel).max() > 0.99 * limit
        np.testing.assert_array_equal(groupwise.bias.numpy(), np.zeros((1, groups, units_out)))


def test_group_wise_layer_applies_each_features_own_weights() -> None:
    layer = FastGroupWiseTrans(1, 2)
    layer.build(tf.TensorShape([None, 2, 1]))
    layer.kernel.assign([[[[1.0, -2.0]], [[0.5, 3.0]]]])
    layer.bias.assign([[[0.1, 0.2], [-0.3, 0.0]]])
    out = layer(tf.constant([[[2.0], [-1.0]]])).numpy()
    expected = np.tanh([[[2.0 + 0.1, -4.0 + 0.2], [-0.5 - 0.3, -3.0]]])
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_tiny_transformation_then_batch_norm_at_inference() -> None:
    layer = AdaptiveTransformation("tiny")
    x = tf.constant([[0.3, -1.2, 2.0], [1.5, 0.0, -0.7]])
    out = layer(x, training=False).numpy()
    h = tf.expand_dims(x, -1)
    for groupwise in layer.groupwise:
        h = groupwise(h)
    # Fresh BN at inference: moving mean 0, moving variance 1, epsilon 1e-3.
    np.testing.assert_allclose(out, tf.squeeze(h, -1).numpy() / math.sqrt(1.001), rtol=1e-5)
    bn = layer.batch_norm
    assert bn.renorm and (bn.momentum, bn.renorm_momentum, bn.epsilon) == (0.9999, 0.9999, 1e-3)


def test_unknown_variant_is_rejected() -> None:
    with pytest.raises(ValueError, match="variant='huge'"):
        AdaptiveTransformation("huge")


def test_group_wise_config_round_trip() -> None:
    layer = AdaptiveTransformation("default", bn_momentum=0.9, name="at")
    clone = AdaptiveTransformation.from_config(layer.get_config())
    assert (clone.variant, clone.bn_momentum, len(clone.groupwise)) == ("default", 0.9, 3)
    trans = FastGroupWiseTrans.from_config(FastGroupWiseTrans(2, 1).get_config())
    assert (trans.units_in, trans.units_out) == (2, 1)
