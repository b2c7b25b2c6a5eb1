"""The inferred schema, tightened in the style of `schema/sample/schema.pbtxt`.

`tfdv.infer_schema` gives the types and the small string vocabularies; everything else is set
from the statistics by the conventions the sample schema's header explains, so a run on the
same data passes validation while a source that stops sending a feature is still caught:

- `value_count {min max}` as observed (scalars 1/1), never `shape`;
- `presence`: 1.0 where every example has the feature, else half the observed share;
- string domains for vocabularies of at most `MAX_STRING_DOMAIN` values, each seen several
  times, and never for the request key; `int_domain {min: 0}` only for non-negative INTs
  below 2**53 (random 64-bit ids are not), and `{min: 0 max: 1}` for INT labels;
- float domains that bound magnitudes by 1e15 but never forbid NaN or Inf in model inputs,
  while labels and the weight forbid both (`disallow_nan`, `disallow_inf`);
- labels, weight and heavy score outside the `SERVING` environment.

The text is written here rather than by `text_format`, to keep the sample's one-line messages
and to put a comment on every feature that needs one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence

from google.protobuf import text_encoding
from tensorflow_metadata.proto.v0 import schema_pb2

from lightrank.errors import shorten
from lightrank.pipeline.record_scan import MAX_CONTINUOUS_MAGNITUDE
from lightrank.pipeline.schema_infer.roles import Roles
from lightrank.pipeline.schema_infer.statistics import DataStats, FeatureFacts

#: Largest vocabulary written as a string domain.
MAX_STRING_DOMAIN = 50
#: A string domain needs each value seen this often on average: fewer is an id, not a category.
MIN_DOMAIN_REPEATS = 5
#: INT values from here on look like random 64-bit ids, whose sign is chance: no int_domain.
SAFE_INT_LIMIT = 2**53
#: The conventions, as the sample schema states them; the header of every inferred schema.
CONVENTIONS = """\
# Conventions (schema/sample/schema.pbtxt explains each):
# - Scalars have value_count {min: 1 max: 1}; "missing" means the key is absent from the example.
#   Multi-valued features have the fewest and most values seen.
# - presence.min_fraction is 1.0 for always-present features; the others get half the share seen,
#   so a smaller data set passes while a source that stops sending a feature is still caught.
# - Float domains bound magnitudes by 1e15 (float32 z-scoring does not survive more) but never
#   forbid NaN/Inf in model inputs; a feature that carried +Inf has no max (TFDV would flag it).
# - The weight and the labels forbid NaN and Inf: one NaN makes every weighted metric or the loss
#   NaN. The labels, the weight and the heavy score exist in TRAINING only."""


def min_fraction(fraction: float) -> float:
    """Half the observed share, rounded down to two significant digits (0.746 -> 0.37)."""
    half = fraction / 2
    if half <= 0:
        return 0.0
    scale = 10 ** (1 - math.floor(math.log10(half)))
    return math.floor(half * scale) / scale


def _string_domain(
    feature: schema_pb2.Feature, inferred: schema_pb2.Schema, facts: FeatureFacts
) -> list[str]:
    """The vocabulary TFDV inferred for `feature`, if small and repeated enough to be a category."""
    values = facts.present * facts.avg_values
    if not feature.domain or not facts.distinct or facts.distinct * MIN_DOMAIN_REPEATS > values:
        return []
    domain = next((d for d in inferred.string_domain if d.name == feature.domain), None)
    return list(domain.value) if domain is not None else []


