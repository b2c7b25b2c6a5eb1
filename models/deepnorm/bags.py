"""The sparse branch of the id-aware presets: one bag per sparse feature and an FM term (docs/model.md, Ids).

The original sums every hashed id of every sparse feature into one bag (`sparse.SparseSumEmbedding`),
so the network cannot tell which feature an id came from, and nothing multiplies a user's id
with a candidate's. `FeatureBagEmbedding` keeps one bag per feature instead: Transform writes,
parallel to `sparse_ids`, the index of each id's feature (`sparse_slots`), and the lookup is
still one gather from one shared `[2**bits, S]` table plus one segment sum, now over
`row * F + slot`. The table's gradient therefore stays an `IndexedSlices`, and the legacy SGD and
Adagrad still update only the rows of the batch. Ids are salted per feature before hashing, so
one table shared by all features collides no more than the original's.

`PairwiseInteraction` is a factorization machine's second-order term over per-feature bags:
the sum over feature pairs of the dot product of their (raw, linear) bags, either over all
pairs or only between user-side and candidate-side features. It is added to the logit. Its
bags are `P` more columns of the same table (one gather still reads both): the `S` columns the
merge reads start at zero like the original's table (random rows, renormalised at the merge,
would hand the MLP one random feature per id to overfit to), while a bilinear term has no
gradient at zero, so the `P` columns start at small random values.

`IdBias` is the FM's first-order term, one learned weight per hashed id added to the logit
(`id_bias`, off in every preset: measured, not kept; models/deepnorm/config.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from lightrank.models.deepnorm.attention import LEAKY_RELU_ALPHA
from lightrank.models.deepnorm.sparse import to_sparse_ids

#: Standard deviation of the initial values of the FM columns (a bilinear term needs them non-zero).
PAIRWISE_INIT_STDDEV = 0.05


def _table_initializer(embedding_size: int, stddev: float) -> Any:
    """Zeros in the first `embedding_size` columns, N(0, stddev) in the rest (the FM columns)."""

    def initialize(shape: Any, dtype: Any = None, **_: Any) -> tf.Tensor:
        zeros = tf.zeros([shape[0], embedding_size], dtype=dtype)
        noise = tf.random.normal([shape[0], shape[1] - embedding_size], stddev=stddev, dtype=dtype)
        return tf.concat([zeros, noise], axis=1)

    return initialize


@tf.keras.utils.register_keras_serializable(package="lightrank")
class FeatureBagEmbedding(tf.keras.layers.Layer):
    """One `S`-wide sum-embedding per sparse feature, from one shared table.

    Called on `(ids, slots)`, two `[B, None]` int64 sparse tensors with the same indices (the
    Transform's `sparse_ids` and `sparse_slots`); returns `(activated, raw)`. With `raw_all[b, f]`
    the sum of the `[S + P]` table rows of row b's ids of feature f, `activated` is
    `LeakyReLU(raw_all[..., :S] + bias)` flattened to `[B, F * S]` (what the merge reads), each bag
    biased like the original's bag, and `raw` is `raw_all[..., S:]` (`[B, F, P]`, what the FM term
    reads), or `raw_all` itself when `P` is 0. Training drops each (row, id) entry with
    probability `dropout` and divides `activated` by `1 - dropout`, the original's numerics.

    Args:
        input_size_bits: The table has `2**input_size_bits` rows.
        num_features: F, the number of sparse features (slots lie in `[0, F)`).
        embedding_size: S, the width of each bag the merge reads (zero-initialised columns).
        dropout: Training-only entry-drop rate.
        pairwise_size: P, extra randomly initialised columns for the FM term; 0: none.
    """

    def __init__(
        self,
        input_size_bits: int,
        num_features: int,
        embedding_size: int,
        dropout: float = 0.0,
        pairwise_size: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.input_size_bits = int(input_size_bits)
        self.num_features = int(num_features)
        self.embedding_size = int(embedding_size)
        self.dropout = float(dropout)
        self.pairwise_size = int(pairwise_size)

    def build(self, input_shape: Any) -> None:
        """Creates the shared table (zeros, then small random FM columns) and one `1/S` bias per bag."""
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(2**self.input_size_bits, self.embedding_size + self.pairwise_size),
            initializer=_table_initializer(self.embedding_size, PAIRWISE_INIT_STDDEV),
        )
        self.bias = self.add_weight(
            name="bias",
            shape=(self.num_features, self.embedding_size),
            initializer=tf.keras.initializers.Constant(1.0 / self.embedding_size),
        )
        super().build(input_shape)

    def build_from_config(self, config: dict[str, Any]) -> None:
        """Builds under the layer's name scope so deserialised variables keep `<layer>/<name>` names."""
        with tf.name_scope(self.name):
            super().build_from_config(config)

    def call(
        self, inputs: Sequence[tf.SparseTensor | tf.RaggedTensor], training: bool | None = None
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """`(ids, slots)` -> `(activated [B, F*S], raw [B, F, S])`; a feature without ids: a zero raw bag."""
        ids, slots = (to_sparse_ids(tensor) for tensor in inputs)
        rows, values, slot_values = ids.indices[:, 0], ids.values, slots.values
        if training and self.dropout > 0.0:
            keep = tf.random.uniform(tf.shape(values)) >= self.dropout
            rows, values, slot_values = (tf.boolean_mask(t, keep) for t in (rows, values, slot_values))
        batch = ids.dense_shape[0]
        segments = rows * self.num_features + slot_values
        summed = tf.math.unsorted_segment_sum(
            tf.gather(self.embeddings, values), segments, num_segments=batch * self.num_features
        )
        raw = tf.reshape(summed, [-1, self.num_features, self.embedding_size + self.pairwise_size])
        if self.pairwise_size:
            raw, pairwise = raw[:, :, : self.embedding_size], raw[:, :, self.embedding_size :]
        else:
            pairwise = raw
        activated = tf.nn.leaky_relu(raw + self.bias, alpha=LEAKY_RELU_ALPHA)
        activated = tf.reshape(activated, [-1, self.num_features * self.embedding_size])
        if training and self.dropout > 0.0:
            activated = activated / (1.0 - self.dropout)
        return activated, pairwise

    def compute_output_shape(self, input_shape: Any) -> tuple[tf.TensorShape, tf.TensorShape]:
        """`([B, F * S], [B, F, P or S])`."""
        batch = input_shape[0][0]
        return (
            tf.TensorShape([batch, self.num_features * self.embedding_size]),
            tf.TensorShape([batch, self.num_features, self.pairwise_size or self.embedding_size]),
        )

    def get_config(self) -> dict[str, Any]:
        """Keras serialisation."""
        return {
            **super().get_config(),
            "input_size_bits": self.input_size_bits,
            "num_features": self.num_features,
            "embedding_size": self.embedding_size,
            "dropout": self.dropout,
            "pairwise_size": self.pairwise_size,
        }


@tf.keras.utils.register_keras_serializable(package="lightrank")
class PairwiseInteraction(tf.keras.layers.Layer):
    """A factorization machine's pairwise term over per-feature bags: `[B, F, S]` -> `[B, 1]`.

    With `user` and `candidate` (disjoint lists of feature indices) it is
    `sum over u in user, c in candidate of <v_u, v_c> = <sum_u v_u, sum_c v_c>`; without them it
    is the classic FM over all pairs, `sum over f < g of <v_f, v_g> = (|sum_f v_f|^2 - sum_f |v_f|^2) / 2`.
    Both cost O(F * S) per candidate.

    Args:
        user: Feature indices of the user side; empty (with `candidate` empty) for all pairs.
        candidate: Feature indices of the candidate side.
    """

    def __init__(self, user: Sequence[int] = (), candidate: Sequence[int] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.user = [int(i) for i in user]
        self.candidate = [int(i) for i in candidate]
        if bool(self.user) != bool(self.candidate):
            raise ValueError("PairwiseInteraction needs both sides or neither (all pairs)")
        if set(self.user) & set(self.candidate):
            raise ValueError(f"a feature is on both sides: {sorted(set(self.user) & set(self.candidate))}")

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        """Sums the pairwise dot products of each row's bags."""
        if self.user:
            user = tf.reduce_sum(tf.gather(inputs, self.user, axis=1), axis=1)
            candidate = tf.reduce_sum(tf.gather(inputs, self.candidate, axis=1), axis=1)
            return tf.reduce_sum(user * candidate, axis=1, keepdims=True)
        total = tf.reduce_sum(inputs, axis=1)
        squares = tf.reduce_sum(tf.square(total), axis=1, keepdims=True)
        return 0.5 * (squares - tf.reduce_sum(tf.square(inputs), axis=[1, 2])[:, None])

    def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
        """`[B, 1]`."""
        return tf.TensorShape([input_shape[0], 1])

    def get_config(self) -> dict[str, Any]:
        """Keras serialisation."""
        return {**super().get_config(), "user": list(self.user), "candidate": list(self.candidate)}


@tf.keras.utils.register_keras_serializable(package="lightrank")
class IdBias(tf.keras.layers.Layer):
    """A factorization machine's first-order term: one learned weight per hashed id, summed per row.

    `[B, None]` int64 ids -> `[B, 1]`, `sum of w[id]` over the row's ids (once per occurrence),
    added to the logit. The MLP can learn an id's own effect too, but only through its bag, a
    batch renormalisation and every hidden layer; this path gives each id (an item's quality, a
    viewer's propensity) its own Adagrad-scaled weight, as a wide model or a tree's categorical
    split does. The weights start at zero, so a new model starts where it would without them, and
    the gradient stays an `IndexedSlices`: the legacy optimizers update only the batch's rows.

    Args:
        input_size_bits: The table has `2**input_size_bits` rows; ids must lie in that range.
    """

    def __init__(self, input_size_bits: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_size_bits = int(input_size_bits)

    def build(self, input_shape: Any) -> None:
        """Creates the zero `[2**bits, 1]` weight table."""
        self.weights_table = self.add_weight(
            name="weights", shape=(2**self.input_size_bits, 1), initializer="zeros"
        )
        super().build(input_shape)

    def build_from_config(self, config: dict[str, Any]) -> None:
        """Builds under the layer's name scope so deserialised variables keep `<layer>/<name>` names."""
        with tf.name_scope(self.name):
            super().build_from_config(config)

    def call(self, inputs: tf.SparseTensor | tf.RaggedTensor) -> tf.Tensor:
        """Sums each row's id weights; a row without ids gives 0."""
        ids = to_sparse_ids(inputs)
        return tf.math.unsorted_segment_sum(
            tf.gather(self.weights_table, ids.values), ids.indices[:, 0], num_segments=ids.dense_shape[0]
        )

    def compute_output_shape(self, input_shape: Any) -> tf.TensorShape:
        """`[B, 1]`."""
        return tf.TensorShape([input_shape[0], 1])

    def get_config(self) -> dict[str, Any]:
        """Keras serialisation."""
        return {**super().get_config(), "input_size_bits": self.input_size_bits}
