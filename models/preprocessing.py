"""The Transform step: raw candidates -> the tensors the light ranker reads.

It produces the layout of the original model's inputs (docs/model.md, Inputs and hashing),
driven entirely by the resolved feature spec passed in `custom_config`; no feature name
appears here:

- `continuous`: float32 `[G]`, one column per continuous feature in
  `continuous_feature_list.json` order. An absent value, and a NaN (which the
  original's decoder dropped), becomes the original's missing marker -1.23456789.
  Infinities pass through: the model zeroes them (docs/model.md, Normalization).
- `continuous_scaled`: float32 `[G]`, for linear models only: a sign-preserving
  log1p of each present value, z-scored with statistics over present values
  computed by `tft` analyzers, clipped to [-5, 5]; 0 where missing.
- `sparse_ids`: int64 var-len, every INT/BYTES feature value hashed with its
  feature's salt into `2**input_size_bits` buckets (`lightrank.models.hashing`; values
  are binary, duplicates are kept and summed later).
- `sparse_slots`: int64 var-len, parallel to `sparse_ids` (same indices): the index in
  `features.sparse` of the feature each id came from, for models with one bag per feature.
- the request key, example weight, heavy score and labels, passed through with
  their raw names (float32; the key stays int64, never cast to float).
- `<feature>_bucket`: int64 bucket index of each numeric feature the feature spec
  lists under `slice_buckets` (-1 when absent or NaN), for slicing the evaluation.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from lightrank.models.features import (
    CONTINUOUS,
    CONTINUOUS_SCALED,
    SPARSE_IDS,
    SPARSE_SLOTS,
    ResolvedFeatures,
    slice_bucket_feature,
)
from lightrank.models.hashing import bucket_ids, feature_salt, string_fingerprint

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
    """Stacks the continuous features into `[B, G]` with the missing marker.

    Serving parses FLOAT continuous features as dense scalars with the marker as default
    (`serving_parse_spec`), so there each column is a reshape; the Transform's var-len inputs
    are densified first. A NaN becomes the marker; infinities pass through (the model zeroes them).
    """
    marker = tf.constant(features.missing_value, tf.float32)
    # Cast before densifying, so an INT feature's absent value is the marker too, not int(marker).
    columns = [_dense_scalar(tf.cast(inputs[name], tf.float32), features.missing_value)
               for name in features.continuous]  # fmt: skip
    stacked = tf.stack(columns, axis=1)
    return tf.where(tf.math.is_nan(stacked), marker, stacked)


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


def _values_and_rows(tensor: tf.Tensor | tf.SparseTensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The values of a sparse feature in row-major order and the row each belongs to."""
    if isinstance(tensor, tf.SparseTensor):
        return tensor.values, tensor.indices[:, 0]
    matrix = tf.reshape(tensor, [tf.shape(tensor, out_type=tf.int64)[0], -1])
    rows = tf.repeat(tf.range(tf.shape(matrix, out_type=tf.int64)[0]), tf.shape(matrix, out_type=tf.int64)[1])
    return tf.reshape(matrix, [-1]), rows


def sparse_ids(inputs: dict[str, Any], features: ResolvedFeatures, input_size_bits: int) -> tf.SparseTensor:
    """All sparse features of a row hashed into one var-len list of bucket ids (`lightrank.models.hashing`).

    Within a row the ids come feature by feature in `features.sparse` order, each feature's
    values in their own order.
    """
    return sparse_ids_and_slots(inputs, features, input_size_bits)[0]


