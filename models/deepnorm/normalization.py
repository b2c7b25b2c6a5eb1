"""Input cleaning and the two normalisations of the light ranker.

* `FilterNonFinite` zeroes NaN and +-Inf (twml's `filter_nans_and_infs`) so no candidate can score NaN.
* `ZscoreNormalization` is twml's streaming z-score (docs/model.md, Normalization): masked,
  zero-debiased float64 EMAs with epsilon 1.0, normalising training batches with the *post-update*
  moving statistics. `tft.scale_to_z_score` uses global statistics and is not equivalent,
  hence a custom layer.
* `renorm_batch_normalization` builds the TF1-compatible batch renormalisation layer
  used after the group-wise transformation and at the merge.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

#: twml's z-score epsilon: the count for an all-missing column and the std for a constant one.
ZSCORE_EPSILON = 1.0
#: TF1 `batch_normalization` epsilon.
BATCH_NORM_EPSILON = 1e-3


@tf.keras.utils.register_keras_serializable(package="lightrank")
class FilterNonFinite(tf.keras.layers.Layer):
    """Replaces NaN, +Inf and -Inf by 0, element-wise (twml `filter_nans_and_infs`)."""

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        """Returns `inputs` with every non-finite entry set to 0."""
        return tf.where(tf.math.is_finite(inputs), inputs, tf.zeros_like(inputs))


@tf.keras.utils.register_keras_serializable(package="lightrank")
class SignedLog1p(tf.keras.layers.Layer):
    """`sign(x) * log1p(|x|)` on every value but the missing marker, which passes unchanged.

    Not in the original (`continuous_log`, off there): counts and follower numbers span six
    orders of magnitude, and a z-score of the raw value squeezes all but the largest into a
    sliver around the mean; the compressed value keeps them apart (docs/model.md, Ids).

    Args:
        missing_value: The marker, compared in float32.
    """

    def __init__(self, missing_value: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.missing_value = float(missing_value)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        """Compresses `[B, G]` element-wise, keeping the marker."""
        is_missing = tf.equal(inputs, tf.constant(self.missing_value, dtype=inputs.dtype))
        return tf.where(is_missing, inputs, tf.sign(inputs) * tf.math.log1p(tf.abs(inputs)))

    def get_config(self) -> dict[str, Any]:
        """Keras serialisation."""
        return {**super().get_config(), "missing_value": self.missing_value}


@tf.keras.utils.register_keras_serializable(package="lightrank")
class ZscoreNormalization(tf.keras.layers.Layer):
    """twml's masked streaming z-score normalisation (docs/model.md, Normalization).

    Each statistic is a zero-debiased EMA, as TF's `assign_moving_average(zero_debias=True)`:
    `biased <- biased - (biased - v)(1 - decay)`, `step <- step + 1`,
    `stat <- biased / (1 - decay**step)`, all in float64. A training call first updates the
    mean with the masked batch mean, then measures the batch variance about that *updated*
    mean, updates the variance, and normalises with both updated values; at step 1 this
    equals the masked batch statistics exactly. Inference normalises with the stored
    statistics. Absent entries (mask False) always come out as 0.

    Args:
        decay: EMA decay (the model passes `--momentum`, 0.99999).
        epsilon: Replaces a zero count and a zero standard deviation (twml uses 1.0).
    """

    def __init__(self, decay: float = 0.99999, epsilon: float = ZSCORE_EPSILON, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.decay = float(decay)
        self.epsilon = float(epsilon)

    def build(self, input_shape: tf.TensorShape) -> None:
        """Creates the float64 statistics and their debiasing shadows (all non-trainable)."""
        width = int(input_shape[-1])

        def state(name: str, shape: tuple[int, ...]) -> tf.Variable:
            return self.add_weight(
                name=name, shape=shape, dtype=tf.float64, initializer="zeros", trainable=False
            )

        self.moving_mean = state("moving_mean", (width,))
        self.moving_mean_biased = state("moving_mean_biased", (width,))
        self.moving_mean_local_step = state("moving_mean_local_step", ())
        self.moving_var = state("moving_var", (width,))
        self.moving_var_biased = state("moving_var_biased", (width,))
        self.moving_var_local_step = state("moving_var_local_step", ())
        super().build(input_shape)

    def build_from_config(self, config: dict[str, Any]) -> None:
        """Builds under the layer's name scope so deserialised variables keep `<layer>/<name>` names."""
        with tf.name_scope(self.name):
            super().build_from_config(config)

    def _update(
        self, stat: tf.Variable, biased: tf.Variable, step: tf.Variable, value: tf.Tensor
    ) -> tf.Tensor:
        """One zero-debiased EMA update; returns the updated statistic."""
        biased.assign_sub((biased - value) * (1.0 - self.decay))
        step.assign_add(1.0)
        return stat.assign(biased / (1.0 - tf.pow(tf.constant(self.decay, tf.float64), step)))

    def call(
        self, inputs: tf.Tensor, presence: tf.Tensor | None = None, training: bool | None = None
    ) -> tf.Tensor:
        """Normalises `[B, G]` inputs.

        Args:
            inputs: float `[B, G]`; by contract 0 wherever `presence` is False.
            presence: bool `[B, G]`, True where the value is real; defaults to `inputs != 0`
                (the original's behaviour without the missing sub-branch).
            training: Update the statistics and normalise with the updated values.

        Returns:
            `[B, G]` in the input dtype.
        """
        if presence is None:
            presence = tf.not_equal(inputs, 0)
        presence = tf.cast(presence, tf.bool)
        if not training:
            mean = tf.cast(self.moving_mean, inputs.dtype)
            std = tf.sqrt(tf.cast(self.moving_var, inputs.dtype))
            std = tf.where(tf.equal(std, 0), tf.cast(self.epsilon, inputs.dtype), std)
            return tf.where(presence, inputs - mean, tf.zeros_like(inputs)) / std

        x = tf.cast(inputs, tf.float64)
        zeros = tf.zeros_like(x)
        count = tf.reduce_sum(tf.cast(presence, tf.float64), axis=0)
        epsilon = tf.constant(self.epsilon, tf.float64)
        count = tf.where(tf.equal(count, 0), epsilon, count)
        # Masked entries are 0 by contract; masking again keeps the layer safe on its own.
        batch_mean = tf.reduce_sum(tf.where(presence, x, zeros), axis=0) / count
        mean = self._update(
            self.moving_mean, self.moving_mean_biased, self.moving_mean_local_step, batch_mean
        )
        centred = tf.where(presence, x - mean, zeros)
        batch_var = tf.reduce_sum(tf.square(centred / tf.sqrt(count)), axis=0)
        var = self._update(self.moving_var, self.moving_var_biased, self.moving_var_local_step, batch_var)
        std = tf.sqrt(var)
        std = tf.where(tf.equal(std, 0), epsilon, std)
        return tf.cast(centred / std, inputs.dtype)

    def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
        """Same shape as the input."""
        return tf.TensorShape(input_shape)

    def get_config(self) -> dict[str, Any]:
        """Keras serialisation."""
        return {**super().get_config(), "decay": self.decay, "epsilon": self.epsilon}


def renorm_batch_normalization(momentum: float, name: str) -> tf.keras.layers.BatchNormalization:
    """TF1 `batch_normalization(momentum=m, renorm_momentum=m, renorm=training)` in Keras 2.

    Keras applies the renorm correction only when called with `training=True`, which is the
    original's `renorm=training`; clipping is off (`renorm_clipping=None`), epsilon is TF1's.

    Args:
        momentum: Momentum of both the inference and the renorm statistics.
        name: Layer name (stable names matter for warm starts).

    Returns:
        An unbuilt `BatchNormalization` layer.
    """
    return tf.keras.layers.BatchNormalization(
        momentum=momentum,
        epsilon=BATCH_NORM_EPSILON,
        renorm=True,
        renorm_momentum=momentum,
        renorm_clipping=None,
        name=name,
    )
