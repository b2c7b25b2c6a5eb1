"""Exporting a trained ranker as a TF-Serving-ready SavedModel.

Signatures:
- `serving_default`: serialized raw `tf.Example` candidates (labels and `meta.*`
  not needed) -> `{"prediction": float32 [B, 1]}`. This is what the Evaluator,
  `lightrank eval` and TF Serving call; with `model.calibration: platt` the prediction is
  `sigmoid(a * logit + b)`, Platt's a and b fitted after training and recorded in
  `model_settings.json` (`lightrank.models.calibration`). Serving sees the same features as training
  (no skew): a model reading only `continuous` and `sparse_ids` gets them from
  `preprocessing.model_inputs`, the same function `preprocessing_fn` computes them
  with (it has no analyzers), on a parse that makes absent continuous values the
  marker directly, cheaper than the `tft` layer's per-feature densifying (measured
  in docs/performance.md); any other model (the logistic baseline reads
  `continuous_scaled`) runs the Transform graph.
- `transform_features`: serialized raw candidates -> the transformed features,
  for debugging and inspection.
- `slice_features`: serialized raw candidates -> only the slice buckets of the
  feature spec (`<feature>_bucket`), which the Evaluator slices on; it parses
  just the bucketed features, so slicing costs almost nothing.
- `serving_transformed`: the already-transformed tensors `continuous` `[B, G]`
  and `sparse_ids` (as `ids` + `row_lengths`) -> `{"prediction"}`, for callers
  that hold Transform output or featurise themselves; ids outside
  `[0, 2**input_size_bits)` are rejected with an InvalidArgument naming the limit.
- `serving_features`: serialized raw candidates -> exactly `serving_transformed`'s
  inputs, computed as `serving_default` computes them; `serving_features` then
  `serving_transformed` is `serving_default` in two steps (for another runtime,
  e.g. ONNX Runtime, behind the same featurisation).

Next to the SavedModel the export writes `continuous_feature_list.json` (the
column order of `continuous`; docs/model.md, Export), `model_settings.json` (kind, task,
hyper-parameters: what a warm start rebuilds), and `keras/` (the Keras weights
checkpoint a warm start loads). Inside it, `assets.extra/lightrank_model.json`
(`MODEL_ASSET`, TF Serving ignores `assets.extra/`) holds what evaluating the model needs
besides data: the resolved features, the task, its label and the raw types of the
non-input columns, so `lightrank eval` works on a model without the config that trained it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from lightrank.models.deepnorm.signatures import per_feature_signatures
from lightrank.models.features import (
    CONTINUOUS,
    SERVING_IDS,
    SERVING_ROW_LENGTHS,
    SPARSE_IDS,
    SPARSE_SLOTS,
    ResolvedFeatures,
    slice_bucket_feature,
)
from lightrank.models.preprocessing import model_inputs, serving_parse_spec

FEATURE_LIST_FILE = "continuous_feature_list.json"
SETTINGS_FILE = "model_settings.json"
KERAS_WEIGHTS_DIR = "keras"
PREDICTION = "prediction"
#: The signature from raw candidates to the slice-bucket features (TFMA slices on its outputs).
SLICE_SIGNATURE = "slice_features"
#: The signature from raw candidates to `serving_transformed`'s inputs: serving's own featurisation.
FEATURES_SIGNATURE = "serving_features"
#: The evaluation contract inside the SavedModel (`ModelAsset`), relative to its directory.
MODEL_ASSET = os.path.join("assets.extra", "lightrank_model.json")
_MODEL_ASSET_VERSION = 1


@dataclasses.dataclass(frozen=True)
class ModelAsset:
    """What evaluating an exported model needs besides the data (`MODEL_ASSET`).

    Attributes:
        features: The features the model was trained with (request key, weight, heavy score,
            labels: what the metrics read).
        task: The task the model learned; `label_key` is its label.
        column_types: The raw dtype name (`int64`, `float32`, `string`) of every non-input
            column (`features.passthrough`), which reading the data needs without a schema.
    """

    features: ResolvedFeatures
    task: str
    column_types: Mapping[str, str]

    @property
    def label_key(self) -> str:
        """The raw label feature of the model's task."""
        return self.features.label_key(self.task)

    def to_dict(self) -> dict[str, Any]:
        """The asset's JSON form; `label_key` is written out for readers other than this code."""
        return {
            "version": _MODEL_ASSET_VERSION,
            "task": self.task,
            "label_key": self.label_key,
            "features": self.features.to_dict(),
            "column_types": dict(self.column_types),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelAsset:
        """Inverse of `to_dict`.

        Raises:
            ValueError: A newer version, or a missing or malformed field.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"malformed (a {type(data).__name__}, not a mapping)")
        if data.get("version") != _MODEL_ASSET_VERSION:
            raise ValueError(f"version {data.get('version')!r}, this code reads {_MODEL_ASSET_VERSION}")
        try:
            asset = cls(
                features=ResolvedFeatures.from_dict(data["features"]),
                task=str(data["task"]),
                column_types={str(name): str(dtype) for name, dtype in data["column_types"].items()},
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"malformed ({type(error).__name__}: {error})") from error
        if asset.task not in asset.features.labels:
            raise ValueError(f"task {asset.task!r} has no label among {sorted(asset.features.labels)}")
        return asset


def write_model_asset(export_dir: str, asset: ModelAsset) -> None:
    """Writes `asset` to `<export_dir>/assets.extra/lightrank_model.json` (local or remote)."""
    path = os.path.join(export_dir, MODEL_ASSET)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(json.dumps(asset.to_dict(), indent=1, sort_keys=True))


def read_model_asset(model_dir: str) -> ModelAsset | None:
    """The `ModelAsset` of an exported model; None for a model exported before it existed.

    Raises:
        ValueError: The asset exists but does not read (names the file).
    """
    path = os.path.join(model_dir, MODEL_ASSET)
    if not tf.io.gfile.exists(path):
        return None
    try:
        with tf.io.gfile.GFile(path) as f:
            return ModelAsset.from_dict(json.loads(f.read()))
    except ValueError as error:  # json.JSONDecodeError is one
        raise ValueError(f"{path} does not read as a lightrank model asset: {error}") from error


def _serving_feature_spec(
    transform_output: tft.TFTransformOutput, features: ResolvedFeatures
) -> dict[str, Any]:
    """The raw feature spec restricted to model inputs: what a serving request must carry."""
    raw = transform_output.raw_feature_spec()
    return {name: raw[name] for name in (*features.continuous, *features.sparse)}


def _probability(logit: tf.Tensor, calibration: tuple[float, float] | None = None) -> tf.Tensor:
    """`clip(sigmoid(logit))`, or with Platt's `(a, b)` `clip(sigmoid(a * logit + b))`.

    The calibration is applied here, inside the serving graph, rather than folded into the
    Keras model: the Evaluator, the Pusher and serving see the calibrated prediction, while
    the `keras/` weights a warm start loads stay those of the logit model as trained.
    """
    if calibration is not None:
        a, b = calibration
        logit = tf.constant(a, tf.float32) * logit + tf.constant(b, tf.float32)
    return tf.clip_by_value(tf.sigmoid(logit), 0.0, 1.0)


def _checked_ids(ids: tf.Tensor, input_size_bits: int) -> tf.Tensor:
    """`ids`, after checking they are hashed bucket ids in `[0, 2**input_size_bits)`.

    `serving_transformed` takes ids from its caller; an id outside the table would otherwise
    fail deep inside the embedding's `tf.gather` with an error naming neither the input nor the
    limit. `serving_default` hashes its ids itself, in range by construction, and skips this.

    Raises:
        tf.errors.InvalidArgumentError: At run time, naming the limit and the offending values.
    """
    limit = 2**input_size_bits
    message = f"serving_transformed: ids must lie in [0, 2**input_size_bits) = [0, {limit})"
    checks = [
        tf.debugging.assert_greater_equal(ids, tf.constant(0, tf.int64), message=message),
        tf.debugging.assert_less(ids, tf.constant(limit, tf.int64), message=message),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(ids)


def export_serving_model(
    model: tf.keras.Model,
    transform_output: tft.TFTransformOutput,
    features: ResolvedFeatures,
    input_keys: tuple[str, ...],
    export_dir: str,
    settings: dict[str, Any],
    calibration: tuple[float, float] | None = None,
) -> None:
    """Saves `model` (a logit model) with its Transform graph and metadata files.

    Args:
        model: The trained Keras model taking `input_keys` and returning a logit.
        transform_output: The Transform graph to embed.
        features: The resolved feature spec (serving inputs, column order).
        input_keys: The transformed features the model reads.
        export_dir: `fn_args.serving_model_dir`.
        settings: JSON-safe description of the model (kind, task, hyper-parameters); its
            task also goes into the `MODEL_ASSET` with `features`.
        calibration: Platt's `(a, b)`: every `prediction` output becomes
            `sigmoid(a * logit + b)` (`lightrank.models.calibration`); None serves `sigmoid(logit)`.
            The caller records it in `settings`.
    """
    # Weights first: the Transform layer attached below is not part of the architecture.
    model.save_weights(os.path.join(export_dir, KERAS_WEIGHTS_DIR, "weights"))
    model.tft_layer = transform_output.transform_features_layer()
    serving_spec = _serving_feature_spec(transform_output, features)
    raw_spec = transform_output.raw_feature_spec()

    input_size_bits = int(settings["deepnorm"]["input_size_bits"])
    if set(input_keys) <= {CONTINUOUS, SPARSE_IDS, SPARSE_SLOTS}:
        # The model reads only the analyzer-free Transform outputs: compute them with the very
        # functions preprocessing_fn uses, from a parse that yields dense continuous columns.
        request_spec = serving_parse_spec(raw_spec, features)

        def featurize(serialized: tf.Tensor) -> dict[str, Any]:
            return model_inputs(tf.io.parse_example(serialized, request_spec), features, input_size_bits)
    else:  # e.g. `continuous_scaled`, which needs the analyzers' statistics: the Transform graph

        def featurize(serialized: tf.Tensor) -> dict[str, Any]:
            return model.tft_layer(tf.io.parse_example(serialized, serving_spec))

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        transformed = featurize(serialized)
        logit = model({key: transformed[key] for key in input_keys}, training=False)
        return {PREDICTION: _probability(logit, calibration)}

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def transform_features(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        transformed = model.tft_layer(tf.io.parse_example(serialized, raw_spec))
        return {key: (tf.sparse.to_dense(value) if isinstance(value, tf.SparseTensor) else value)
                for key, value in transformed.items()}  # fmt: skip

    signatures = {"serving_default": serve, "transform_features": transform_features}
    if features.slice_buckets:
        slice_spec = {name: raw_spec[name] for name in features.slice_buckets}
        slice_keys = [slice_bucket_feature(name) for name in features.slice_buckets]

        @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
        def slice_features(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
            transformed = model.tft_layer(tf.io.parse_example(serialized, slice_spec))
            return {key: transformed[key] for key in slice_keys}

        signatures[SLICE_SIGNATURE] = slice_features
    if set(input_keys) == {CONTINUOUS, SPARSE_IDS}:

        @tf.function(
            input_signature=[
                tf.TensorSpec(shape=[None, len(features.continuous)], dtype=tf.float32, name=CONTINUOUS),
                tf.TensorSpec(shape=[None], dtype=tf.int64, name=SERVING_IDS),
                tf.TensorSpec(shape=[None], dtype=tf.int64, name=SERVING_ROW_LENGTHS),
            ]
        )
        def serve_transformed(
            continuous: tf.Tensor, ids: tf.Tensor, row_lengths: tf.Tensor
        ) -> dict[str, tf.Tensor]:
            ids = _checked_ids(ids, input_size_bits)
            sparse = tf.RaggedTensor.from_row_lengths(ids, row_lengths).to_sparse()
            return {
                PREDICTION: _probability(
                    model({CONTINUOUS: continuous, SPARSE_IDS: sparse}, training=False), calibration
                )
            }

        signatures["serving_transformed"] = serve_transformed

        @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
        def serving_features(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
            transformed = featurize(serialized)
            ragged = tf.RaggedTensor.from_sparse(transformed[SPARSE_IDS])
            return {CONTINUOUS: transformed[CONTINUOUS], SERVING_IDS: ragged.flat_values,
                    SERVING_ROW_LENGTHS: ragged.row_lengths()}  # fmt: skip

        signatures[FEATURES_SIGNATURE] = serving_features
    elif set(input_keys) == {CONTINUOUS, SPARSE_IDS, SPARSE_SLOTS}:  # one bag per feature: ids carry slots
        signatures.update(per_feature_signatures(
            model, len(features.continuous), len(features.sparse), featurize,
            lambda ids: _checked_ids(ids, input_size_bits), lambda logit: _probability(logit, calibration),
        ))  # fmt: skip

    tf.saved_model.save(model, export_dir, signatures=signatures)
    column_types = {name: raw_spec[name].dtype.name for name in features.passthrough}
    write_model_asset(export_dir, ModelAsset(features, str(settings["task"]), column_types))
    with open(os.path.join(export_dir, FEATURE_LIST_FILE), "w") as f:
        json.dump(list(features.continuous), f, indent=1)
    with open(os.path.join(export_dir, SETTINGS_FILE), "w") as f:
        json.dump(settings, f, indent=1, sort_keys=True)


def load_settings(model_dir: str) -> tuple[dict[str, Any], list[str]]:
    """The settings and continuous feature list an exported model carries."""
    with open(os.path.join(model_dir, SETTINGS_FILE)) as f:
        settings = json.load(f)
    with open(os.path.join(model_dir, FEATURE_LIST_FILE)) as f:
        feature_list = json.load(f)
    return settings, feature_list
