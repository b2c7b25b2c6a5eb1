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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import Field, ValidationError
from tensorflow_metadata.proto.v0 import schema_pb2

from lightrank.errors import ConfigError
from lightrank.models.config_model import ConfigModel, config_error
from lightrank.models.yaml_loader import load_yaml

#: What a pattern of the feature spec makes of the features it matches (see the module docstring).
Role = Literal["continuous", "sparse", "auto", "ignore"]
ROLES: tuple[str, ...] = get_args(Role)
#: The model's inputs, as Transform writes them and every model reads them (docs/model.md):
#: the continuous features as one `[B, n]` float tensor, the same z-scored and clipped (the
#: logistic baseline's input), and every sparse feature's hashed ids as one `[B, 2**bits]`
#: SparseTensor.
CONTINUOUS = "continuous"
CONTINUOUS_SCALED = "continuous_scaled"
SPARSE_IDS = "sparse_ids"
#: Parallel to `sparse_ids` (same indices): the position in `ResolvedFeatures.sparse` of the
#: feature each id came from, which the per-feature bags of DeepNorm read (docs/model.md, Ids).
SPARSE_SLOTS = "sparse_slots"
#: The original's marker for an absent continuous value (FEAT_CONFIG_DEFAULT_VAL).
DEFAULT_MISSING_VALUE = -1.23456789
#: The export's `serving_transformed` takes `sparse_ids` flat, as these int64 vectors (and
#: `serving_features` returns them): every id of the batch, row after row, and each row's count
#: of ids; a model with one bag per feature also takes each id's `sparse_slots` value, parallel
#: to the ids (docs/model.md, Export). Callers in another runtime feed them by these names.
SERVING_IDS = "ids"
SERVING_ROW_LENGTHS = "row_lengths"
SERVING_SLOTS = "slots"


