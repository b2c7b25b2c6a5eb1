"""The Transform step: raw candidates -> the tensors the light ranker reads.

It produces the layout of the original model's inputs (spec 1.2 and 1.8), driven
entirely by the resolved feature spec passed in `custom_config`; no feature name
appears here:

- `continuous`: float32 `[G]`, one column per continuous feature in
  `continuous_feature_list.json` order. An absent value, and a NaN (which the
  original's decoder dropped), becomes the spec's missing marker -1.23456789.
  Infinities pass through: the model filters them (spec 2.3.1).
- `continuous_scaled`: float32 `[G]`, for linear models only: a sign-preserving
  log1p of each present value, z-scored with statistics over present values
  computed by `tft` analyzers, clipped to [-5, 5]; 0 where missing.
- `sparse_ids`: int64 var-len, every INT/BYTES feature value hashed as the token
  `"<feature>=<value>"` into `2**input_size_bits` buckets (spec 1.3's
  recommendation; values are binary, duplicates are kept and summed later).
- the request key, example weight, heavy score and labels, passed through with
  their raw names (float32; the key stays int64, never cast to float).
- `<feature>_bucket`: int64 bucket index of each numeric feature the feature spec
  lists under `slice_buckets` (-1 when absent or NaN), for slicing the evaluation.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from models.features import ResolvedFeatures, slice_bucket_feature

CONTINUOUS = "continuous"
CONTINUOUS_SCALED = "continuous_scaled"
SPARSE_IDS = "sparse_ids"
#: z-scored values are clipped to this many standard deviations.
SCALED_CLIP = 5.0


def _dense_scalar(tensor: tf.Tensor | tf.SparseTensor, default: float | None = None) -> tf.Tensor:
    """A `[B]` tensor from a scalar feature that may be absent in some rows.

    Absent rows get `default` (numeric features) or the dtype's zero (`0`, `""`).
    """
    if isinstance(tensor, tf.SparseTensor):
        batch = tensor.dense_shape[0]
        fill = tf.zeros([], tensor.dtype) if default is None else tf.cast(default, tensor.dtype)
        tensor = tf.sparse.to_dense(
            tf.sparse.SparseTensor(tensor.indices, tensor.values, tf.stack([batch, 1])), default_value=fill
        )
    return tf.reshape(tensor, [-1])


def _continuous(inputs: dict[str, Any], features: ResolvedFeatures) -> tf.Tensor:
    """Stacks the continuous features into `[B, G]` with the missing marker."""
    marker = tf.constant(features.missing_value, tf.float32)
    columns = []
    for name in features.continuous:
        column = tf.cast(_dense_scalar(inputs[name], features.missing_value), tf.float32)
        columns.append(tf.where(tf.math.is_nan(column), marker, column))
    return tf.stack(columns, axis=1)


def _scaled(continuous: tf.Tensor, missing_value: float) -> tf.Tensor:
    """Log-compressed, z-scored copy of `continuous` for linear models."""
    present = tf.math.is_finite(continuous) & tf.not_equal(continuous, tf.constant(missing_value, tf.float32))
    compressed = tf.sign(continuous) * tf.math.log1p(tf.abs(continuous))
    values = tf.where(present, compressed, tf.zeros_like(compressed))
    weights = tf.cast(present, tf.float32)
    count = tf.maximum(tft.sum(weights, reduce_instance_dims=False), 1.0)
    mean = tft.sum(values, reduce_instance_dims=False) / count
    variance = tft.sum(tf.square(values), reduce_instance_dims=False) / count - tf.square(mean)
    std = tf.sqrt(tf.maximum(variance, 1e-12))
    scaled = tf.clip_by_value((values - mean) / std, -SCALED_CLIP, SCALED_CLIP)
    return tf.where(present, scaled, tf.zeros_like(scaled))


def _hashed_tokens(name: str, tensor: tf.Tensor | tf.SparseTensor, num_buckets: int) -> tf.RaggedTensor:
    """`[B, None]` bucket ids of one sparse feature's `name=value` tokens."""
    if isinstance(tensor, tf.SparseTensor):
        ragged = tf.RaggedTensor.from_sparse(tensor)
    else:
        ragged = tf.RaggedTensor.from_tensor(tf.reshape(tensor, [tf.shape(tensor)[0], -1]))
    values = ragged.flat_values
    text = values if values.dtype == tf.string else tf.strings.as_string(values)
    ids = tf.strings.to_hash_bucket_fast(tf.strings.join([f"{name}=", text]), num_buckets)
    return ragged.with_flat_values(ids)


def sparse_ids(inputs: dict[str, Any], features: ResolvedFeatures, input_size_bits: int) -> tf.SparseTensor:
    """All sparse features of a row hashed into one var-len list of bucket ids."""
    num_buckets = 2**input_size_bits
    per_feature = [_hashed_tokens(name, inputs[name], num_buckets) for name in features.sparse]
    return tf.concat(per_feature, axis=1).to_sparse()


def _slice_bucket(tensor: tf.Tensor | tf.SparseTensor, boundaries: tuple[float, ...]) -> tf.Tensor:
    """Index of the bucket a value falls in (values equal to a boundary go right); -1 if absent."""
    if isinstance(tensor, tf.SparseTensor):  # cast first: NaN marks "absent" also for INT features
        tensor = tf.SparseTensor(tensor.indices, tf.cast(tensor.values, tf.float32), tensor.dense_shape)
    values = _dense_scalar(tf.cast(tensor, tf.float32), float("nan"))
    index = tf.searchsorted(tf.constant(boundaries, tf.float32), values, side="right", out_type=tf.int64)
    return tf.where(tf.math.is_nan(values), tf.constant(-1, tf.int64), index)


def preprocessing_fn(inputs: dict[str, Any], custom_config: dict[str, Any]) -> dict[str, Any]:
    """The TFX Transform entry point (referenced by dotted path in the pipeline).

    Args:
        inputs: Raw features parsed with the curated schema.
        custom_config: `{"features": ResolvedFeatures.to_dict(), "input_size_bits": int}`.

    Returns:
        The transformed features described in the module docstring.
    """
    features = ResolvedFeatures.from_dict(custom_config["features"])
    outputs: dict[str, Any] = {}
    if features.continuous:
        continuous = _continuous(inputs, features)
        outputs[CONTINUOUS] = continuous
        outputs[CONTINUOUS_SCALED] = _scaled(continuous, features.missing_value)
    if features.sparse:
        outputs[SPARSE_IDS] = sparse_ids(inputs, features, int(custom_config["input_size_bits"]))
    for name, boundaries in features.slice_buckets.items():
        outputs[slice_bucket_feature(name)] = _slice_bucket(inputs[name], boundaries)
    for name in features.passthrough:
        if name not in inputs:
            continue
        if name == features.request_key:
            outputs[name] = _dense_scalar(inputs[name])
        elif name == features.example_weight:
            # The original's builder default for a record without a weight (spec 1.2).
            outputs[name] = tf.cast(_dense_scalar(inputs[name], 1.0), tf.float32)
        else:
            outputs[name] = tf.cast(_dense_scalar(inputs[name], 0.0), tf.float32)
    return outputs
