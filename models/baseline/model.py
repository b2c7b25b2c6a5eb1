"""The logistic-regression baseline (`model.kind: logistic`).

A light ranker is worth its cost only if it beats a linear model on the same
features, so the baseline reads exactly what DeepNorm reads, from the same
Transform output: the log-compressed, z-scored continuous features
(`continuous_scaled`), a missing indicator per continuous feature, and one
learned weight per hashed sparse bucket. Its output is a logit, so it trains
with the same loop, loss, early stopping and export as DeepNorm.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from lightrank.models.deepnorm.sparse import to_sparse_ids
from lightrank.models.features import CONTINUOUS, CONTINUOUS_SCALED, SPARSE_IDS

#: The inputs the baseline reads from the Transform output.
INPUT_KEYS = (CONTINUOUS, CONTINUOUS_SCALED, SPARSE_IDS)


@tf.keras.utils.register_keras_serializable(package="lightrank")
class MissingIndicator(tf.keras.layers.Layer):
    """1.0 where a continuous value is the missing marker, else 0.0."""

    def __init__(self, missing_value: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.missing_value = float(missing_value)

    def call(self, continuous: tf.Tensor) -> tf.Tensor:
        """Compares in float32, as the original did (docs/model.md, Missing values)."""
        return tf.cast(tf.equal(continuous, tf.constant(self.missing_value, tf.float32)), tf.float32)

    def get_config(self) -> dict[str, Any]:
        """Keras serialisation."""
        return {**super().get_config(), "missing_value": self.missing_value}


@tf.keras.utils.register_keras_serializable(package="lightrank")
class HashedLinear(tf.keras.layers.Layer):
    """Sum of one weight per hashed id in a row: the sparse part of a linear model.

    The lookup is a gather plus a segment sum, so its gradient is sparse and the
    legacy optimizers touch only the rows in the batch.
    """

    def __init__(self, input_size_bits: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_size_bits = int(input_size_bits)

    def build(self, input_shape: tf.TensorShape) -> None:
        """A zero-initialised `[2**bits, 1]` weight table."""
        self.weights_table = self.add_weight(
            name="weights", shape=(2**self.input_size_bits, 1), initializer="zeros", trainable=True
        )
        super().build(input_shape)

    def call(self, ids: tf.SparseTensor | tf.RaggedTensor) -> tf.Tensor:
        """`[B, 1]` per-row sums; an empty row gives 0."""
        ids = to_sparse_ids(ids)
        rows = ids.indices[:, 0]
        gathered = tf.gather(self.weights_table, ids.values)
        return tf.math.unsorted_segment_sum(gathered, rows, num_segments=ids.dense_shape[0])

    def get_config(self) -> dict[str, Any]:
        """Keras serialisation."""
        return {**super().get_config(), "input_size_bits": self.input_size_bits}


def logistic_regression(num_continuous: int, input_size_bits: int, missing_value: float) -> tf.keras.Model:
    """Builds the baseline; its output is the logit `[B, 1]`.

    Args:
        num_continuous: G, the width of the continuous inputs.
        input_size_bits: Hashed ids lie in `[0, 2**input_size_bits)`.
        missing_value: The materialised missing marker of `continuous`.

    Returns:
        A functional model taking `{"continuous", "continuous_scaled", "sparse_ids"}`.
    """
    continuous = tf.keras.Input(shape=(num_continuous,), dtype=tf.float32, name=CONTINUOUS)
    scaled = tf.keras.Input(shape=(num_continuous,), dtype=tf.float32, name=CONTINUOUS_SCALED)
    sparse_ids = tf.keras.Input(shape=(None,), dtype=tf.int64, sparse=True, name=SPARSE_IDS)
    missing = MissingIndicator(missing_value, name="missing_indicator")(continuous)
    dense = tf.keras.layers.Concatenate(name="dense_inputs")([scaled, missing])
    dense_logit = tf.keras.layers.Dense(1, kernel_initializer="zeros", name="dense_weights")(dense)
    sparse_logit = HashedLinear(input_size_bits, name="sparse_weights")(sparse_ids)
    logit = tf.keras.layers.Add(name="logit")([dense_logit, sparse_logit])
    return tf.keras.Model(
        inputs={CONTINUOUS: continuous, CONTINUOUS_SCALED: scaled, SPARSE_IDS: sparse_ids},
        outputs=logit,
        name="logistic_regression",
    )
