"""Batches of transformed candidates for training and evaluation.

Reads the Transform output (gzipped TFRecords of transformed tf.Examples) and
yields `(features, label [B, 1], meta_weight [B, 1])`, the contract of
`lightrank.models.training.loop.train`, so DeepNorm and the baseline train on exactly
the same batches.

It parses with `tf.io.parse_example` on batches of serialized records rather than
through TFX's `data_accessor.tf_dataset_factory` (tfxio): measured on the sample
data, DeepNorm at batch 256 trained at 38k examples/s this way against 14.7k/s
through tfxio, whose Arrow round trip dominates for such small records.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_transform as tft

#: Candidates held for shuffling: several requests' worth, so batches mix requests.
SHUFFLE_BUFFER = 20_000


def _matching_files(file_patterns: Sequence[str]) -> list[str]:
    """The files the patterns match, sorted; a ValueError naming the patterns when none do."""
    files = sorted({path for pattern in file_patterns for path in tf.io.gfile.glob(pattern)})
    if not files:
        raise ValueError(f"no transformed examples match {list(file_patterns)}")
    return files


def count_candidates(file_patterns: Sequence[str]) -> int:
    """How many candidates (records) the transformed split holds: one read, nothing parsed.

    Raises:
        ValueError: If the patterns match no file.
    """
    records = tf.data.TFRecordDataset(_matching_files(file_patterns), compression_type="GZIP")
    return int(records.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1).numpy())


def make_dataset(
    file_patterns: Sequence[str],
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
        file_patterns: The transformed split's file patterns (`fn_args.train_files`).
        transform_output: The Transform graph, whose feature spec describes the files.
        input_keys: The model's input features, e.g. `continuous`, `sparse_ids`.
        label_key: The task's label (a passthrough column of the Transform output).
        weight_key: The raw `meta.weight` column.
        batch_size: Candidates per batch.
        repeat: Cycle through the files forever (the step budget ends training).
        shuffle: Shuffle files and candidates (training) or keep file order (evaluation).
        seed: Shuffle seed, for reproducible runs.

    Returns:
        A prefetched `tf.data.Dataset`.

    Raises:
        ValueError: If the patterns match no file.
    """
    files = _matching_files(file_patterns)
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed)
    dataset = dataset.interleave(
        lambda path: tf.data.TFRecordDataset(path, compression_type="GZIP"),
        cycle_length=min(len(files), 4),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if shuffle:
        dataset = dataset.shuffle(SHUFFLE_BUFFER, seed=seed)
    if repeat:
        dataset = dataset.repeat()
    feature_spec = transform_output.transformed_feature_spec()
    keys = tuple(input_keys)

    def parse(serialized: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor, tf.Tensor]:
        batch = tf.io.parse_example(serialized, feature_spec)
        features = {key: batch[key] for key in keys}
        label = tf.reshape(tf.cast(batch[label_key], tf.float32), [-1, 1])
        weight = tf.reshape(tf.cast(batch[weight_key], tf.float32), [-1, 1])
        return features, label, weight

    dataset = dataset.batch(batch_size).map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)