def sparse_ids_and_slots(
    inputs: dict[str, Any], features: ResolvedFeatures, input_size_bits: int
) -> tuple[tf.SparseTensor, tf.SparseTensor]:
    """`sparse_ids` and, with the same indices, the index in `features.sparse` of each id's feature.

    All values of all features are hashed in one vectorised pass (one fingerprint op for the
    BYTES values, integer mixing for all), because per-feature string work dominated a serving
    request's cost; the slots are a by-product of the same sort.
    """
    num_features = len(features.sparse)
    batch = tf.constant(0, tf.int64)
    fingerprints, integers = [], []  # (values, rows, feature index) per feature
    for index, name in enumerate(features.sparse):
        values, rows = _values_and_rows(inputs[name])
        batch = tf.maximum(batch, _batch_size(inputs[name]))
        group = fingerprints if values.dtype == tf.string else integers
        group.append((values, rows, tf.fill(tf.shape(rows), tf.constant(index, tf.int64))))
    parts = []
    if fingerprints:
        parts.append(string_fingerprint(tf.concat([values for values, _, _ in fingerprints], 0)))
    if integers:
        parts.append(tf.concat([tf.cast(values, tf.int64) for values, _, _ in integers], 0))
    ordered = fingerprints + integers
    values = tf.concat(parts, 0)
    rows = tf.concat([rows for _, rows, _ in ordered], 0)
    feature_index = tf.concat([index for _, _, index in ordered], 0)
    salts = tf.constant([feature_salt(name) for name in features.sparse], tf.int64)
    ids = bucket_ids(values, tf.gather(salts, feature_index), input_size_bits)
    # Row-major, then feature order; the stable sort keeps each feature's value order.
    order = tf.argsort(rows * num_features + feature_index, stable=True)
    sorted_rows = tf.gather(rows, order)
    ids = tf.RaggedTensor.from_value_rowids(tf.gather(ids, order), sorted_rows, nrows=batch).to_sparse()
    return ids, tf.SparseTensor(ids.indices, tf.gather(feature_index, order), ids.dense_shape)


def _batch_size(tensor: tf.Tensor | tf.SparseTensor) -> tf.Tensor:
    if isinstance(tensor, tf.SparseTensor):
        return tensor.dense_shape[0]
    return tf.shape(tensor, out_type=tf.int64)[0]


def model_inputs(inputs: dict[str, Any], features: ResolvedFeatures, input_size_bits: int) -> dict[str, Any]:
    """`continuous`, `sparse_ids` and `sparse_slots` from raw features: the Transform without analyzers.

    `preprocessing_fn` computes them with this function and the exported `serving_default`
    calls it directly on the request (no `tft` layer), so training and serving run the same
    code; `continuous_scaled` needs analyzers and stays in the Transform graph.
    """
    outputs: dict[str, Any] = {}
    if features.continuous:
        outputs[CONTINUOUS] = _continuous(inputs, features)
    if features.sparse:
        outputs[SPARSE_IDS], outputs[SPARSE_SLOTS] = sparse_ids_and_slots(inputs, features, input_size_bits)
    return outputs


def serving_parse_spec(raw_spec: dict[str, Any], features: ResolvedFeatures) -> dict[str, Any]:
    """The parse spec of a serving request: the model inputs only, FLOAT continuous as dense scalars.

    `tf.io.FixedLenFeature([], tf.float32, default_value=<marker>)` makes an absent value the
    missing marker inside the parser, so `_continuous` is a stack instead of a densification
    per feature (a request carries one value or none per continuous feature: the schema says
    so and the parser rejects a second value). Sparse features stay var-len.
    """
    spec = {}
    for name in (*features.continuous, *features.sparse):
        feature = raw_spec[name]
        if name in features.continuous and getattr(feature, "dtype", None) == tf.float32:
            feature = tf.io.FixedLenFeature([], tf.float32, default_value=features.missing_value)
        spec[name] = feature
    return spec


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
    outputs = model_inputs(inputs, features, int(custom_config["input_size_bits"]))
    if features.continuous:
        outputs[CONTINUOUS_SCALED] = _scaled(outputs[CONTINUOUS], features.missing_value)
    for name, boundaries in features.slice_buckets.items():
        outputs[slice_bucket_feature(name)] = _slice_bucket(inputs[name], boundaries)
    for name in features.passthrough:
        if name not in inputs:
            continue
        if name == features.request_key:
            outputs[name] = _dense_scalar(inputs[name])
        elif name == features.example_weight:
            # The weight assumed for a record without one, as in the original (docs/model.md, Data contract).
            outputs[name] = tf.cast(_dense_scalar(inputs[name], 1.0), tf.float32)
        else:
            outputs[name] = tf.cast(_dense_scalar(inputs[name], 0.0), tf.float32)
    return outputs
