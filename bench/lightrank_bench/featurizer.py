"""Serialized candidates -> `serving_transformed`'s inputs, as the exported model featurises them.

The comparators' end-to-end rows hand LightGBM and ONNX Runtime the tensors our model's network
reads, featurised from the serialized request the way the export serves it, so they pay what
our model pays before its network runs. A current export has a `serving_features` signature:
`serving_default`'s own parse and featurisation, as `serving_transformed`'s inputs. An export
older than that signature falls back to `tf.io.parse_example` with the raw spec and the export's
Transform layer (`tft_layer`, the graph the model was trained on): the same tensors, at a cost
that can exceed `serving_default`'s own featurisation. `Featurizer.source` says which one runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from lightrank_bench.errors import BenchInputError

if TYPE_CHECKING:  # TensorFlow loads only when a benchmark runs, not when the CLI starts.
    import tensorflow as tf

#: `Featurizer.source`: the export's featurisation signature (`lightrank.models.export.FEATURES_SIGNATURE`).
SERVING_FEATURES = "serving_features"
#: `Featurizer.source`: the fallback through the export's Transform layer.
TFT_LAYER = "tft_layer"


@dataclasses.dataclass(frozen=True)
class Featurizer:
    """One export's featurisation of serialized candidates (keep the loaded SavedModel alive).

    Attributes:
        source: `SERVING_FEATURES` or `TFT_LAYER`.
        featurize: `[B]` serialized -> `(continuous [B, G] float32, ids [N] int64, row_lengths [B] int64)`,
            and `slots [N] int64` after them for a model with one bag per sparse feature.
        continuous_only: `[B]` serialized -> `continuous` alone (LightGBM's features); it fetches
            nothing else, so TensorFlow can prune what only the sparse ids need.
        names: `serving_transformed`'s input name of each tensor `featurize` returns, in order.
    """

    source: str
    featurize: Callable[[tf.Tensor], tuple[tf.Tensor, ...]]
    continuous_only: Callable[[tf.Tensor], tf.Tensor]
    names: tuple[str, ...] = ()


def _reads_slots(loaded: Any) -> bool:
    """Whether the export's `serving_transformed` takes `slots` (one bag per sparse feature)."""
    from lightrank.models.features import SERVING_SLOTS

    signature = loaded.signatures.get("serving_transformed")
    return signature is not None and SERVING_SLOTS in signature.structured_input_signature[1]


def _transform_layer_inputs(loaded: Any) -> tuple[Any, dict[str, Any]]:
    """The export's Transform layer and a parse spec it accepts for label-less requests.

    A restored Keras layer accepts only the input structures it was traced with: the serving
    features or the whole raw spec. The raw spec (types, defaults) is read back from
    `transform_features`, which parses with all of it (`serving_spec.serving_feature_spec`),
    then restricted to the smallest traced structure's keys. Requests carry no labels and
    `meta.*` features, so a required dense feature gets a zero default (no traced type changes).
    """
    import tensorflow as tf

    from lightrank_bench.serving_spec import serving_feature_spec

    transform = getattr(loaded, "tft_layer", None)
    if transform is None or "transform_features" not in loaded.signatures:
        raise BenchInputError(
            "the model has no Transform layer (tft_layer) or transform_features: export it with lightrank"
        )
    spec = serving_feature_spec(loaded.signatures["transform_features"])
    try:
        traced = [f.structured_input_signature[0][0] for f in transform.__call__.concrete_functions]
    except (AttributeError, IndexError, TypeError):
        traced = []
    keys = [set(structure) for structure in traced if isinstance(structure, dict)]
    if keys and min(keys, key=len) <= set(spec):
        spec = {name: spec[name] for name in spec if name in min(keys, key=len)}
    for name, feature in spec.items():
        if isinstance(feature, tf.io.FixedLenFeature) and feature.default_value is None:
            zeros = np.zeros(feature.shape, feature.dtype.as_numpy_dtype)
            spec[name] = tf.io.FixedLenFeature(feature.shape, feature.dtype, default_value=zeros)
    return transform, spec


def featurizer(loaded: Any, source: str | None = None) -> Featurizer:
    """The featurisation of the export `loaded` (`tf.saved_model.load` of a lightrank export).

    Args:
        loaded: The loaded SavedModel; the functions use its resources, so keep it alive.
        source: `SERVING_FEATURES`, `TFT_LAYER`, or None: `serving_features` if the export has it.

    Raises:
        BenchInputError: If the export lacks what `source` needs (not a lightrank export, or
            `serving_features` asked of an export that predates it).
        ValueError: If `source` is not one of the two.
    """
    import tensorflow as tf

    from lightrank.models.features import (
        CONTINUOUS,
        SERVING_IDS,
        SERVING_ROW_LENGTHS,
        SERVING_SLOTS,
        SPARSE_IDS,
        SPARSE_SLOTS,
    )

    slots = _reads_slots(loaded)
    names = (CONTINUOUS, SERVING_IDS, SERVING_ROW_LENGTHS, *((SERVING_SLOTS,) if slots else ()))
    source = source or (SERVING_FEATURES if SERVING_FEATURES in loaded.signatures else TFT_LAYER)
    if source == SERVING_FEATURES:
        if SERVING_FEATURES not in loaded.signatures:
            raise BenchInputError("the model has no serving_features signature: re-export it with lightrank")
        signature = loaded.signatures[SERVING_FEATURES]

        def featurize(serialized: tf.Tensor) -> tuple[tf.Tensor, ...]:
            features = signature(examples=serialized)
            return tuple(features[name] for name in names)

        def continuous(serialized: tf.Tensor) -> tf.Tensor:
            return signature(examples=serialized)[CONTINUOUS]
    elif source == TFT_LAYER:
        transform, spec = _transform_layer_inputs(loaded)

        def featurize(serialized: tf.Tensor) -> tuple[tf.Tensor, ...]:
            transformed = transform(tf.io.parse_example(serialized, spec))
            sparse, batch = transformed[SPARSE_IDS], tf.size(serialized)
            rows = tf.cast(sparse.indices[:, 0], tf.int32)
            row_lengths = tf.math.bincount(rows, minlength=batch, maxlength=batch, dtype=tf.int64)
            tensors = (transformed[CONTINUOUS], sparse.values, row_lengths)
            return (*tensors, transformed[SPARSE_SLOTS].values) if slots else tensors

        def continuous(serialized: tf.Tensor) -> tf.Tensor:
            return transform(tf.io.parse_example(serialized, spec))[CONTINUOUS]
    else:
        raise ValueError(f"unknown featurisation {source!r}; expected {SERVING_FEATURES!r} or {TFT_LAYER!r}")
    serialized_spec = [tf.TensorSpec([None], tf.string)]
    return Featurizer(
        source,
        tf.function(featurize, input_signature=serialized_spec),
        tf.function(continuous, input_signature=serialized_spec),
        names,
    )