def _domain(feature: schema_pb2.Feature, facts: FeatureFacts, roles: Roles, values: list[str]) -> None:
    labels = {role.name for role in roles.labels}
    if feature.name in labels:
        domain = feature.int_domain if facts.kind == "INT" else feature.float_domain
        domain.min, domain.max = 0, 1
    elif facts.kind == "INT":
        if facts.minimum is not None and facts.minimum >= 0 and facts.maximum < SAFE_INT_LIMIT:
            feature.int_domain.min = 0
    elif facts.kind == "FLOAT" and facts.minimum is not None and facts.maximum is not None:
        if facts.minimum >= 0:
            feature.float_domain.min = 0
        elif facts.minimum >= -MAX_CONTINUOUS_MAGNITUDE:
            feature.float_domain.min = -MAX_CONTINUOUS_MAGNITUDE
        if facts.maximum <= MAX_CONTINUOUS_MAGNITUDE:
            feature.float_domain.max = MAX_CONTINUOUS_MAGNITUDE
    elif values and feature.name != roles.request_key.name:
        feature.string_domain.name = feature.name
        feature.string_domain.value.extend(values)
    if facts.kind == "FLOAT" and feature.name in labels | {roles.weight.name}:
        feature.float_domain.disallow_nan = feature.float_domain.disallow_inf = True


def _tighten(feature: schema_pb2.Feature, facts: FeatureFacts, roles: Roles, values: list[str]) -> None:
    feature.value_count.min, feature.value_count.max = facts.min_values, facts.max_values
    _domain(feature, facts, roles, values)
    feature.presence.min_fraction = 1.0 if facts.always_present else min_fraction(facts.fraction)
    feature.presence.min_count = 1
    if feature.name in roles.reserved and feature.name != roles.request_key.name:
        feature.not_in_environment.append("SERVING")


def build_schema(stats: DataStats, roles: Roles) -> schema_pb2.Schema:
    """`tfdv.infer_schema` on the statistics, each feature rebuilt by the conventions above.

    Features in the order the written file shows them: the request key, the model inputs, the
    ignored features, then the labels, weight and heavy score.
    """
    import tensorflow_data_validation as tfdv

    inferred = tfdv.infer_schema(
        stats.statistics, infer_feature_shape=False, max_string_domain_size=MAX_STRING_DOMAIN
    )
    schema = schema_pb2.Schema(default_environment=["TRAINING", "SERVING"])
    features = {}
    for feature in inferred.feature:
        facts = stats.features.get(feature.name)
        if facts is None or feature.type not in (schema_pb2.INT, schema_pb2.FLOAT, schema_pb2.BYTES):
            continue
        rebuilt = schema_pb2.Feature(name=feature.name, type=feature.type)
        _tighten(rebuilt, facts, roles, _string_domain(feature, inferred, facts))
        features[feature.name] = rebuilt
    for name in section_order(features, roles):
        schema.feature.add().CopyFrom(features[name])
    return schema


def section_order(names: Iterable[str], roles: Roles) -> list[str]:
    """Names in file order: request key, inputs, ignored, then labels, weight and heavy score."""
    names = list(names)
    ignored = {role.name for role in roles.ignored}
    inputs = [name for name in names if name not in roles.reserved]
    ordered = [
        roles.request_key.name,
        *(name for name in inputs if name not in ignored),
        *(name for name in inputs if name in ignored),
        *(role.name for role in roles.labels),
        roles.weight.name,
        roles.heavy_score.name,
    ]
    return [name for name in dict.fromkeys(ordered) if name in names]


def validate(stats: DataStats, schema: schema_pb2.Schema) -> list[str]:
    """What TFDV (and so the pipeline's ExampleValidator) finds wrong with the data under the schema.

    Empty unless the data itself breaks a rule the conventions impose, e.g. NaN in a label:
    then the first run would stop at the anomaly gate, and the summary says so up front.
    """
    import tensorflow_data_validation as tfdv

    anomalies = tfdv.validate_statistics(stats.statistics, schema, environment="TRAINING")
    found = sorted(anomalies.anomaly_info.items())
    return [f"{name}: {shorten(info.description.rstrip('.'), 200)}" for name, info in found]


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:g}".replace("e+", "e")


def _quoted(text: str) -> str:
    return '"' + text_encoding.CEscape(text, as_utf8=True) + '"'


