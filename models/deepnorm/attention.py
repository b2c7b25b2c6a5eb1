"""twml's `self_atten_dense`: a sigmoid-gated dense layer (docs/model.md, DeepNorm).

The light ranker uses it for every dense projection (continuous and missing embeddings,
each MLP layer and the logit): a D x D sigmoid gate re-weights the D inputs element-wise
before an ordinary dense projection, letting each layer learn which inputs to attend to.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

#: Slope of `tf.keras.layers.LeakyReLU()` with its Keras 2 default, as the original used.
LEAKY_RELU_ALPHA = 0.3
#: Activations the light ranker uses after the projection ("linear" for the logit).
ACTIVATIONS = ("leaky_relu", "linear")


@tf.keras.utils.register_keras_serializable(package="lightrank")
class SelfAttentionDense(tf.keras.layers.Layer):
    """`y = act(Dense_units(sigmoid(Dense_D(x)) * x))`, Glorot-uniform kernels, zero biases.

    Args:
        units: Output width.
        activation: "leaky_relu" (alpha 0.3) or "linear".
    """

    def __init__(self, units: int, activation: str = "leaky_relu", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r} is invalid: expected one of {ACTIVATIONS}")
        self.units = int(units)
        self.activation = activation
        self.projection = tf.keras.layers.Dense(
            self.units, kernel_initializer="glorot_uniform", bias_initializer="zeros", name="projection"
        )

    def build(self, input_shape: tf.TensorShape) -> None:
        """Creates the D x D gate once the input width D is known."""
        self.gate = tf.keras.layers.Dense(
            int(input_shape[-1]),
            activation="sigmoid",
            kernel_initializer="glorot_uniform",
            bias_initializer="zeros",
            name="gate",
        )
        super().build(input_shape)

    @tf.autograph.experimental.do_not_convert
    def call(self, inputs: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        """Maps `[B, D]` to `[B, units]`; `training` is unused (Keras passes it through the wrapper)."""
        y = self.projection(self.gate(inputs) * inputs)
        if self.activation == "leaky_relu":
            y = tf.nn.leaky_relu(y, alpha=LEAKY_RELU_ALPHA)
        return y

    def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
        """`[B, units]`."""
        return tf.TensorShape([input_shape[0], self.units])

    def get_config(self) -> dict[str, Any]:
        """Keras serialisation."""
        return {**super().get_config(), "units": self.units, "activation": self.activation}
