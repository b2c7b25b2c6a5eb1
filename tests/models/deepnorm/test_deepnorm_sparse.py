from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from deepnorm_test_inputs import sparse_ids

from lightrank.models.deepnorm.sparse import SparseSumEmbedding, drop_sparse_entries, to_sparse_ids


def _layer(dropout: float = 0.2, bits: int = 4, size: int = 3) -> SparseSumEmbedding:
    layer = SparseSumEmbedding(bits, size, dropout=dropout)
    layer.build(tf.TensorShape([None, None]))
    return layer


def test_initial_output_is_one_over_size_in_every_unit_including_empty_rows() -> None:
    layer = SparseSumEmbedding(18, 50, dropout=0.2)
    ids = sparse_ids([[5, 262143, 5], [], [7]])
    out = layer(ids, training=False).numpy()
    assert out.shape == (3, 50)
    np.testing.assert_allclose(out, 0.02, rtol=1e-6)
    assert layer.embeddings.shape == (2**18, 50) and not layer.embeddings.numpy().any()
    # Training: zero table, so dropping ids changes nothing; only the /(1 - 0.2) rescale remains.
    np.testing.assert_allclose(layer(ids, training=True).numpy(), 0.02 / 0.8, rtol=1e-6)


def test_rows_are_summed_once_per_occurrence_then_biased_and_leaky_relu() -> None:
    layer = _layer(dropout=0.0)
    table = np.zeros((16, 3), np.float32)
    table[1] = [1.0, -2.0, 0.5]
    table[3] = [0.25, 0.25, -1.0]
    table[15] = [-1.0, 0.0, 0.0]
    layer.embeddings.assign(table)
    layer.bias.assign([0.1, 0.1, 0.1])
    out = layer(sparse_ids([[1, 1, 3], [], [15]]), training=False).numpy()
    pre = np.array([2 * table[1] + table[3], np.zeros(3), table[15]]) + 0.1
    np.testing.assert_allclose(out, np.where(pre > 0, pre, 0.3 * pre), rtol=1e-6)


def test_trailing_empty_rows_keep_the_batch_size() -> None:
    out = _layer()(sparse_ids([[2], [], []]), training=False)
    assert out.shape == (3, 3)


def test_training_rescales_after_the_activation() -> None:
    layer = _layer(dropout=0.2)
    layer.bias.assign([-0.1, 0.1, 0.0])
    out = layer(sparse_ids([[], [4]]), training=True).numpy()
    # LeakyReLU(-0.1) / 0.8, not LeakyReLU(-0.1 / 0.8) nor an inverted dropout on the ids.
    np.testing.assert_allclose(out, [[-0.03 / 0.8, 0.1 / 0.8, 0.0]] * 2, rtol=1e-6)


def test_dropout_is_off_at_inference_and_on_in_training() -> None:
    layer = _layer(dropout=0.5, bits=8, size=4)
    layer.embeddings.assign(tf.random.uniform([256, 4], 0.1, 1.0))
    ids = sparse_ids([list(range(0, 200, 3)), list(range(1, 256, 5))])
    np.testing.assert_array_equal(layer(ids, training=False).numpy(), layer(ids, training=False).numpy())
    first, second = layer(ids, training=True).numpy(), layer(ids, training=True).numpy()
    assert not np.allclose(first, second)
    assert not np.allclose(first, layer(ids, training=False).numpy() / 0.5)


def test_drop_sparse_entries_keeps_each_entry_with_probability_one_minus_rate() -> None:
    ids = sparse_ids([list(range(1000))] * 20)
    kept = drop_sparse_entries(ids, 0.2, seed=3)
    fraction = kept.values.shape[0] / 20000
    assert 0.78 < fraction < 0.82
    assert kept.dense_shape.numpy().tolist() == ids.dense_shape.numpy().tolist()
    assert drop_sparse_entries(ids, 0.0).values.shape[0] == 20000


def test_embedding_gradient_is_sparse() -> None:
    layer = _layer(dropout=0.0, bits=10)
    ids = sparse_ids([[3, 7], [7]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(ids, training=True))
    gradient = tape.gradient(loss, layer.embeddings)
    assert isinstance(gradient, tf.IndexedSlices)
    assert sorted(gradient.indices.numpy().tolist()) == [3, 7, 7]


def test_ragged_ids_give_the_same_output_as_sparse_ids() -> None:
    layer = _layer(dropout=0.0)
    layer.embeddings.assign(tf.random.normal([16, 3]))
    rows = [[1, 2, 2], [], [9]]
    ragged = tf.ragged.constant(rows, dtype=tf.int64)
    np.testing.assert_allclose(
        layer(ragged, training=False).numpy(), layer(sparse_ids(rows), training=False).numpy(), rtol=1e-6
    )


def test_to_sparse_ids_rejects_dense_tensors() -> None:
    with pytest.raises(TypeError, match=r"tf\.SparseTensor or tf\.RaggedTensor"):
        to_sparse_ids(tf.constant([[1, 2]], tf.int64))  # type: ignore[arg-type]


def test_sparse_config_round_trip() -> None:
    clone = SparseSumEmbedding.from_config(SparseSumEmbedding(10, 7, dropout=0.3).get_config())
    assert (clone.input_size_bits, clone.embedding_size, clone.dropout) == (10, 7, 0.3)
