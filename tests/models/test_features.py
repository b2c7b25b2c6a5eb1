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
    with pytest.raises(ConfigError, match="role 'dense'"):
        _spec(tmp_path, {".*": "dense"})
    with pytest.raises(ConfigError, match="bad regex"):
        _spec(tmp_path, {"(": "auto"})
    with pytest.raises(ConfigError, match="unknown key"):
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
    with pytest.raises(ConfigError, match="non-empty list of numbers"):
        _spec(tmp_path, {".*": "auto"}, slice_buckets={"u.age": []})
    with pytest.raises(ConfigError, match=r"'u.country', which is not a scalar numeric feature"):
        resolve(_spec(tmp_path, {".*": "auto"}, slice_buckets={"u.country": [1]}), SCHEMA)
