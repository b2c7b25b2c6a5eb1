"""Reads generated sample data back in plain Python, independently of the writer's code path."""

from __future__ import annotations

import gzip
import os
import struct

from tensorflow.core.example import example_pb2


def read_records(path: str) -> list[bytes]:
    """Raw records of one GZIP TFRecord file (framing parsed by hand: len, crc, data, crc)."""
    with gzip.open(path, "rb") as stream:
        data = stream.read()
    records, offset = [], 0
    while offset < len(data):
        (length,) = struct.unpack_from("<Q", data, offset)
        records.append(data[offset + 12 : offset + 12 + length])
        offset += 12 + length + 4
    return records


def to_dict(example: example_pb2.Example) -> dict[str, list]:
    """Feature name -> list of values; every key present in the proto, absent keys absent."""
    out: dict[str, list] = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        out[name] = list(getattr(feature, kind).value) if kind else []
    return out


def read_examples(path: str) -> list[dict[str, list]]:
    """Parsed examples of one file, in file order."""
    return [to_dict(example_pb2.Example.FromString(record)) for record in read_records(path)]


def read_data_set(out_dir: str) -> dict[str, list[dict[str, list]]]:
    """File name -> parsed examples, for every shard in `out_dir`."""
    return {name: read_examples(os.path.join(out_dir, name)) for name in sorted(os.listdir(out_dir))}


def group_by_request(examples: list[dict[str, list]]) -> dict[int, list[dict[str, list]]]:
    """Trace id -> its examples, in file order."""
    groups: dict[int, list[dict[str, list]]] = {}
    for example in examples:
        groups.setdefault(example["meta.trace_id"][0], []).append(example)
    return groups


def trace_id_of(record: bytes) -> int:
    """`meta.trace_id` of one serialized example."""
    return example_pb2.Example.FromString(record).features.feature["meta.trace_id"].int64_list.value[0]
