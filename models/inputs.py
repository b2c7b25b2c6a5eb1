"""Batches of transformed candidates for training and evaluation.

Reads the Transform output (TFRecords of transformed tf.Examples) through TFX's
data accessor and yields `(features, label [B, 1], meta_weight [B, 1])`, the
contract of `models.deepnorm.training.train`, so DeepNorm and the baseline train
on exactly the same batches.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.public import tfxio


def make_dataset(
    file_pattern: Sequence[str],
    data_accessor: object,
    transform_output: tft.TFTransformOutput,
    *,
    input_keys: Sequence[str],
    label_key: str,
    weight_key: str,
    batch_size: int,
    repeat: bool,
    shuffle: bool,
    seed: int | None = None,
) -> tf.data.Dataset:
    """A dataset of `(features, label, meta_weight)` batches.

    Args:
        file_pattern: The transformed split's files (`fn_args.train_files`).
        data_accessor: `fn_args.data_accessor`.
        transform_output: The Transform graph, whose schema describes the files.
        input_keys: The model's input features, e.g. `continuous`, `sparse_ids`.
        label_key: The task's label (a passthrough column of the Transform output).
        weight_key: The raw `meta.weight` column.
        batch_size: Candidates per batch.
        repeat: Cycle through the files forever (the step budget ends training).
        shuffle: Shuffle candidates (training) or keep file order (evaluation).
        seed: Shuffle seed, for reproducible runs.

    Returns:
        A prefetched `tf.data.Dataset`.
    """
    options = tfxio.TensorFlowDatasetOptions(
        batch_size=batch_size,
        shuffle=shuffle,
        shuffle_seed=seed,
        num_epochs=None if repeat else 1,
        drop_final_batch=False,
    )
    dataset = data_accessor.tf_dataset_factory(
        list(file_pattern), options, transform_output.transformed_metadata.schema
    )
    keys = tuple(input_keys)

    def split(batch: dict[str, tf.Tensor]) -> tuple[dict[str, tf.Tensor], tf.Tensor, tf.Tensor]:
        features = {key: batch[key] for key in keys}
        label = tf.reshape(tf.cast(batch[label_key], tf.float32), [-1, 1])
        weight = tf.reshape(tf.cast(batch[weight_key], tf.float32), [-1, 1])
        return features, label, weight

    return dataset.map(split, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
