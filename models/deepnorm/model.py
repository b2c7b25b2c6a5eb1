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
hashed bucket ids; a `RaggedTensor` is accepted too. With `sparse_bags: per_feature` also
`sparse_slots`, each id's feature index, with the same indices (`input_keys` says which).

Layer names are stable (warm starts match variables by `<layer>/<variable>`). The dense
branch is not a scope of its own but these top-level layers: `filter_non_finite`,
`missing_split` (missing sub-branch only), `zscore`, `adaptive_transformation`,
`dense_dropout`, `continuous_embedding`, `missing_embedding` and `dense_embedding` (missing
sub-branch only); then `sparse_embedding`, `merge`, `merge_batch_norm`, `mlp_1..n`, `logit`.
With `sparse_bags: per_feature` the sparse layer is `sparse_bags` instead of
`sparse_embedding`; with `pairwise: fm` the MLP's last layer is `mlp_logit`, `pairwise` is the
FM term and `logit` their sum; with `id_bias`, likewise, `id_bias` is one more term of that sum
(docs/model.md, Ids). The original's graph is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from lightrank.models.deepnorm.attention import SelfAttentionDense
from lightrank.models.deepnorm.bags import FeatureBagEmbedding, IdBias, PairwiseInteraction
from lightrank.models.deepnorm.config import DeepNormConfig
from lightrank.models.deepnorm.groupwise import AdaptiveTransformation
from lightrank.models.deepnorm.normalization import (
    FilterNonFinite,
    SignedLog1p,
    ZscoreNormalization,
    renorm_batch_normalization,
)
from lightrank.models.deepnorm.sparse import SparseSumEmbedding
from lightrank.models.features import CONTINUOUS, SPARSE_IDS, SPARSE_SLOTS, match_sides

LOGIT = "logit"
#: The feature spec's user-side and candidate-side sparse feature names.
FeatureSides = tuple[Sequence[str], Sequence[str]]
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
    if config.continuous_log:
        x = SignedLog1p(config.missing_value, name="continuous_log")(x)
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


def input_keys(config: DeepNormConfig) -> tuple[str, ...]:
    """The Transform outputs a light ranker with these settings reads."""
    if config.sparse_bags == "per_feature":
        return (CONTINUOUS, SPARSE_IDS, SPARSE_SLOTS)
    return (CONTINUOUS, SPARSE_IDS)


def fm_sides(
    config: DeepNormConfig, sparse_features: Sequence[str], spec_sides: FeatureSides = ((), ())
) -> tuple[list[int], list[int]]:
    """Indices of the user-side and candidate-side features of the FM term; both empty: all pairs.

    The config's regexes (`fm_user_features`, `fm_candidate_features`) win; without them the
    feature spec's `sides` (`spec_sides`, resolved names) apply unless `fm_all_pairs`; else all pairs.

    Raises:
        ValueError: If a side's regex matches none of `sparse_features`, or both match one feature.
    """
    if config.fm_user_features is None or config.fm_candidate_features is None:
        if config.fm_all_pairs or not (spec_sides[0] and spec_sides[1]):
            return [], []
        index = {name: i for i, name in enumerate(sparse_features)}
        return [index[name] for name in spec_sides[0]], [index[name] for name in spec_sides[1]]
    patterns = (config.fm_user_features, config.fm_candidate_features)
    labels = (f"fm_user_features={patterns[0]!r}", f"fm_candidate_features={patterns[1]!r}")
    user, candidate = match_sides(patterns, sparse_features, labels)
    index = {name: i for i, name in enumerate(sparse_features)}
    return [index[name] for name in user], [index[name] for name in candidate]


def _sparse_branch(
    inputs: dict[str, tf.Tensor],
    config: DeepNormConfig,
    sparse_features: Sequence[str],
    spec_sides: FeatureSides,
) -> tuple[tf.Tensor, tf.Tensor | None]:
    """The sparse embedding for the merge and, with `pairwise: fm`, the FM term `[B, 1]`."""
    if config.sparse_bags == "one":
        layer = SparseSumEmbedding(
            config.input_size_bits,
            config.sparse_embedding_size,
            dropout=config.dropout,
            name="sparse_embedding",
        )
        return layer(inputs[SPARSE_IDS]), None
    if not sparse_features:
        raise ValueError("sparse_bags 'per_feature' needs the sparse feature names (none given)")
    bags, raw = FeatureBagEmbedding(
        config.input_size_bits,
        len(sparse_features),
        config.sparse_embedding_size,
        dropout=config.dropout,
        pairwise_size=config.fm_embedding_size if config.pairwise == "fm" else 0,
        name="sparse_bags",
    )([inputs[SPARSE_IDS], inputs[SPARSE_SLOTS]])
    if config.pairwise == "none":
        return bags, None
    user, candidate = fm_sides(config, sparse_features, spec_sides)
    return bags, PairwiseInteraction(user, candidate, name="pairwise")(raw)


def deepnorm_light_ranker(
    config: DeepNormConfig,
    num_continuous: int,
    sparse_features: Sequence[str] = (),
    spec_sides: FeatureSides = ((), ()),
) -> tf.keras.Model:
    """Builds the light ranker; its output is the logit `[B, 1]`.

    Train mode (`training=True`) updates the z-score and BN statistics and applies both
    dropouts; inference uses the stored statistics (docs/model.md, DeepNorm). Use `with_prediction` for
    the probability.

    Args:
        config: Architecture hyper-parameters.
        num_continuous: G, the width of the `continuous` input (>= 1).
        sparse_features: The sparse feature names in `sparse_slots` order (`ResolvedFeatures.sparse`);
            only `sparse_bags: per_feature` reads them.
        spec_sides: The feature spec's user-side and candidate-side sparse features
            (`ResolvedFeatures.user_sparse`, `candidate_sparse`): the FM term's sides unless the
            config names its own; both empty: all pairs.

    Returns:
        An uncompiled functional model taking `input_keys(config)`.

    Raises:
        ValueError: If `num_continuous` < 1, or per-feature bags get no feature names.
    """
    if not isinstance(num_continuous, int) or num_continuous < 1:
        raise ValueError(f"num_continuous={num_continuous!r} is invalid: expected an int >= 1")
    inputs = {CONTINUOUS: tf.keras.Input(shape=(num_continuous,), dtype=tf.float32, name=CONTINUOUS)}
    for key in input_keys(config)[1:]:
        inputs[key] = tf.keras.Input(shape=(None,), dtype=tf.int64, sparse=True, name=key)

    dense_embedding = _dense_branch(inputs[CONTINUOUS], config)
    sparse_embedding, pairwise = _sparse_branch(inputs, config, sparse_features, spec_sides)
    h = tf.keras.layers.Concatenate(name="merge")([dense_embedding, sparse_embedding])
    h = renorm_batch_normalization(config.momentum, name="merge_batch_norm")(h)
    for layer, units in enumerate(config.mlp_widths, start=1):
        h = SelfAttentionDense(units, name=f"mlp_{layer}")(h)
    terms = [] if pairwise is None else [pairwise]
    if config.id_bias:
        terms.append(IdBias(config.input_size_bits, name="id_bias")(inputs[SPARSE_IDS]))
    if not terms:
        logit = SelfAttentionDense(1, activation="linear", name=LOGIT)(h)
    else:
        h = SelfAttentionDense(1, activation="linear", name="mlp_logit")(h)
        logit = tf.keras.layers.Add(name=LOGIT)([h, *terms])
    return tf.keras.Model(inputs=inputs, outputs=logit, name="deepnorm_light_ranker")


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
