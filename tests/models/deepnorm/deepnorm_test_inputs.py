"""Input builders shared by the DeepNorm light ranker tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf


def sparse_ids(rows: Sequence[Sequence[int]]) -> tf.SparseTensor:
    """A `[B, None]` int64 SparseTensor as a VarLenFeature parser would produce it."""
    return tf.ragged.constant([list(r) for r in rows], dtype=tf.int64, row_splits_dtype=tf.int64).to_sparse()


def features(continuous: np.ndarray, rows: Sequence[Sequence[int]]) -> dict[str, tf.Tensor]:
    """The model's input dict from a continuous matrix and per-row id lists."""
    return {
        "continuous": tf.constant(np.asarray(continuous, dtype=np.float32)),
        "sparse_ids": sparse_ids(rows),
    }
