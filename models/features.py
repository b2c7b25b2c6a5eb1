"""The feature spec: which raw features feed the model, and in which role.

The original light ranker selected its inputs with a YAML "feature list": a map
from a regex over feature names to a type code, resolved against a data spec. This module
is the same idea on top of a TFMD schema (docs/configuration.md, The feature spec): an
ordered map from a regex (full match) to a role, resolved against `schema.pbtxt`. The result,
`ResolvedFeatures`, is the only place the rest of the code learns feature names,
so a team brings its own data by writing its own schema and feature spec.

Roles: `continuous` (FLOAT, one dense column each), `sparse` (INT or BYTES,
hashed into `2**input_size_bits` buckets), `auto` (FLOAT -> continuous, INT or
BYTES -> sparse: the original's "type filter"), `ignore`. The request key, the
example weight, the heavy-ranker score and the labels are named explicitly and
can never become model inputs, so labels cannot leak into features.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tensorflow_metadata.proto.v0 import schema_pb2

from lightrank.errors import ConfigError
from lightrank.models.yaml_loader import load_yaml

ROLES = ("continuous", "sparse", "auto", "ignore")
#: The model's inputs, as Transform writes them and every model reads them (docs/model.md):
#: the continuous features as one `[B, n]` float tensor, the same z-scored and clipped (the
#: logistic baseline's input), and every sparse feature's hashed ids as one `[B, 2**bits]`
#: SparseTensor.
CONTINUOUS = "continuous"
CONTINUOUS_SCALED = "continuous_scaled"
SPARSE_IDS = "sparse_ids"
#: The original's marker for an absent continuous value (FEAT_CONFIG_DEFAULT_VAL).
DEFAULT_MISSING_VALUE = -1.23456789


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """The parsed feature-spec YAML (see `schema/sample/feature_spec.yaml`)."""

    request_key: str
    example_weight: str
    heavy_score: str
    labels: Mapping[str, str]
    patterns: tuple[tuple[str, str], ...]
    missing_value: float = DEFAULT_MISSING_VALUE
    slice_buckets: Mapping[str, tuple[float, ...]] = dataclasses.field(default_factory=dict)

    @property
    def reserved(self) -> frozenset[str]:
        """Names that are never model inputs: key, weight, heavy score, labels."""
        return frozenset({self.request_key, self.example_weight, self.heavy_score, *self.labels.values()})

    @classmethod
    def load(cls, path: str | Path) -> FeatureSpec:
        """Reads and validates a feature-spec YAML file.

        Raises:
            ConfigError: A key is missing or unknown, a role is invalid, or a
                pattern is not a valid regular expression; names the file.
        """
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"feature spec not found: {path}")
        data = load_yaml(path.read_text()) or {}
        known = {
            "request_key",
            "example_weight",
            "heavy_score",
            "labels",
            "features",
            "missing_value",
            "slice_buckets",
        }
        unknown = set(data) - known
        if unknown:
            raise ConfigError(
                f"unknown key(s) {sorted(unknown)} in feature spec {path}; valid: {sorted(known)}"
            )
        missing = {"request_key", "example_weight", "heavy_score", "labels", "features"} - set(data)
        if missing:
            raise ConfigError(f"feature spec {path} lacks required key(s) {sorted(missing)}")
        patterns = []
        for pattern, role in (data["features"] or {}).items():
            if role not in ROLES:
                raise ConfigError(
                    f"feature spec {path}: role {role!r} of pattern {pattern!r} is not one of {ROLES}"
                )
            try:
                re.compile(pattern)
            except re.error as error:
                raise ConfigError(f"feature spec {path}: bad regex {pattern!r}: {error}") from error
            patterns.append((str(pattern), str(role)))
        if not patterns:
            raise ConfigError(f"feature spec {path}: 'features' selects nothing")
        buckets = {}
        for name, boundaries in (data.get("slice_buckets") or {}).items():
            if not boundaries or any(
                not isinstance(b, (int, float)) or isinstance(b, bool) for b in boundaries
            ):
                raise ConfigError(
                    f"feature spec {path}: slice_buckets.{name} must be a non-empty list of numbers"
                )
            if list(boundaries) != sorted(set(boundaries)):
                raise ConfigError(f"feature spec {path}: slice_buckets.{name} must be strictly increasing")
            buckets[str(name)] = tuple(float(b) for b in boundaries)
        return cls(
            request_key=str(data["request_key"]),
            example_weight=str(data["example_weight"]),
            heavy_score=str(data["heavy_score"]),
            labels={str(k): str(v) for k, v in data["labels"].items()},
            patterns=tuple(patterns),
            missing_value=float(data.get("missing_value", DEFAULT_MISSING_VALUE)),
            slice_buckets=buckets,
        )

    def role_of(self, name: str) -> str | None:
        """The role of a feature name under the first matching pattern, or None."""
        for pattern, role in self.patterns:
            if re.fullmatch(pattern, name):
                return role
        return None


@dataclasses.dataclass(frozen=True)
class ResolvedFeatures:
    """The feature spec resolved against a schema: concrete, ordered name lists.

    It is JSON-safe (`to_dict` / `from_dict`) because it travels to the Transform
    and Trainer executors through TFX `custom_config`.

    Attributes:
        continuous: Continuous feature names, sorted; this is the column order
            of the `continuous` tensor and of `continuous_feature_list.json`.
        sparse: Hashed sparse feature names, sorted.
        int_sparse: The subset of `sparse` stored as INT (the rest are BYTES).
        request_key, example_weight, heavy_score, labels, missing_value: As in
            `FeatureSpec`.
        slice_buckets: Numeric features bucketed for slicing the evaluation, by
            boundaries; Transform emits each as `<name>_bucket` (see
            `slice_bucket_feature`), e.g. new versus established users by
            account age, the original's stratified new-user metrics.
    """

    continuous: tuple[str, ...]
    sparse: tuple[str, ...]
    int_sparse: tuple[str, ...]
    request_key: str
    example_weight: str
    heavy_score: str
    labels: Mapping[str, str]
    missing_value: float
    slice_buckets: Mapping[str, tuple[float, ...]] = dataclasses.field(default_factory=dict)

    def label_key(self, task: str) -> str:
        """The raw label feature of a task (docs/model.md, Data contract)."""
        if task not in self.labels:
            raise ConfigError(
                f"task {task!r} has no label in the feature spec; known tasks: {sorted(self.labels)}"
            )
        return self.labels[task]

    @property
    def passthrough(self) -> tuple[str, ...]:
        """Non-feature columns the Trainer needs: key, weight, heavy score, labels."""
        names = [self.request_key, self.example_weight, self.heavy_score, *self.labels.values()]
        return tuple(dict.fromkeys(names))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for TFX custom_config."""
        data = dataclasses.asdict(self)
        data["labels"] = dict(self.labels)
        data["slice_buckets"] = {name: list(bounds) for name, bounds in self.slice_buckets.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResolvedFeatures:
        """Inverse of `to_dict`."""
        return cls(
            continuous=tuple(data["continuous"]),
            sparse=tuple(data["sparse"]),
            int_sparse=tuple(data["int_sparse"]),
            request_key=data["request_key"],
            example_weight=data["example_weight"],
            heavy_score=data["heavy_score"],
            labels=dict(data["labels"]),
            missing_value=float(data["missing_value"]),
            slice_buckets={name: tuple(bounds) for name, bounds in data.get("slice_buckets", {}).items()},
        )


def slice_bucket_feature(name: str) -> str:
    """The transformed feature holding the slice bucket of numeric feature `name`."""
    return f"{name}_bucket"


def load_schema(path: str | Path) -> schema_pb2.Schema:
    """Reads a text-format TFMD schema, with an error that names the file."""
    from google.protobuf import text_format

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"schema not found: {path}")
    try:
        return text_format.Parse(path.read_text(), schema_pb2.Schema())
    except text_format.ParseError as error:
        raise ConfigError(f"schema {path} is not a valid schema.pbtxt: {error}") from error


