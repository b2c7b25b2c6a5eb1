"""Feature spec resolution against a schema: roles, types, reserved names."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from lightrank.errors import ConfigError
from lightrank.models.features import FeatureSpec, ResolvedFeatures, resolve

SCHEMA = text_format.Parse(
    """
    feature { name: "u.age" type: FLOAT }
    feature { name: "u.country" type: BYTES }
    feature { name: "c.author" type: INT }
    feature { name: "c.score" type: FLOAT }
    feature { name: "other.x" type: FLOAT }
    feature { name: "meta.key" type: INT }
    feature { name: "meta.w" type: FLOAT }
    feature { name: "meta.hs" type: FLOAT }
    feature { name: "label.y" type: INT }
    """,
    schema_pb2.Schema(),
)


def _spec(tmp_path: Path, features: dict, **overrides) -> FeatureSpec:
    data = {
        "request_key": "meta.key",
        "example_weight": "meta.w",
        "heavy_score": "meta.hs",
        "labels": {"Sent": "label.y", "HeavyRankProbability": "meta.hs"},
        "features": features,
        **overrides,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return FeatureSpec.load(path)


def test_auto_role_follows_the_schema_type_and_lists_are_sorted(tmp_path):
    resolved = resolve(_spec(tmp_path, {r"u\..*": "auto", r"c\..*": "auto"}), SCHEMA)
    assert resolved.continuous == ("c.score", "u.age")
    assert resolved.sparse == ("c.author", "u.country")
    assert resolved.int_sparse == ("c.author",)
    assert resolved.label_key("Sent") == "label.y"


def test_reserved_columns_never_become_features_even_if_a_pattern_matches(tmp_path):
    resolved = resolve(_spec(tmp_path, {".*": "auto"}), SCHEMA)
    assert "label.y" not in resolved.sparse and "meta.hs" not in resolved.continuous
    assert "meta.key" not in resolved.sparse and "meta.w" not in resolved.continuous
    assert "other.x" in resolved.continuous


def test_first_matching_pattern_wins_and_ignore_drops(tmp_path):
    resolved = resolve(_spec(tmp_path, {r"c\.score": "ignore", r"c\..*": "auto"}), SCHEMA)
    assert resolved.continuous == ()
    assert resolved.sparse == ("c.author",)


def test_a_role_that_contradicts_the_schema_type_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"'u.country' is selected as continuous"):
        resolve(_spec(tmp_path, {r"u\.country": "continuous"}), SCHEMA)
    with pytest.raises(ConfigError, match=r"'u.age' is selected as sparse"):
        resolve(_spec(tmp_path, {r"u\.age": "sparse"}), SCHEMA)


def test_names_missing_from_the_schema_bad_roles_and_regexes_are_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"request_key names 'meta.nope'"):
        resolve(_spec(tmp_path, {".*": "auto"}, request_key="meta.nope"), SCHEMA)
    with pytest.raises(
        ConfigError, match=r"'features\.\.\*' in feature spec .* must be one of .*got 'dense'"
    ):
        _spec(tmp_path, {".*": "dense"})
    with pytest.raises(ConfigError, match="features: bad regex"):
        _spec(tmp_path, {"(": "auto"})
    with pytest.raises(ConfigError, match="unknown key 'weights'"):
        _spec(tmp_path, {".*": "auto"}, weights="meta.w")


def test_resolved_features_round_trip_through_json_safe_dicts(tmp_path):
    resolved = resolve(_spec(tmp_path, {".*": "auto"}), SCHEMA)
    assert ResolvedFeatures.from_dict(resolved.to_dict()) == resolved
    assert resolved.passthrough == ("meta.key", "meta.w", "meta.hs", "label.y")


def test_slice_buckets_need_increasing_boundaries_on_a_scalar_numeric_feature(tmp_path):
    resolved = resolve(_spec(tmp_path, {".*": "auto"}, slice_buckets={"u.age": [30, 365]}), SCHEMA)
    assert resolved.slice_buckets == {"u.age": (30.0, 365.0)}
    assert ResolvedFeatures.from_dict(resolved.to_dict()) == resolved
    with pytest.raises(ConfigError, match="strictly increasing"):
        _spec(tmp_path, {".*": "auto"}, slice_buckets={"u.age": [365, 30]})
    with pytest.raises(ConfigError, match=r"'slice_buckets.u.age' in .* must hold at least 1 item"):
        _spec(tmp_path, {".*": "auto"}, slice_buckets={"u.age": []})
    with pytest.raises(ConfigError, match=r"'u.country', which is not a scalar numeric feature"):
        resolve(_spec(tmp_path, {".*": "auto"}, slice_buckets={"u.country": [1]}), SCHEMA)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feature_spec.yaml"
    path.write_text(text)
    return path


_VALID = """\
request_key: meta.key
example_weight: meta.w
heavy_score: meta.hs
labels: {Sent: label.y}
features: {'u\\..*': auto}
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("labels: {Sent: label.y}", "labels: [a, b]", r"'labels' in feature spec \S+ must be a mapping"),
        (
            "labels: {Sent: label.y}",
            "labels: {Sent: 3}",
            r"'labels.Sent' in feature spec \S+ must be a string",
        ),
        (
            "labels: {Sent: label.y}",
            "labels: {1: label.y}",
            r"'labels\[1\]' in feature spec \S+ must be a string",
        ),
        ("labels: {Sent: label.y}", "labels:", r"'labels' in feature spec \S+ must be a mapping, got None"),
        (
            "features: {'u\\..*': auto}",
            "features: ['u\\..*']",
            r"'features' in feature spec \S+ must be a mapping",
        ),
        ("auto}", "dense}", r"'features.u\\\.\.\*' in feature spec \S+ must be one of 'continuous'"),
        (
            "request_key: meta.key",
            "request_key: 7",
            r"'request_key' in feature spec \S+ must be a string, got 7",
        ),
        (
            "heavy_score: meta.hs",
            "heavy_scor: meta.hs",
            r"unknown key 'heavy_scor' in feature spec \S+; did you mean 'heavy_score'\?",
        ),
        ("example_weight: meta.w\n", "", r"missing required key 'example_weight' in feature spec"),
        (
            "labels:",
            "slice_bucket: {u.age: [1]}\nlabels:",
            r"unknown key 'slice_bucket' .*did you mean 'slice_buckets'\?",
        ),
        (
            "labels:",
            "slice_buckets: [1, 2]\nlabels:",
            r"'slice_buckets' in feature spec \S+ must be a mapping",
        ),
        (
            "labels:",
            "slice_buckets: {u.age: 30}\nlabels:",
            r"'slice_buckets.u.age' in feature spec \S+ must be a list",
        ),
        (
            "labels:",
            "slice_buckets: {u.age: [30, x]}\nlabels:",
            r"'slice_buckets.u.age\[1\]' in .* must be a number",
        ),
        (
            "labels:",
            "slice_buckets: {u.age: [true]}\nlabels:",
            r"'slice_buckets.u.age\[0\]' in .* must be a number",
        ),
        ("labels:", "missing_value: none\nlabels:", r"'missing_value' in feature spec \S+ must be a number"),
    ],
)
def test_every_malformed_key_is_one_line_naming_the_file_and_the_key(tmp_path, old, new, message):
    assert old in _VALID
    path = _write(tmp_path, _VALID.replace(old, new, 1))
    with pytest.raises(ConfigError, match=message) as caught:
        FeatureSpec.load(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- request_key\n", r"must hold a mapping of keys, got list"),
        ("labels: [\n", r"is not valid YAML"),
        ("", r"missing required key 'request_key'"),
    ],
)
def test_a_file_that_is_not_a_mapping_of_keys_is_one_line_naming_it(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as caught:
        FeatureSpec.load(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_valid_file_keeps_the_pattern_order_and_an_empty_slice_buckets_key_buckets_nothing(tmp_path):
    text = _VALID.replace("features: {'u\\..*': auto}", "features: {'c\\..*': ignore, '.*': auto}")
    spec = FeatureSpec.load(_write(tmp_path, text + "slice_buckets:\nmissing_value: -1\n"))
    assert spec.patterns == ((r"c\..*", "ignore"), (".*", "auto"))
    assert spec.slice_buckets == {} and spec.missing_value == -1.0
    assert spec.labels == {"Sent": "label.y"}


def test_sides_resolve_to_the_sparse_features_each_regex_matches(tmp_path):
    sides = {"user": r"u\..*", "candidate": r"c\..*"}
    resolved = resolve(_spec(tmp_path, {r"u\..*": "auto", r"c\..*": "auto"}, sides=sides), SCHEMA)
    assert (resolved.user_sparse, resolved.candidate_sparse) == (("u.country",), ("c.author",))
    assert ResolvedFeatures.from_dict(resolved.to_dict()) == resolved
    without = resolve(_spec(tmp_path, {r"u\..*": "auto", r"c\..*": "auto"}), SCHEMA)
    assert (without.user_sparse, without.candidate_sparse) == ((), ())
    assert "user_sparse" not in without.to_dict()  # no sides: the dict older readers know


@pytest.mark.parametrize(
    ("sides", "message"),
    [
        ({"user": r"u\..*"}, "sides needs both 'user' and 'candidate'"),
        ({"user": "(", "candidate": r"c\..*"}, r"sides.user: bad regex"),
        ({"user": "nothing", "candidate": r"c\..*"}, r"sides.user \('nothing'\) matches none"),
        ({"user": r".*", "candidate": r"c\..*"}, r"feature spec features \['c.author'\] are on both sides"),
    ],
)
def test_bad_sides_are_one_line_naming_the_side(tmp_path, sides, message):
    with pytest.raises(ConfigError, match=message):
        resolve(_spec(tmp_path, {r"u\..*": "auto", r"c\..*": "auto"}, sides=sides), SCHEMA)
