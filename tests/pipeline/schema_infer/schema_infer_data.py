"""A tiny catalog of candidates for the `lightrank schema infer` tests: every kind of feature it infers."""

from __future__ import annotations

import math
import os
from collections.abc import Callable

#: Requests and candidates per request: 400 examples, quick to read, enough for every statistic.
REQUESTS, CANDIDATES = 50, 8
COUNTRIES = (b"US", b"JP", b"IN", b"GB", b"BR")
TAGS = tuple(f"tag{i}".encode() for i in range(12))


def example(request: int, rank: int) -> dict[str, list]:
    """One candidate's features by name, every value derived from its position (deterministic)."""
    index = request * CANDIDATES + rank
    features: dict[str, list] = {
        "query_id": [1000 + request],
        "clicked": [float(rank < 2 and request % 3 != 0)],
        "relevance": [round(1.0 / (1 + rank), 3)],
        "ref_rank": [rank],
        "ref_score": [round(0.9 - 0.1 * rank, 3)],
        "item_tags": [TAGS[(index + k) % len(TAGS)] for k in range(index % 6)],  # 0-5 values, 0 as []
        "viewer_country": [COUNTRIES[request % len(COUNTRIES)]],
        "item_id": [10_000_019 * index % 2**40 + 1],
        "ts": [1_700_000_000 + 60 * index],
        "item_age_hours": [float(index % 97) / 4],
    }
    if index % 4 != 0:  # absent from exactly a quarter of the examples
        features["item_ctr"] = [math.sin(index) ** 2]
    return features


def write_records(path: str, examples: list[dict[str, list]] | list[bytes]) -> str:
    """Writes examples (feature dicts, or raw records) to a TFRecord file, gzipped if `path` ends in .gz."""
    import tensorflow as tf

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path, options="GZIP" if path.endswith(".gz") else None) as writer:
        for item in examples:
            writer.write(item if isinstance(item, bytes) else serialize(item))
    return path


def serialize(features: dict[str, list]) -> bytes:
    """A tf.train.Example of `features`: floats, ints and bytes by the type of the first value."""
    import tensorflow as tf

    example_proto = tf.train.Example()
    for name, values in features.items():
        feature = example_proto.features.feature[name]
        kind = type(values[0]) if values else bytes
        target = {float: feature.float_list, int: feature.int64_list, bytes: feature.bytes_list}[kind]
        target.SetInParent()  # present even with no value: an empty list, not an absent key
        target.value.extend(values)
    return example_proto.SerializeToString()


def write_catalog(
    directory: str, files: int = 2, change: Callable[[dict[str, list]], dict[str, list]] | None = None
) -> str:
    """The catalog as `files` gzipped TFRecord files in `directory`; returns `directory`."""
    shards: list[list[dict[str, list]]] = [[] for _ in range(files)]
    for request in range(REQUESTS):
        for rank in range(CANDIDATES):
            features = example(request, rank)
            shards[request % files].append(change(features) if change else features)
    for shard, examples in enumerate(shards):
        write_records(os.path.join(directory, f"part-{shard}.tfrecord.gz"), examples)
    return directory
