"""The DeepNorm light ranker as a Keras functional model (docs/model.md, DeepNorm).

Design: `deepnorm_light_ranker` returns a model whose single output is the **logit**
`[B, 1]` (output name "logit"), because the loss is computed from logits (numerically
stabler than cross entropy on probabilities). Serving wants the probability, so
`with_prediction(model)` wraps the *same* layers (shared variables, no copy) in a
second model returning `{"logit": [B, 1], "prediction": [B, 1]}` with
`prediction = clip(sigmoid(logit), 0, 1)` as the original's PREDICT output; export that
one. `PredictionHead` is the sigmoid-and-clip layer on its own.

Inputs (the Transform contract): `continuous` float32 `[B, G]` (missing marker
-1.23456789, NaN/Inf tolerated) and `sparse_ids` int64 `SparseTensor [B, None]` of
hashed bucket ids; a `RaggedTensor` is accepted too.

Layer names are stable (warm starts match variables by `<layer>/<variable>`). The dense
branch is not a scope of its own but these top-level layers: `filter_non_finite`,
`missing_split` (missing sub-branch only), `zscore`, `adaptive_transformation`,
`dense_dropout`, `continuous_embedding`, `missing_embedding` and `dense_embedding` (missing
sub-branch only); then `sparse_embedding`, `merge`, `merge_batch_norm`, `mlp_1..n`, `logit`.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from lightrank.models.deepnorm.attention import SelfAttentionDense
from lightrank.models.deepnorm.config import DeepNormConfig
from lightrank.models.deepnorm.groupwise import AdaptiveTransformation
from lightrank.models.deepnorm.normalization import (
    FilterNonFinite,
    ZscoreNormalization,
    renorm_batch_normalization,
)
from lightrank.models.deepnorm.sparse import SparseSumEmbedding
from lightrank.models.features import CONTINUOUS, SPARSE_IDS

LOGIT = "logit"
PREDICTION = "prediction"


@tf.keras.utils.register_keras_serializable(package="lightrank")
class MissingMarkerSplit(tf.keras.layers.Layer):
    """Splits continuous values at the missing marker (missing sub-branch; docs/model.md, Missing values).

    Returns `(filled, present, missing)`: the values with the marker replaced by 0, the bool
    presence mask for the z-score, and the float32 missing indicator for the missing embedding.
    The comparison is in float32, as the marker is stored in float32.

    Args:
        missing_value: The marker.
    """

    def __init__(self, missing_value: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.missing_value = float(missing_value)

    def call(self, inputs: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Splits `[B, G]` into filled values, presence mask and missing indicator."""
        is_missing = tf.equal(inputs, tf.constant(self.missing_value, dtype=inputs.dtype))
        filled = tf.where(is_missing, tf.zeros_like(inputs), inputs)
        return filled, tf.logical_not(is_missing), tf.cast(is_missing, inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        """Keras serialisation."""
        return {**super().get_config(), "missing_value": self.missing_value}


@tf.keras.utils.register_keras_serializable(package="lightrank")
class PredictionHead(tf.keras.layers.Layer):
    """`clip(sigmoid(logit), 0, 1)`: the original's PREDICT output (the clip is a no-op)."""

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        """Maps logits to probabilities."""
        return tf.clip_by_value(tf.sigmoid(inputs), 0.0, 1.0)


def _dense_branch(continuous: tf.Tensor, config: DeepNormConfig) -> tf.Tensor:
    """Continuous features -> `[B, E]` (or `[B, 2E]` with the missing sub-branch)."""
    x = FilterNonFinite(name="filter_non_finite")(continuous)
    zscore = ZscoreNormalization(decay=config.momentum, name="zscore")
    missing_embedding = None
    if config.use_missing_sub_branch:
        filled, present, missing = MissingMarkerSplit(config.missing_value, name="missing_split")(x)
        z = zscore(filled, presence=present)
        missing_embedding = SelfAttentionDense(config.dense_embedding_size, name="missing_embedding")(missing)
    else:
        z = zscore(x)
    z = AdaptiveTransformation(
        config.adaptive_transform, bn_momentum=config.adaptive_bn_momentum, name="adaptive_transformation"
    )(z)
    z = tf.keras.layers.Dropout(config.dropout, name="dense_dropout")(z)
    embedding = SelfAttentionDense(config.dense_embedding_size, name="continuous_embedding")(z)
    if missing_embedding is None:
        return embedding
    return tf.keras.layers.Concatenate(name="dense_embedding")([embedding, missing_embedding])


def deepnorm_light_ranker(config: DeepNormConfig, num_continuous: int) -> tf.keras.Model:
    """Builds the light ranker; its output is the logit `[B, 1]`.

    Train mode (`training=True`) updates the z-score and BN statistics and applies both
    dropouts; inference uses the stored statistics (docs/model.md, DeepNorm). Use `with_prediction` for
    the probability.

    Args:
        config: Architecture hyper-parameters.
        num_continuous: G, the width of the `continuous` input (>= 1).

    Returns:
        An uncompiled functional model taking `{"continuous", "sparse_ids"}`.

    Raises:
        ValueError: If `num_continuous` < 1.
    """
    if not isinstance(num_continuous, int) or num_continuous < 1:
        raise ValueError(f"num_continuous={num_continuous!r} is invalid: expected an int >= 1")
    continuous = tf.keras.Input(shape=(num_continuous,), dtype=tf.float32, name=CONTINUOUS)
    sparse_ids = tf.keras.Input(shape=(None,), dtype=tf.int64, sparse=True, name=SPARSE_IDS)

    dense_embedding = _dense_branch(continuous, config)
    sparse_embedding = SparseSumEmbedding(
        config.input_size_bits, config.sparse_embedding_size, dropout=config.dropout, name="sparse_embedding"
    )(sparse_ids)
    h = tf.keras.layers.Concatenate(name="merge")([dense_embedding, sparse_embedding])
    h = renorm_batch_normalization(config.momentum, name="merge_batch_norm")(h)
    for layer, units in enumerate(config.mlp_widths, start=1):
        h = SelfAttentionDense(units, name=f"mlp_{layer}")(h)
    logit = SelfAttentionDense(1, activation="linear", name=LOGIT)(h)
    return tf.keras.Model(
        inputs={CONTINUOUS: continuous, SPARSE_IDS: sparse_ids}, outputs=logit, name="deepnorm_light_ranker"
    )


def with_prediction(model: tf.keras.Model) -> tf.keras.Model:
    """Wraps a logit model into one returning `{"logit", "prediction"}`, sharing its variables.

    Args:
        model: A model from `deepnorm_light_ranker` (or any model with a `[B, 1]` logit output).

    Returns:
        A functional model with the same inputs; `prediction = clip(sigmoid(logit), 0, 1)`.
    """
    logit = model.outputs[0]
    prediction = PredictionHead(name=PREDICTION)(logit)
    return tf.keras.Model(
        inputs=model.input,
        outputs={LOGIT: logit, PREDICTION: prediction},
        name=f"{model.name}_with_prediction",
    )
