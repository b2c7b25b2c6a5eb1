"""The light ranker's training loss (docs/model.md, Loss).

Sigmoid cross entropy on logits for all three tasks (soft targets for
HeavyRankProbability make it a distillation loss). With `use_record_weight` each
record is weighted by `w' = clip(1 / (1 + meta.weight + smooth_weight), min, 1)`
(meta.weight is the heavy ranker's rank position, so top candidates count most) and
the loss is the weighted mean `sum(BCE * w') / sum(w')`; otherwise it is the plain
mean. Metrics use the raw `meta.weight`, never `w'`, as the original's did.
"""

from __future__ import annotations

import tensorflow as tf

from lightrank.models.deepnorm.config import DeepNormConfig


def record_weights(meta_weight: tf.Tensor, config: DeepNormConfig) -> tf.Tensor:
    """`clip(1 / (1 + meta_weight + smooth_weight), min_record_weight, 1)`, element-wise, float32.

    Args:
        meta_weight: Raw `meta.weight` per record, any shape.
        config: Supplies `smooth_weight` and `min_record_weight`.

    Returns:
        The loss weights, same shape as `meta_weight`.
    """
    w = tf.cast(meta_weight, tf.float32)
    return tf.clip_by_value(1.0 / (1.0 + w + config.smooth_weight), config.min_record_weight, 1.0)


def per_example_loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Sigmoid cross entropy of `[B, 1]` (or `[B]`) labels against logits of the same shape."""
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(labels, tf.float32), logits=logits)


def deepnorm_loss(
    labels: tf.Tensor, logits: tf.Tensor, meta_weight: tf.Tensor | None, config: DeepNormConfig
) -> tf.Tensor:
    """Scalar training loss: record-weighted mean BCE if `use_record_weight`, else mean BCE.

    Args:
        labels: `[B, 1]` targets in [0, 1].
        logits: `[B, 1]` model output.
        meta_weight: `[B, 1]` raw `meta.weight`; required when `use_record_weight` is set.
        config: Supplies the record-weight switch and constants.

    Returns:
        float32 scalar. A batch whose weights all clip to 0 gives NaN, as the original did;
        the training loop's NaN guard reports it.

    Raises:
        ValueError: If record weighting is on and `meta_weight` is None.
    """
    losses = per_example_loss(labels, logits)
    if not config.use_record_weight:
        return tf.reduce_mean(losses)
    if meta_weight is None:
        raise ValueError("use_record_weight=True needs meta_weight, got None")
    weights = tf.reshape(record_weights(meta_weight, config), tf.shape(losses))
    return tf.reduce_sum(losses * weights) / tf.reduce_sum(weights)
