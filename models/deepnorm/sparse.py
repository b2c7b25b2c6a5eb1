"""The sparse branch: a sum-embedding of hashed binary features (docs/model.md, Sparse embedding).

twml's `FullSparse` with `use_binary_values=True` is a `[2**bits, S]` table, zero
initialised, whose rows are summed per candidate (once per occurrence of an id), plus a
bias of `1/S` and a LeakyReLU, so every unit starts at 0.02. In training each (row, id)
entry is first dropped with probability `dropout` and the *activated* output is then
divided by `1 - dropout` (not standard inverted dropout, but the original's numerics, reproduced exactly).

The lookup is a gather plus a segment sum, so the table's gradient is an
`IndexedSlices` and the legacy optimizers update only the touched rows.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from lightrank.models.deepnorm.attention import LEAKY_RELU_ALPHA


def to_sparse_ids(ids: tf.SparseTensor | tf.RaggedTensor) -> tf.SparseTensor:
    """Accepts the parser's `SparseTensor` or a `RaggedTensor` of ids and returns a `SparseTensor`."""
    if isinstance(ids, tf.RaggedTensor):
        return ids.to_sparse()
    if isinstance(ids, tf.SparseTensor):
        return ids
    raise TypeError(f"sparse ids must be a tf.SparseTensor or tf.RaggedTensor, got {type(ids).__name__}")


def drop_sparse_entries(ids: tf.SparseTensor, rate: float, seed: int | None = None) -> tf.SparseTensor:
    """Removes each stored (row, id) entry independently with probability `rate`.

    This is twml's `tensor_dropout` on a sparse tensor: a Bernoulli(1 - rate) keep mask
    over the stored values, no rescaling (the caller rescales).
    """
    keep = tf.random.uniform(tf.shape(ids.values), seed=seed) >= rate
    return tf.sparse.retain(ids, keep)


@tf.keras.utils.register_keras_serializable(package="lightrank")
class SparseSumEmbedding(tf.keras.layers.Layer):
    """`LeakyReLU(sum of W[id] over a row's ids + b)`, with the original's sparse dropout.

    Args:
        input_size_bits: The table has `2**input_size_bits` rows; ids must lie in that range.
        embedding_size: Output width S; the bias starts at `1/S`.
        dropout: Training-only entry-drop rate, followed by the `/(1 - dropout)` rescale.
    """

    def __init__(
        self, input_size_bits: int, embedding_size: int, dropout: float = 0.0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.input_size_bits = int(input_size_bits)
        self.embedding_size = int(embedding_size)
        self.dropout = float(dropout)

    def build(self, input_shape: tf.TensorShape) -> None:
        """Creates the zero table and the `1/S` bias."""
        self.embeddings = self.add_weight(
            name="embeddings", shape=(2**self.input_size_bits, self.embedding_size), initializer="zeros"
        )
        self.bias = self.add_weight(
            name="bias",
            shape=(self.embedding_size,),
            initializer=tf.keras.initializers.Constant(1.0 / self.embedding_size),
        )
        super().build(input_shape)

    def build_from_config(self, config: dict[str, Any]) -> None:
        """Builds under the layer's name scope so deserialised variables keep `<layer>/<name>` names."""
        with tf.name_scope(self.name):
            super().build_from_config(config)

    def call(self, inputs: tf.SparseTensor | tf.RaggedTensor, training: bool | None = None) -> tf.Tensor:
        """Embeds `[B, None]` int64 ids into `[B, S]`; an empty row gives `LeakyReLU(bias)`."""
        ids = to_sparse_ids(inputs)
        if training and self.dropout > 0.0:
            ids = drop_sparse_entries(ids, self.dropout)
        rows = tf.gather(self.embeddings, ids.values)
        summed = tf.math.unsorted_segment_sum(rows, ids.indices[:, 0], num_segments=ids.dense_shape[0])
        out = tf.nn.leaky_relu(summed + self.bias, alpha=LEAKY_RELU_ALPHA)
        if training and self.dropout > 0.0:
            out = out / (1.0 - self.dropout)
        return out

    def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
        """`[B, S]`."""
        return tf.TensorShape([input_shape[0], self.embedding_size])

    def get_config(self) -> dict[str, Any]:
        """Keras serialisation."""
        return {
            **super().get_config(),
            "input_size_bits": self.input_size_bits,
            "embedding_size": self.embedding_size,
            "dropout": self.dropout,
        }