def resolve(spec: FeatureSpec, schema: schema_pb2.Schema) -> ResolvedFeatures:
    """Applies the feature spec's patterns to the schema's features.

    Raises:
        ConfigError: A named key/weight/label is not in the schema, a pattern
            gives a feature a role its type cannot have, or no feature matches.
    """
    types = {feature.name: feature.type for feature in schema.feature}
    multi_valued = {f.name for f in schema.feature if f.HasField("value_count") and f.value_count.max > 1}
    for what, name in [
        ("request_key", spec.request_key),
        ("example_weight", spec.example_weight),
        ("heavy_score", spec.heavy_score),
        *((f"labels.{task}", name) for task, name in spec.labels.items()),
    ]:
        if name not in types:
            raise ConfigError(f"feature spec {what} names {name!r}, which is not in the schema")
    for task, name in spec.labels.items():
        if types[name] not in (schema_pb2.FLOAT, schema_pb2.INT):
            raise ConfigError(
                f"feature spec labels.{task} names {name!r}, a {schema_pb2.FeatureType.Name(types[name])} "
                "feature; a label is FLOAT (0 to 1) or INT (0 or 1)"
            )
    continuous, sparse, int_sparse = [], [], []
    for name, feature_type in types.items():
        if name in spec.reserved:
            continue
        role = spec.role_of(name)
        if role in (None, "ignore"):
            continue
        is_float = feature_type == schema_pb2.FLOAT
        if role == "continuous" and not is_float:
            raise ConfigError(
                f"feature {name!r} is selected as continuous but the schema types it as non-FLOAT"
            )
        if role == "sparse" and is_float:
            raise ConfigError(f"feature {name!r} is selected as sparse but the schema types it as FLOAT")
        if is_float:
            continuous.append(name)
        else:
            sparse.append(name)
            if feature_type == schema_pb2.INT:
                int_sparse.append(name)
    if not continuous and not sparse:
        raise ConfigError("the feature spec selects no feature of the schema")
    for name in spec.slice_buckets:
        if types.get(name) not in (schema_pb2.FLOAT, schema_pb2.INT) or name in multi_valued:
            raise ConfigError(
                f"feature spec slice_buckets names {name!r}, which is not a scalar numeric feature"
            )
    return ResolvedFeatures(
        continuous=tuple(sorted(continuous)),
        sparse=tuple(sorted(sparse)),
        int_sparse=tuple(sorted(int_sparse)),
        request_key=spec.request_key,
        example_weight=spec.example_weight,
        heavy_score=spec.heavy_score,
        labels=dict(spec.labels),
        missing_value=spec.missing_value,
        slice_buckets=dict(spec.slice_buckets),
    )


def resolve_files(schema_path: str | Path, feature_spec_path: str | Path) -> ResolvedFeatures:
    """`resolve` on files: the schema and feature spec named by a pipeline config."""
    return resolve(FeatureSpec.load(feature_spec_path), load_schema(schema_path))
