"""The adaptive (group-wise) transformation of the continuous features (docs/model.md, DeepNorm).

Every continuous feature gets its own tiny tanh MLP, so the network can learn a
per-feature non-linear rescaling of its z-score before the features are mixed. The
weights use twml's `customized_glorot_uniform` with fans multiplied by 8, which gives
the limits 0.5 / 0.5 / 0.612 of the "tiny" 1->2->1->1 stack. A batch renormalisation
follows the stack.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import tensorflow as tf

from lightrank.models.deepnorm.normalization import renorm_batch_normalization

#: Hidden widths per feature of each variant, input and output width 1 excluded.
VARIANT_WIDTHS: dict[str, tuple[int, ...]] = {"tiny": (2, 1), "default": (8, 4)}
#: twml multiplies both fans by this before computing the Glorot limit.
FAN_MULTIPLIER = 8


def customized_glorot_limit(units_in: int, units_out: int) -> float:
    """Half-width `sqrt(3 / max(1, (fan_in + fan_out) / 2))` with `fan = units * 8`."""
    fan_in, fan_out = units_in * FAN_MULTIPLIER, units_out * FAN_MULTIPLIER
    return math.sqrt(3.0 / max(1.0, (fan_in + fan_out) / 2.0))


@tf.keras.utils.register_keras_serializable(package="lightrank")
class FastGroupWiseTrans(tf.keras.layers.Layer):
    """Per-feature dense layer: `y[b,g,:] = tanh(x[b,g,:] @ w[0,g] + bias[0,g])`.

    Args:
        units_in: Width of each feature's input vector.
        units_out: Width of each feature's output vector.
    """

    def __init__(self, units_in: int, units_out: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units_in = int(units_in)
        self.units_out = int(units_out)
        self.limit = customized_glorot_limit(self.units_in, self.units_out)

    def build(self, input_shape: tf.TensorShape) -> None:
        """Creates the `[1, G, in, out]` kernel and the zero `[1, G, out]` bias."""
        groups = int(input_shape[1])
        self.kernel = self.add_weight(
            name="kernel",
            shape=(1, groups, self.units_in, self.units_out),
            initializer=tf.keras.initializers.RandomUniform(-self.limit, self.limit),
        )
        self.bias = self.add_weight(name="bias", shape=(1, groups, self.units_out), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        """Maps `[B, G, in]` to `[B, G, out]`."""
        return tf.tanh(tf.einsum("bgi,gio->bgo", inputs, self.kernel[0]) + self.bias)

    def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
        """`[B, G, out]`."""
        return tf.TensorShape([input_shape[0], input_shape[1], self.units_out])

    def get_config(self) -> dict[str, Any]:
        """Keras serialisation."""
        return {**super().get_config(), "units_in": self.units_in, "units_out": self.units_out}


@tf.keras.utils.register_keras_serializable(package="lightrank")
class AdaptiveTransformation(tf.keras.layers.Layer):
    """`[B, G]` -> per-feature tanh MLP -> `[B, G]` -> batch renormalisation.

    Args:
        variant: "tiny" (1->2->1->1, the light ranker's) or "default" (1->8->4->1).
        bn_momentum: Momentum of the trailing renorm BN (0.9999 in the original).
    """

    def __init__(self, variant: str = "tiny", bn_momentum: float = 0.9999, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if variant not in VARIANT_WIDTHS:
            raise ValueError(f"variant={variant!r} is invalid: expected one of {tuple(VARIANT_WIDTHS)}")
        self.variant = variant
        self.bn_momentum = float(bn_momentum)
        widths = (1, *VARIANT_WIDTHS[variant], 1)
        self.groupwise = [
            FastGroupWiseTrans(units_in, units_out, name=f"groupwise_{i + 1}")
            for i, (units_in, units_out) in enumerate(itertools.pairwise(widths))
        ]
        self.batch_norm = renorm_batch_normalization(self.bn_momentum, name="batch_normalization")

    @tf.autograph.experimental.do_not_convert
    def call(self, inputs: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        """Transforms each column of `[B, G]` independently, then renormalises."""
        h = tf.expand_dims(inputs, -1)
        for layer in self.groupwise:
            h = layer(h)
        return self.batch_norm(tf.squeeze(h, -1), training=training)

    def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
        """Same shape as the input."""
        return tf.TensorShape(input_shape)

    def get_config(self) -> dict[str, Any]:
        """Keras serialisation."""
        return {**super().get_config(), "variant": self.variant, "bn_momentum": self.bn_momentum}
