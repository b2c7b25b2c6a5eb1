from __future__ import annotations

import pathlib
import re

import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
import yaml
from sample_data_reader import read_records
from tensorflow.core.example import example_pb2
from tensorflow_metadata.proto.v0 import schema_pb2

from lightrank.pipeline.sample import SampleDataSummary
from lightrank.pipeline.sample import features as feat

ROOT = pathlib.Path(__file__).resolve().parents[3]
SCHEMA_PATH = ROOT / "schema" / "sample" / "schema.pbtxt"
FEATURE_SPEC_PATH = ROOT / "schema" / "sample" / "feature_spec.yaml"
# TFDV's running variance meets the data's deliberate +Inf values and warns; the statistics are still valid.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
TRAINING_ONLY = {feat.LABEL_SENT, feat.META_WEIGHT, feat.META_HEAVY_SCORE, feat.META_IS_TOP3}
_TYPES = {
    feat.ValueKind.FLOAT: schema_pb2.FLOAT,
    feat.ValueKind.INT: schema_pb2.INT,
    feat.ValueKind.BYTES: schema_pb2.BYTES,
}


@pytest.fixture(scope="module")
def schema() -> schema_pb2.Schema:
    return tfdv.load_schema_text(str(SCHEMA_PATH))


def _anomalous_features(data_glob: str, schema: schema_pb2.Schema, environment: str = "TRAINING") -> set[str]:
    stats = tfdv.generate_statistics_from_tfrecord(data_glob)
    anomalies = tfdv.validate_statistics(stats, schema, environment=environment)
    for name, info in anomalies.anomaly_info.items():
        print(name, info.short_description, "|", info.description)  # shown by pytest on failure
    return {name.strip("'") for name in anomalies.anomaly_info}


def test_schema_declares_exactly_the_generated_features(schema: schema_pb2.Schema) -> None:
    assert {f.name: f.type for f in schema.feature} == {
        name: _TYPES[kind] for name, kind in feat.FEATURE_KINDS.items()
    }


def test_string_domains_are_the_generator_vocabularies(schema: schema_pb2.Schema) -> None:
    domains = {f.name: tuple(f.string_domain.value) for f in schema.feature if f.HasField("string_domain")}
    assert domains == {
        feat.USER_DEVICE: feat.DEVICES,
        feat.USER_COUNTRY: feat.COUNTRY_CODES,
        feat.USER_LANGUAGE: feat.LANGUAGES,
        feat.CANDIDATE_SOURCE: feat.SOURCES,
    }


def test_valency_presence_and_environments(schema: schema_pb2.Schema) -> None:
    assert list(schema.default_environment) == ["TRAINING", "SERVING"]
    optional = {
        feat.USER_PUSH_OPEN_RATE_28D,
        feat.CANDIDATE_TWEET_AGE_MINUTES,
        feat.CANDIDATE_LIKES_1H,
        feat.CANDIDATE_RETWEETS_1H,
        feat.CANDIDATE_REPLIES_1H,
        feat.CANDIDATE_HAS_MEDIA,
        feat.CANDIDATE_REAL_GRAPH_SCORE,
        feat.CANDIDATE_AUTHOR_ENGAGEMENTS_28D,
        feat.CANDIDATE_TOPIC_IDS,
        feat.CANDIDATE_TOPIC_SCORE,
        feat.CANDIDATE_TREND_SCORE,
    }
    for f in schema.feature:
        expected_max = 4 if f.name == feat.CANDIDATE_TOPIC_IDS else 1
        assert (f.value_count.min, f.value_count.max) == (1, expected_max), f.name
        assert (f.presence.min_fraction < 1.0) == (f.name in optional), f.name
        assert (list(f.not_in_environment) == ["SERVING"]) == (f.name in TRAINING_ONLY), f.name


def test_float_domains_forbid_nan_only_in_weight_and_labels_and_bound_clean_inputs(
    schema: schema_pb2.Schema,
) -> None:
    # A NaN/Inf weight or label poisons training: refused. Model inputs carry NaN/+Inf on purpose.
    poisoning = {feat.META_WEIGHT, feat.META_HEAVY_SCORE}
    for f in schema.feature:
        if f.type == schema_pb2.FLOAT:
            forbids = f.float_domain.disallow_nan and f.float_domain.disallow_inf
            assert forbids == (f.name in poisoning), f.name
            assert f.float_domain.min == 0.0, f.name
            if f.name in feat.CORRUPTIBLE_FLOATS:
                assert not f.float_domain.HasField("max"), f.name  # TFDV flags +Inf above a max
            else:
                assert f.float_domain.HasField("max") and f.float_domain.max <= 1e15, f.name


