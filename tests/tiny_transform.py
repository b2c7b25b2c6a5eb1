"""Tiny Transform graphs and tf.Examples for tests that need a real exported model.

Builds what TFX's Transform component would write (transform_fn, transformed
metadata and the raw metadata serving parses with) from a handful of rows, with
the project's own `preprocessing_fn`, through tft_beam.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import metadata_io

from lightrank.models.features import SPARSE_IDS, SPARSE_SLOTS, ResolvedFeatures
from lightrank.models.preprocessing import preprocessing_fn

#: The raw feature spec of the tiny candidates the export and run_fn tests write: user and
#: candidate features (one of them BYTES, one an INT id), request key, weight, heavy score, label.
RAW_SPEC = {
    "u.age": tf.io.VarLenFeature(tf.float32),
    "u.opens": tf.io.VarLenFeature(tf.float32),
    "c.likes": tf.io.VarLenFeature(tf.float32),
    "c.source": tf.io.VarLenFeature(tf.string),
    "u.id": tf.io.VarLenFeature(tf.int64),
    "meta.key": tf.io.FixedLenFeature([], tf.int64),
    "meta.weight": tf.io.FixedLenFeature([], tf.float32),
    "meta.score": tf.io.FixedLenFeature([], tf.float32),
    "label.top3": tf.io.FixedLenFeature([], tf.int64),
}

#: The tiny candidates' features as the feature spec resolves them (tests vary the continuous
#: list, the hashing width or the slice buckets with `dataclasses.replace`).
TINY_FEATURES = ResolvedFeatures(
    continuous=("u.age", "u.opens", "c.likes"),
    sparse=("c.source", "u.id"),
    int_sparse=("u.id",),
    request_key="meta.key",
    example_weight="meta.weight",
    heavy_score="meta.score",
    labels={"HeavyRankPosition": "label.top3"},
    missing_value=-1.23456789,
)


def serialize_example(row: dict[str, object], *, with_labels: bool = True) -> bytes:
    """A tf.Example of a row (lists or scalars; empty lists are absent features)."""
    feature = {}
    for name, value in row.items():
        if not with_labels and name.startswith(("meta.", "label.")):
            continue
        values = value if isinstance(value, list) else [value]
        if not values:
            continue
        if isinstance(values[0], bytes):
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        elif isinstance(values[0], float):
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
        else:
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_transform_graph(
    rows: list[dict[str, object]],
    raw_spec: dict[str, object],
    features: ResolvedFeatures,
    input_size_bits: int,
    graph_dir: str,
) -> tft.TFTransformOutput:
    """Analyzes `rows` with `preprocessing_fn` and writes the graph as TFX's Transform does."""

    def fn(inputs: dict[str, object]) -> dict[str, object]:
        return preprocessing_fn(inputs, {"features": features.to_dict(), "input_size_bits": input_size_bits})

    metadata = tft.DatasetMetadata.from_feature_spec(raw_spec)
    with tempfile.TemporaryDirectory() as tmp, tft_beam.Context(temp_dir=tmp, force_tf_compat_v1=False):
        transform_fn = (rows, metadata) | tft_beam.AnalyzeDataset(fn)
        _ = transform_fn | tft_beam.WriteTransformFn(graph_dir)
    # TFX's Transform also writes the raw metadata; serving parses with it.
    metadata_io.write_metadata(metadata, os.path.join(graph_dir, "metadata"))
    return tft.TFTransformOutput(graph_dir)


def transformed_records(
    rows: list[dict[str, object]], raw_spec: dict[str, object], transform_output: tft.TFTransformOutput
) -> list[bytes]:
    """The rows' transformed examples, serialized as the Transform component writes them.

    Each feature of the transformed feature spec becomes a float or int64 list; `sparse_ids`
    and `sparse_slots` keep only the row's own ids and slots.
    """
    raw = tf.io.parse_example(tf.constant([serialize_example(row) for row in rows]), raw_spec)
    transformed = {**raw, **transform_output.transform_raw_features(raw)}
    dense = {name: tf.sparse.to_dense(value) if isinstance(value, tf.SparseTensor) else value
             for name, value in transformed.items()}  # fmt: skip
    lengths = tf.math.bincount(tf.cast(transformed[SPARSE_IDS].indices[:, 0], tf.int32), minlength=len(rows))
    records = []
    for i in range(len(rows)):
        feature = {}
        for name, spec in transform_output.transformed_feature_spec().items():
            values = np.reshape(dense[name][i].numpy(), [-1])
            if name in (SPARSE_IDS, SPARSE_SLOTS):
                values = values[: int(lengths[i])]
            if spec.dtype.is_floating:
                feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values.astype(float)))
            else:
                feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values.astype(int)))
        records.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return records


def tiny_row(rng: np.random.Generator, i: int) -> dict[str, object]:
    """A tiny candidate of `RAW_SPEC`: request `i // 20`, some features absent, a learnable label.

    Candidates with more than 20 likes are positive half the time, the others a tenth.
    """
    likes = float(rng.poisson(20))
    return {
        "u.age": [float(rng.gamma(2.0, 100.0))],
        "u.opens": [float(rng.poisson(3))] if i % 3 else [],
        "c.likes": [likes] if i % 4 else [],
        "c.source": [rng.choice([b"in", b"oon", b"topic"])],
        "u.id": [int(rng.integers(1, 40))],
        "meta.key": i // 20,
        "meta.weight": float(i % 20),
        "meta.score": float(rng.uniform()),
        "label.top3": int(rng.uniform() < (0.5 if likes > 20 else 0.1)),
    }


def write_gz(path: str, records: list[bytes]) -> None:
    """Writes `records` as one gzipped TFRecord file, as Transform writes a split's part."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for record in records:
            writer.write(record)
