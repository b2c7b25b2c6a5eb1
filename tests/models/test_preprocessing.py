"""The Transform step on tiny data through tft_beam: layout, missing marker, hashing."""

from __future__ import annotations

import dataclasses
import math
import tempfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tiny_transform import serialize_example

from lightrank.models.features import (
    CONTINUOUS,
    CONTINUOUS_SCALED,
    SPARSE_IDS,
    SPARSE_SLOTS,
    ResolvedFeatures,
)
from lightrank.models.hashing import hash_key
from lightrank.models.preprocessing import SCALED_CLIP, model_inputs, preprocessing_fn, serving_parse_spec

MARKER = -1.23456789
BITS = 10
FEATURES = ResolvedFeatures(
    continuous=("user.age", "user.opens"),
    sparse=("cand.source", "cand.topics"),
    int_sparse=("cand.topics",),
    request_key="meta.key",
    example_weight="meta.weight",
    heavy_score="meta.score",
    labels={"Sent": "label.sent"},
    missing_value=MARKER,
    slice_buckets={"user.age": (30.0, 365.0), "user.opens": (1.0,)},
)
BIG_KEY = 2**62 + 12345  # not representable exactly as float64


def _spec() -> dict[str, object]:
    return {
        "user.age": tf.io.VarLenFeature(tf.float32),
        "user.opens": tf.io.VarLenFeature(tf.float32),
        "cand.source": tf.io.VarLenFeature(tf.string),
        "cand.topics": tf.io.VarLenFeature(tf.int64),
        "meta.key": tf.io.FixedLenFeature([], tf.int64),
        "meta.weight": tf.io.VarLenFeature(tf.float32),
        "meta.score": tf.io.FixedLenFeature([], tf.float32),
        "label.sent": tf.io.FixedLenFeature([], tf.int64),
    }


ROWS = [
    {"user.age": [10.0], "user.opens": [0.0], "cand.source": [b"in"], "cand.topics": [7, 9],
     "meta.key": BIG_KEY, "meta.weight": [2.0], "meta.score": 0.5, "label.sent": 1},
    {"user.age": [], "user.opens": [float("nan")], "cand.source": [b"oon"], "cand.topics": [],
     "meta.key": 5, "meta.weight": [], "meta.score": 0.1, "label.sent": 0},
    {"user.age": [1000.0], "user.opens": [3.0], "cand.source": [], "cand.topics": [],
     "meta.key": 5, "meta.weight": [0.0], "meta.score": 0.2, "label.sent": 0},
]  # fmt: skip


@pytest.fixture(scope="module")
def transformed() -> list[dict[str, object]]:
    metadata = tft.DatasetMetadata.from_feature_spec(_spec())

    def fn(inputs: dict[str, object]) -> dict[str, object]:
        return preprocessing_fn(inputs, {"features": FEATURES.to_dict(), "input_size_bits": BITS})

    with tempfile.TemporaryDirectory() as tmp, tft_beam.Context(temp_dir=tmp, force_tf_compat_v1=False):
        (data, _), _ = (ROWS, metadata) | tft_beam.AnalyzeAndTransformDataset(fn, output_record_batches=False)
    return list(data)


def _bucket(feature: str, value: int | bytes) -> int:
    return hash_key(feature, value, BITS)


def test_continuous_is_stacked_in_feature_list_order_with_the_missing_marker(transformed):
    np.testing.assert_allclose(transformed[0][CONTINUOUS], [10.0, 0.0])
    # Absent -> marker; NaN -> marker (the original decoder dropped NaNs).
    np.testing.assert_allclose(transformed[1][CONTINUOUS], [MARKER, MARKER], rtol=0, atol=1e-7)
    np.testing.assert_allclose(transformed[2][CONTINUOUS], [1000.0, 3.0])


def test_scaled_is_a_zscore_of_log1p_over_present_values_only(transformed):
    ages = np.log1p([10.0, 1000.0])
    opens = np.log1p([0.0, 3.0])
    expected_age = (ages - ages.mean()) / ages.std()
    expected_opens = (opens - opens.mean()) / opens.std()
    np.testing.assert_allclose(
        transformed[0][CONTINUOUS_SCALED], [expected_age[0], expected_opens[0]], atol=1e-5
    )
    np.testing.assert_allclose(
        transformed[2][CONTINUOUS_SCALED], [expected_age[1], expected_opens[1]], atol=1e-5
    )
    np.testing.assert_array_equal(transformed[1][CONTINUOUS_SCALED], [0.0, 0.0])  # missing -> 0
    assert SCALED_CLIP >= 1.0