class FeatureSpecFile(ConfigModel):
    """The feature-spec YAML as written: every key and type checked before anything reads it.

    `FeatureSpec.load` validates the file with this model, so a malformed key (`labels` a list,
    a role that is not one of `ROLES`, a number where a feature name belongs) is one
    `ConfigError` line naming the file and the key, with the closest valid key for a misspelt one
    (docs/configuration.md, The feature spec).

    Attributes:
        request_key, example_weight, heavy_score: Feature names, as in `FeatureSpec`.
        labels: Task name -> the label feature's name.
        features: Regex (full match on the feature name) -> role, in the order written.
        missing_value: As in `FeatureSpec`.
        slice_buckets: Feature name -> bucket boundaries (numbers); empty (or null) for none.
        sides: `{user: REGEX, candidate: REGEX}` (full match over the sparse features): the two
            sides of DeepNorm's FM term (docs/model.md, Ids); null: the term multiplies all pairs.
    """

    request_key: str
    example_weight: str
    heavy_score: str
    labels: dict[str, str]
    features: dict[str, Role]
    missing_value: float = DEFAULT_MISSING_VALUE
    slice_buckets: dict[str, Annotated[list[float], Field(min_length=1)]] | None = None
    sides: dict[Literal["user", "candidate"], str] | None = None


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
    #: `(user regex, candidate regex)`: the sides of DeepNorm's FM term; None: all pairs.
    sides: tuple[str, str] | None = None

    @property
    def reserved(self) -> frozenset[str]:
        """Names that are never model inputs: key, weight, heavy score, labels."""
        return frozenset({self.request_key, self.example_weight, self.heavy_score, *self.labels.values()})

    @classmethod
    def load(cls, path: str | Path) -> FeatureSpec:
        """Reads and validates a feature-spec YAML file.

        Raises:
            ConfigError: The file is not YAML, a key is missing, unknown or of the wrong shape
                (`FeatureSpecFile`), a pattern is not a valid regular expression, or slice
                boundaries do not increase; one line naming the file and the key.
        """
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"feature spec not found: {path}")
        try:
            data = load_yaml(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(
                f"feature spec {path} is not valid YAML: {' '.join(str(error).split())}"
            ) from error
        if not isinstance(data, dict):
            raise ConfigError(f"feature spec {path} must hold a mapping of keys, got {type(data).__name__}")
        try:
            spec = FeatureSpecFile.model_validate(data)
        except ValidationError as error:
            raise config_error(error, FeatureSpecFile, f"feature spec {path}") from error
        for pattern in spec.features:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ConfigError(f"feature spec {path}: features: bad regex {pattern!r}: {error}") from error
        if not spec.features:
            raise ConfigError(f"feature spec {path}: 'features' selects nothing")
        sides = None
        if spec.sides is not None:
            if set(spec.sides) != {"user", "candidate"}:
                raise ConfigError(f"feature spec {path}: sides needs both 'user' and 'candidate'")
            sides = (spec.sides["user"], spec.sides["candidate"])
            for side, pattern in spec.sides.items():
                try:
                    re.compile(pattern)
                except re.error as error:
                    raise ConfigError(
                        f"feature spec {path}: sides.{side}: bad regex {pattern!r}: {error}"
                    ) from error
        buckets = spec.slice_buckets or {}
        for name, boundaries in buckets.items():
            if boundaries != sorted(set(boundaries)):
                raise ConfigError(f"feature spec {path}: slice_buckets.{name} must be strictly increasing")
        return cls(
            request_key=spec.request_key,
            example_weight=spec.example_weight,
            heavy_score=spec.heavy_score,
            labels=dict(spec.labels),
            patterns=tuple(spec.features.items()),
            missing_value=spec.missing_value,
            slice_buckets={name: tuple(boundaries) for name, boundaries in buckets.items()},
            sides=sides,
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
        user_sparse, candidate_sparse: The sparse features on the user and on the candidate
            side of DeepNorm's FM term (the feature spec's `sides`), in `sparse` order; both
            empty (and left out of `to_dict`) when the spec names no sides.
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
    user_sparse: tuple[str, ...] = ()
    candidate_sparse: tuple[str, ...] = ()

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
        for side in ("user_sparse", "candidate_sparse"):  # absent without sides: older readers agree
            if not data[side]:
                del data[side]
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
            user_sparse=tuple(data.get("user_sparse", ())),
            candidate_sparse=tuple(data.get("candidate_sparse", ())),
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
    user_sparse, candidate_sparse = _resolve_sides(spec.sides, sorted(sparse))
    return ResolvedFeatures(
        user_sparse=user_sparse,
        candidate_sparse=candidate_sparse,
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


def match_sides(
    patterns: tuple[str, str], sparse: Sequence[str], labels: tuple[str, str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The sparse features each of the FM term's two side regexes (user, candidate) fully matches.

    Shared by the feature spec's `sides` and DeepNorm's `fm_user_features` /
    `fm_candidate_features`, so both pick and check sides the same way.

    Args:
        patterns: The user side's and the candidate side's regex.
        sparse: The sparse feature names, in the model's order.
        labels: How the two settings are named in an error, e.g. `sides.user ('u.*')`.

    Raises:
        ValueError: A side matches no feature, or a feature is on both sides.
    """
    matched = []
    for label, pattern in zip(labels, patterns, strict=True):
        names = tuple(name for name in sparse if re.fullmatch(pattern, name))
        if not names:
            raise ValueError(f"{label} matches none of the sparse features {list(sparse)}")
        matched.append(names)
    both = sorted(set(matched[0]) & set(matched[1]))
    if both:
        raise ValueError(f"features {both} are on both sides (user and candidate) of the FM term")
    return matched[0], matched[1]


def _resolve_sides(
    sides: tuple[str, str] | None, sparse: list[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The feature spec's `sides`, resolved against the sparse features (`match_sides`)."""
    if sides is None:
        return (), ()
    labels = (f"sides.user ({sides[0]!r})", f"sides.candidate ({sides[1]!r})")
    try:
        return match_sides(sides, sparse, labels)
    except ValueError as error:
        raise ConfigError(f"feature spec {error}") from None


def resolve_files(schema_path: str | Path, feature_spec_path: str | Path) -> ResolvedFeatures:
    """`resolve` on files: the schema and feature spec named by a pipeline config."""
    return resolve(FeatureSpec.load(feature_spec_path), load_schema(schema_path))
