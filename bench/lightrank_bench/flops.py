"""Floating-point operations per candidate of a light-ranker Keras model, from its weight shapes.

The cost of one candidate is what the hardware ceiling is measured against (`docs/performance.md`): a
matrix-multiply GFLOP/s figure divided by this count is the most candidates per second
the model could score. What is counted:

- every `tf.keras.layers.Dense` (the plain dense layers and the gate and projection of
  each `SelfAttentionDense`): `2 * in * out` (one multiply and one add per kernel entry);
- every `FastGroupWiseTrans` (the per-feature adaptive transformation): `2 * G * in * out`
  for its `[1, G, in, out]` kernel;
- every `SparseSumEmbedding`: `2 * S * ids_per_row` (reading and adding one S-wide row per
  hashed id), with `ids_per_row` the mean number of ids a candidate carries; the same for the
  per-feature bags (`FeatureBagEmbedding`, one S-wide row per id too), and `2 * ids_per_row`
  for the first-order term (`IdBias`, one weight per id);
- the FM term (`PairwiseInteraction`) over F bags of S: `2 * F * S` (summing each side's bags,
  then one S-wide dot product; the all-pairs form's squares cost the same order).

Not counted, because they are linear in the layer widths and small next to the matmuls:
biases, activations, the sigmoid gates' element-wise products, normalisations, the missing
marker split and the prediction head. The count is therefore a slight under-estimate, which
makes the "fraction of the ceiling" ratio a slight over-estimate.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from lightrank.models.deepnorm.bags import FeatureBagEmbedding, IdBias, PairwiseInteraction
from lightrank.models.deepnorm.groupwise import FastGroupWiseTrans
from lightrank.models.deepnorm.sparse import SparseSumEmbedding


@dataclasses.dataclass(frozen=True)
class FlopCount:
    """FLOPs per candidate, by kind of work.

    Attributes:
        dense: Dense matmuls (including the self-attention gates and projections).
        groupwise: Per-feature matmuls of the adaptive transformation.
        sparse: Sparse sum-embedding reads and adds at the given ids per row, and the FM term.
    """

    dense: int
    groupwise: int
    sparse: float

    @property
    def total(self) -> float:
        """All counted FLOPs per candidate."""
        return self.dense + self.groupwise + self.sparse


def count_flops(model: tf.keras.Model, ids_per_row: float) -> FlopCount:
    """Counts the FLOPs one candidate costs in `model` (see the module docstring for what counts).

    Args:
        model: A built Keras model (e.g. `deepnorm_light_ranker` or the logistic baseline).
        ids_per_row: Mean hashed sparse ids per candidate.

    Returns:
        The count by kind of work.

    Raises:
        ValueError: If `ids_per_row` is negative or the model has unbuilt layers.
    """
    if ids_per_row < 0:
        raise ValueError(f"ids_per_row={ids_per_row!r} is invalid: expected a number >= 0")
    dense = groupwise = 0
    sparse = 0.0
    # `submodules` walks nested layers (a SelfAttentionDense's two Dense layers) exactly once each.
    for layer in (model, *model.submodules):
        if isinstance(layer, tf.keras.layers.Dense):
            units_in, units_out = _built_shape(layer, layer.kernel if layer.built else None)
            dense += 2 * units_in * units_out
        elif isinstance(layer, FastGroupWiseTrans):
            _, groups, units_in, units_out = _built_shape(layer, getattr(layer, "kernel", None))
            groupwise += 2 * groups * units_in * units_out
        elif isinstance(layer, (SparseSumEmbedding, FeatureBagEmbedding)):
            _, width = _built_shape(layer, getattr(layer, "embeddings", None))
            sparse += 2.0 * width * ids_per_row
        elif isinstance(layer, IdBias):
            _built_shape(layer, getattr(layer, "weights_table", None))
            sparse += 2.0 * ids_per_row
        elif isinstance(layer, PairwiseInteraction):
            bags = next(b for b in model.submodules if isinstance(b, FeatureBagEmbedding))
            sparse += 2.0 * bags.num_features * (bags.pairwise_size or bags.embedding_size)
    return FlopCount(dense=dense, groupwise=groupwise, sparse=sparse)


def _built_shape(layer: tf.Module, weight: tf.Variable | None) -> tuple[int, ...]:
    """The static shape of a layer's weight; an unbuilt layer has none to count."""
    if weight is None:
        raise ValueError(f"layer {layer.name!r} is not built: call the model once before counting FLOPs")
    return tuple(int(dim) for dim in weight.shape)