def test_sparse_ids_hash_every_value_with_its_features_salt_in_feature_order(transformed):
    # Row-major, then feature order (cand.source before cand.topics), each feature's value order.
    assert transformed[0][SPARSE_IDS].tolist() == [
        _bucket("cand.source", b"in"),
        _bucket("cand.topics", 7),
        _bucket("cand.topics", 9),
    ]
    assert transformed[1][SPARSE_IDS].tolist() == [_bucket("cand.source", b"oon")]
    assert transformed[2][SPARSE_IDS].tolist() == []
    assert all(0 <= i < 2**BITS for row in transformed for i in row[SPARSE_IDS])


def test_sparse_slots_name_each_ids_feature_aligned_with_sparse_ids(transformed):
    # One slot per id, in the same order: the index of its feature in FEATURES.sparse.
    assert [row[SPARSE_SLOTS].tolist() for row in transformed] == [[0, 1, 1], [0], []]
    assert all(len(row[SPARSE_SLOTS]) == len(row[SPARSE_IDS]) for row in transformed)


def test_serving_slots_equal_the_transforms_and_share_the_ids_indices(transformed):
    serialized = tf.constant([serialize_example(row, with_labels=False) for row in ROWS])
    served = model_inputs(
        tf.io.parse_example(serialized, serving_parse_spec(_spec(), FEATURES)), FEATURES, BITS
    )
    np.testing.assert_array_equal(served[SPARSE_SLOTS].indices.numpy(), served[SPARSE_IDS].indices.numpy())
    slots = tf.RaggedTensor.from_sparse(served[SPARSE_SLOTS]).to_list()
    assert slots == [row[SPARSE_SLOTS].tolist() for row in transformed]


def test_the_same_value_of_two_features_lands_in_different_buckets():
    buckets = {hash_key(name, 7, 18) for name in ("user.id", "candidate.author_id", "candidate.topic_ids")}
    assert len(buckets) == 3
    assert hash_key("user.id", b"7", 18) != hash_key("user.id", 7, 18)  # BYTES "7" is not INT 7


def test_serving_featurisation_equals_the_transform_graph_exactly(transformed):
    """`serving_default`'s parse + `model_inputs` is the Transform, value for value."""
    serialized = tf.constant([serialize_example(row, with_labels=False) for row in ROWS])
    parsed = tf.io.parse_example(serialized, serving_parse_spec(_spec(), FEATURES))
    served = model_inputs(parsed, FEATURES, BITS)
    continuous = served[CONTINUOUS].numpy()
    ids = tf.RaggedTensor.from_sparse(served[SPARSE_IDS]).to_list()
    for i, row in enumerate(transformed):
        np.testing.assert_array_equal(continuous[i], row[CONTINUOUS])
        assert ids[i] == row[SPARSE_IDS].tolist()


def test_dense_inputs_hash_like_var_len_ones():
    features = dataclasses.replace(FEATURES, sparse=("cand.topics",), int_sparse=("cand.topics",))
    dense = model_inputs({"cand.topics": tf.constant([[7, 9], [3, 3]], tf.int64),
                          "user.age": tf.constant([1.0, 2.0]), "user.opens": tf.constant([0.0, 5.0])},
                         features, BITS)  # fmt: skip
    assert tf.RaggedTensor.from_sparse(dense[SPARSE_IDS]).to_list() == [
        [_bucket("cand.topics", 7), _bucket("cand.topics", 9)],
        [_bucket("cand.topics", 3)] * 2,
    ]


def test_an_int_continuous_feature_gets_the_marker_when_absent():
    features = dataclasses.replace(FEATURES, continuous=("n",), sparse=(), int_sparse=())
    absent = tf.sparse.from_dense(tf.constant([[4], [0]], tf.int64))  # row 1 has no value
    out = model_inputs({"n": absent}, features, BITS)[CONTINUOUS].numpy()
    np.testing.assert_allclose(out, [[4.0], [MARKER]], rtol=0, atol=1e-7)


def test_passthrough_keeps_the_request_key_exact_and_defaults_the_weight_to_one(transformed):
    assert int(transformed[0]["meta.key"]) == BIG_KEY
    assert transformed[0]["meta.weight"] == 2.0
    assert transformed[1]["meta.weight"] == 1.0  # absent weight: the builder's default
    assert transformed[2]["meta.weight"] == 0.0
    assert [float(r["label.sent"]) for r in transformed] == [1.0, 0.0, 0.0]
    assert math.isclose(float(transformed[0]["meta.score"]), 0.5)


def test_slice_buckets_index_values_with_minus_one_for_absent(transformed):
    # user.age: 10 -> bucket 0 (< 30), absent -> -1, 1000 -> bucket 2 (>= 365).
    assert [int(r["user.age_bucket"]) for r in transformed] == [0, -1, 2]
    # A value equal to a boundary goes right; NaN counts as absent.
    assert [int(r["user.opens_bucket"]) for r in transformed] == [0, -1, 1]