def test_poisoning_values_are_anomalies_naming_the_feature(
    small_data_set: SampleDataSummary, schema: schema_pb2.Schema, tmp_path: pathlib.Path
) -> None:
    # TFDV 1.16 honours disallow_nan / disallow_inf and the max of a float_domain in
    # statistics-based validation: what ExampleValidator and the AnomalyGate rely on.
    doctored = tmp_path / "poisoned.tfrecord.gz"
    with tf.io.TFRecordWriter(str(doctored), options="GZIP") as out:
        for index, record in enumerate(read_records(small_data_set.files[0])):
            example = example_pb2.Example.FromString(record)
            features = example.features.feature
            if index == 3:
                features[feat.META_WEIGHT].float_list.value[0] = float("nan")
                features[feat.META_HEAVY_SCORE].float_list.value[0] = float("inf")
                features[feat.USER_NUM_FOLLOWINGS].float_list.value[0] = 1e38
            out.write(example.SerializeToString())
    assert _anomalous_features(str(doctored), schema) == {
        feat.META_WEIGHT,
        feat.META_HEAVY_SCORE,
        feat.USER_NUM_FOLLOWINGS,
    }


def test_generated_data_validates_with_zero_anomalies(
    small_data_set: SampleDataSummary, schema: schema_pb2.Schema
) -> None:
    assert _anomalous_features(f"{small_data_set.out_dir}/*.tfrecord.gz", schema) == set()


def test_doctored_data_is_caught_feature_by_feature(
    small_data_set: SampleDataSummary, schema: schema_pb2.Schema, tmp_path: pathlib.Path
) -> None:
    doctored = tmp_path / "doctored.tfrecord.gz"
    with tf.io.TFRecordWriter(str(doctored), options="GZIP") as out:
        for index, record in enumerate(read_records(small_data_set.files[0])):
            example = example_pb2.Example.FromString(record)
            features = example.features.feature
            followers = features[feat.CANDIDATE_AUTHOR_FOLLOWERS]
            written_as_text = [str(v).encode() for v in followers.float_list.value]
            followers.ClearField("float_list")
            followers.bytes_list.value.extend(written_as_text)
            if index == 5:
                features[feat.CANDIDATE_SOURCE].bytes_list.value[0] = b"email_digest"
            out.write(example.SerializeToString())
    assert _anomalous_features(str(doctored), schema) == {
        feat.CANDIDATE_AUTHOR_FOLLOWERS,
        feat.CANDIDATE_SOURCE,
    }


def _serving_requests(small_data_set: SampleDataSummary, out: pathlib.Path, keep: set[str]) -> str:
    """The first file's candidates as a serving request carries them: no TRAINING-only features."""
    with tf.io.TFRecordWriter(str(out), options="GZIP") as writer:
        for record in read_records(small_data_set.files[0]):
            example = example_pb2.Example.FromString(record)
            for name in TRAINING_ONLY - keep:
                del example.features.feature[name]
            writer.write(example.SerializeToString())
    return str(out)


def test_serving_requests_without_labels_validate_in_the_serving_environment(
    small_data_set: SampleDataSummary, schema: schema_pb2.Schema, tmp_path: pathlib.Path
) -> None:
    serving = _serving_requests(small_data_set, tmp_path / "serving.tfrecord.gz", keep=set())
    assert _anomalous_features(serving, schema, environment="SERVING") == set()
    # The same candidates miss every label in TRAINING, and a label at serving time is a leak.
    assert _anomalous_features(serving, schema, environment="TRAINING") == TRAINING_ONLY
    leaking = _serving_requests(small_data_set, tmp_path / "leak.tfrecord.gz", keep={feat.LABEL_SENT})
    assert _anomalous_features(leaking, schema, environment="SERVING") == {feat.LABEL_SENT}


def test_feature_spec_selects_user_and_candidate_features_only(schema: schema_pb2.Schema) -> None:
    spec = yaml.safe_load(FEATURE_SPEC_PATH.read_text())
    assert list(spec) == [
        "request_key",
        "example_weight",
        "heavy_score",
        "labels",
        "missing_value",
        "features",
        "sides",
        "slice_buckets",
    ]
    assert spec["slice_buckets"] == {feat.USER_ACCOUNT_AGE_DAYS: [30, 365]}
    assert spec["request_key"] == feat.META_TRACE_ID
    assert spec["example_weight"] == feat.META_WEIGHT
    assert spec["heavy_score"] == feat.META_HEAVY_SCORE
    assert spec["labels"] == {
        "Sent": feat.LABEL_SENT,
        "HeavyRankPosition": feat.META_IS_TOP3,
        "HeavyRankProbability": feat.META_HEAVY_SCORE,
    }
    assert spec["missing_value"] == pytest.approx(-1.23456789)
    assert spec["features"] == {r"user\..*": "auto", r"candidate\..*": "auto"}
    assert spec["sides"] == {"user": r"user\..*", "candidate": r"candidate\..*"}  # the FM term's two sides
    selected = {f.name for f in schema.feature if any(re.fullmatch(p, f.name) for p in spec["features"])}
    assert selected == {name for name in feat.FEATURE_KINDS if name.split(".")[0] in ("user", "candidate")}
    assert selected.isdisjoint({feat.META_TRACE_ID, *TRAINING_ONLY})