def _feature_lines(feature: schema_pb2.Feature) -> Iterator[str]:
    yield "feature {"
    yield f"  name: {_quoted(feature.name)}"
    yield f"  type: {schema_pb2.FeatureType.Name(feature.type)}"
    yield f"  value_count {{ min: {feature.value_count.min} max: {feature.value_count.max} }}"
    if feature.HasField("int_domain"):
        domain = feature.int_domain
        bounds = [f"{key}: {getattr(domain, key)}" for key in ("min", "max") if domain.HasField(key)]
        yield f"  int_domain {{ {' '.join(bounds)} }}"
    if feature.HasField("float_domain"):
        domain = feature.float_domain
        parts = [f"{key}: {_number(getattr(domain, key))}" for key in ("min", "max") if domain.HasField(key)]
        parts += [f"{key}: true" for key in ("disallow_nan", "disallow_inf") if getattr(domain, key)]
        yield f"  float_domain {{ {' '.join(parts)} }}"
    if feature.HasField("string_domain"):
        yield "  string_domain {"
        yield f"    name: {_quoted(feature.string_domain.name)}"
        yield from (f"    value: {_quoted(value)}" for value in feature.string_domain.value)
        yield "  }"
    yield f"  presence {{ min_fraction: {feature.presence.min_fraction!r} min_count: 1 }}"
    yield from (f"  not_in_environment: {_quoted(env)}" for env in feature.not_in_environment)
    yield "}"


def _notes(feature: schema_pb2.Feature, facts: FeatureFacts, roles: Roles) -> Iterator[str]:
    """Comment lines on one feature: its role, then what was inferred that a person should know."""
    tasks = {label: task for task, label in roles.tasks.items()}
    why = {role.name: role.why for role in roles.labels}
    if feature.name == roles.request_key.name:
        yield f"Request key: groups candidates into requests ({roles.request_key.why})."
    if feature.name in tasks:
        yield f"Label of the task {tasks[feature.name]} ({why[feature.name]})."
    if feature.name == roles.weight.name:
        yield f"Example weight: the heavy ranker's rank position, 0 = top ({roles.weight.why})."
    if feature.name == roles.heavy_score.name:
        yield f"The heavy ranker's score, the reference of the grouped metrics ({roles.heavy_score.why})."
    for role in roles.ignored:
        if role.name == feature.name:
            yield f"Not a model input (ignore in the feature spec): {role.why}."
    if not facts.always_present:
        yield (
            f"In {facts.fraction:.1%} of the examples ({facts.present:,} of {facts.examples:,}); "
            "min_fraction is half of that."
        )
    if not facts.scalar:
        count = f"{facts.min_values} to {facts.max_values}"
        yield f"{count} values per example ({facts.avg_values:.1f} on average)."
    if feature.HasField("string_domain"):
        yield f"{len(feature.string_domain.value)} values seen: another value is an anomaly that stops a run."
    elif facts.kind == "BYTES" and facts.distinct:
        yield f"{facts.distinct:,} distinct values: no domain."
    if facts.nan:
        yield f"Carries NaN ({facts.nan:,} values)."
    if facts.maximum == math.inf:
        yield "Carries +Inf: no max (TFDV compares +Inf with a max)."


def render_schema(schema: schema_pb2.Schema, stats: DataStats, roles: Roles, header: Sequence[str]) -> str:
    """The text of `schema.pbtxt`: the header, the conventions, then each section's features."""
    inputs = [feature.name for feature in schema.feature if feature.name not in roles.reserved]
    heading = {
        roles.request_key.name: "request",
        **{name: "model inputs (the feature spec's auto)" for name in inputs},
        **{role.name: "ignored (not model inputs)" for role in roles.ignored},
        **{name: "labels, weight and heavy score (TRAINING only; never model inputs)"
           for name in roles.reserved - {roles.request_key.name}},
    }  # fmt: skip
    lines = [*(f"# {line}".rstrip() for line in header), CONVENTIONS, "", *_environment_lines(schema)]
    current = None
    for feature in schema.feature:
        if heading[feature.name] != current:
            current = heading[feature.name]
            lines += ["", f"# ---- {current} ".ljust(99, "-")]
        lines += [f"# {note}" for note in _notes(feature, stats.features[feature.name], roles)]
        lines += list(_feature_lines(feature))
    return "\n".join(lines) + "\n"


def _environment_lines(schema: schema_pb2.Schema) -> list[str]:
    return [f"default_environment: {_quoted(env)}" for env in schema.default_environment]
