from __future__ import annotations

import numpy as np
import pytest
from sample_data_reader import to_dict
from tensorflow.core.example import example_pb2

from lightrank.pipeline.sample import features as feat
from lightrank.pipeline.sample.encoding import Columns, encode_examples

LONG_CODE = "X" * 200  # forces multi-byte varint lengths in both the entry and the example header


def _columns(**overrides: object) -> Columns:
    """Three hand-made rows covering every kind, absence and a long value."""
    values: dict[str, np.ndarray] = {}
    for name, kind in feat.FEATURE_KINDS.items():
        if kind is feat.ValueKind.FLOAT:
            values[name] = np.array([0.1, 1.5, -2.25])
        elif kind is feat.ValueKind.INT:
            values[name] = np.array([1, 2, 3])
        else:
            values[name] = np.array([0, 1, 2])
    values[feat.META_TRACE_ID] = np.array([2**63 - 1, 2**62 + 12345, 1])
    values[feat.CANDIDATE_TOPIC_IDS] = np.array([5, 6, 7])
    vocabularies = {
        feat.USER_DEVICE: feat.DEVICES,
        feat.USER_COUNTRY: ("US", "JP", LONG_CODE),
        feat.USER_LANGUAGE: feat.LANGUAGES,
        feat.CANDIDATE_SOURCE: feat.SOURCES,
    }
    fields: dict[str, object] = {
        "num_rows": 3,
        "values": values,
        "present": {
            feat.USER_PUSH_OPEN_RATE_28D: np.array([True, False, True]),
            feat.CANDIDATE_TREND_SCORE: np.array([False, False, False]),
        },
        "lengths": {feat.CANDIDATE_TOPIC_IDS: np.array([2, 0, 1])},
        "vocabularies": vocabularies,
    }
    fields.update(overrides)
    return Columns(**fields)


@pytest.fixture(scope="module")
def decoded() -> list[dict[str, list]]:
    return [to_dict(example_pb2.Example.FromString(record)) for record in encode_examples(_columns())]


def test_absent_features_are_absent_keys_not_empty_features(decoded: list[dict[str, list]]) -> None:
    assert feat.USER_PUSH_OPEN_RATE_28D in decoded[0] and feat.USER_PUSH_OPEN_RATE_28D not in decoded[1]
    assert feat.CANDIDATE_TOPIC_IDS not in decoded[1]
    assert all(feat.CANDIDATE_TREND_SCORE not in row for row in decoded)
    assert all(len(values) >= 1 for row in decoded for values in row.values())
    assert len(decoded[0]) == len(feat.FEATURE_KINDS) - 1  # only trend_score missing


def test_values_round_trip_exactly(decoded: list[dict[str, list]]) -> None:
    assert decoded[0][feat.CANDIDATE_LIKES_1H] == [float(np.float32(0.1))]
    assert decoded[2][feat.CANDIDATE_LIKES_1H] == [-2.25]
    assert [row[feat.META_TRACE_ID] for row in decoded] == [[2**63 - 1], [2**62 + 12345], [1]]
    assert decoded[0][feat.CANDIDATE_TOPIC_IDS] == [5, 6]
    assert decoded[2][feat.CANDIDATE_TOPIC_IDS] == [7]
    assert [row[feat.USER_DEVICE] for row in decoded] == [[b"ios"], [b"android"], [b"web"]]
    assert decoded[2][feat.USER_COUNTRY] == [LONG_CODE.encode()]
    assert [row[feat.CANDIDATE_SOURCE][0] for row in decoded] == [s.encode() for s in feat.SOURCES[:3]]


def test_bytes_are_protobufs_deterministic_serialization() -> None:
    records = encode_examples(_columns())
    assert records == encode_examples(_columns())
    for record in records:
        assert example_pb2.Example.FromString(record).SerializeToString(deterministic=True) == record
    assert len(records[2]) > 300  # the long row took the multi-byte header path


def test_column_set_must_match_the_contract() -> None:
    columns = _columns()
    missing = dict(columns.values)
    del missing[feat.LABEL_SENT]
    with pytest.raises(ValueError, match=r"label\.sent"):
        encode_examples(_columns(values=missing))


def test_list_lengths_must_match_values() -> None:
    with pytest.raises(ValueError, match="topic_ids"):
        encode_examples(_columns(lengths={feat.CANDIDATE_TOPIC_IDS: np.array([2, 0, 2])}))


def test_empty_chunk_encodes_to_nothing() -> None:
    empty = {name: column[:0] for name, column in _columns().values.items()}
    columns = _columns(
        num_rows=0,
        values=empty,
        present={},
        lengths={feat.CANDIDATE_TOPIC_IDS: np.zeros(0, dtype=np.int64)},
    )
    assert encode_examples(columns) == []
