"""`serving_transformed` and `serving_features` for light rankers with one bag per sparse feature.

The export (`lightrank.models.export`) gives a model that reads `continuous` and `sparse_ids`
two signatures over already-transformed tensors: ids flat with their row lengths, so a caller
or another runtime (ONNX Runtime) can featurise once and score elsewhere. A model with
`sparse_bags: per_feature` also reads each id's feature (`sparse_slots`), so here both
signatures carry a `slots` tensor parallel to `ids`; everything else is the same contract.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from lightrank.models.features import (
    CONTINUOUS,
    SERVING_IDS,
    SERVING_ROW_LENGTHS,
    SERVING_SLOTS,
    SPARSE_IDS,
    SPARSE_SLOTS,
)

PREDICTION = "prediction"


def _checked_slots(slots: tf.Tensor, num_features: int) -> tf.Tensor:
    """`slots`, after checking they index a sparse feature (`[0, F)`), with an error naming the limit."""
    message = f"serving_transformed: slots must lie in [0, {num_features}), one per sparse feature"
    checks = [
        tf.debugging.assert_greater_equal(slots, tf.constant(0, tf.int64), message=message),
        tf.debugging.assert_less(slots, tf.constant(num_features, tf.int64), message=message),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(slots)


def per_feature_signatures(
    model: tf.keras.Model,
    num_continuous: int,
    num_sparse: int,
    featurize: Callable[[tf.Tensor], dict[str, Any]],
    check_ids: Callable[[tf.Tensor], tf.Tensor],
    probability: Callable[[tf.Tensor], tf.Tensor],
) -> dict[str, Any]:
    """The two transformed-tensor signatures of a model reading `sparse_slots`.

    Args:
        model: The logit model, taking `continuous`, `sparse_ids` and `sparse_slots`.
        num_continuous: G, the width of `continuous`.
        num_sparse: F, the number of sparse features (slots lie in `[0, F)`).
        featurize: Serialized candidates -> the model's inputs, as `serving_default` computes them.
        check_ids: Checks caller-given ids lie in the hashed table (the export's own check).
        probability: Logit -> the served prediction (calibrated or not, as `serving_default`).

    Returns:
        `{"serving_transformed": ..., "serving_features": ...}`.
    """

    @tf.function(
        input_signature=[
            tf.TensorSpec(shape=[None, num_continuous], dtype=tf.float32, name=CONTINUOUS),
            tf.TensorSpec(shape=[None], dtype=tf.int64, name=SERVING_IDS),
            tf.TensorSpec(shape=[None], dtype=tf.int64, name=SERVING_SLOTS),
            tf.TensorSpec(shape=[None], dtype=tf.int64, name=SERVING_ROW_LENGTHS),
        ]
    )
    def serving_transformed(
        continuous: tf.Tensor, ids: tf.Tensor, slots: tf.Tensor, row_lengths: tf.Tensor
    ) -> dict[str, tf.Tensor]:
        ids = tf.RaggedTensor.from_row_lengths(check_ids(ids), row_lengths).to_sparse()
        slots = tf.RaggedTensor.from_row_lengths(_checked_slots(slots, num_sparse), row_lengths).to_sparse()
        logit = model({CONTINUOUS: continuous, SPARSE_IDS: ids, SPARSE_SLOTS: slots}, training=False)
        return {PREDICTION: probability(logit)}

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serving_features(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        transformed = featurize(serialized)
        ids = tf.RaggedTensor.from_sparse(transformed[SPARSE_IDS])
        return {
            CONTINUOUS: transformed[CONTINUOUS],
            SERVING_IDS: ids.flat_values,
            SERVING_SLOTS: transformed[SPARSE_SLOTS].values,
            SERVING_ROW_LENGTHS: ids.row_lengths(),
        }

    return {"serving_transformed": serving_transformed, "serving_features": serving_features}
