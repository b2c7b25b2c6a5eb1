"""`feature_spec.yaml` and `config.yaml` of an inferred schema, and publishing all three at once.

The config must run unedited (`lightrank run --config DIR/config.yaml`), so it repeats the
paths as given on the command line, like the sample config, and takes its evaluation gates and
Beam arguments from the sample config itself. The files are written into a hidden temporary
sibling of the output directory and renamed into place only when complete, so a failure
leaves nothing half-written where a run would read it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from lightrank.models.features import DEFAULT_MISSING_VALUE
from lightrank.models.yaml_loader import load_yaml
from lightrank.pipeline.config import SAMPLE_CONFIG
from lightrank.pipeline.schema_infer import SchemaInferError
from lightrank.pipeline.schema_infer.roles import Roles
from lightrank.pipeline.schema_infer.sources import DataSource, is_named
from lightrank.pipeline.schema_infer.statistics import DataStats

#: A pipeline name: lower-case letters, digits and '-', starting with a letter (a Vertex model ID
#: when no other is configured, so at most 63 characters).
PIPELINE_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")


def yaml_scalar(text: str) -> str:
    """`text` as a YAML scalar: plain where that reads back as the same string, else quoted."""
    if _PLAIN.fullmatch(text) and load_yaml(text) == text:
        return text
    return "'" + text.replace("'", "''") + "'" if text.isprintable() else json.dumps(text)


def pipeline_name(out: str, name: str | None) -> str:
    """`--name`, checked, or one derived from the output directory's name (`schema/My Data` -> `my-data`)."""
    if name is not None:
        if not PIPELINE_NAME.fullmatch(name):
            raise SchemaInferError(
                f"--name {name!r}: a pipeline name is 1-63 lower-case letters, digits and '-', "
                "starting with a letter"
            )
        return name
    base = re.sub(r"[^a-z0-9]+", "-", os.path.basename(os.path.abspath(out)).lower()).strip("-")
    base = base if base[:1].isalpha() else f"lightrank-{base}".rstrip("-")
    return base[:63].rstrip("-")


def feature_spec_text(stats: DataStats, roles: Roles, header: Sequence[str]) -> str:
    """The feature spec: every role named, one exact pattern per other feature (auto or ignore)."""

    def why(role_why: str) -> str:
        return f"# {role_why[0].upper()}{role_why[1:]}."

    lines = [*(f"# {line}".rstrip() for line in header), ""]
    lines += [
        "# Groups candidates into requests: the train/eval split and the grouped metrics.",
        why(roles.request_key.why),
        f"request_key: {yaml_scalar(roles.request_key.name)}",
        "# The heavy ranker's rank position (0 = top): the raw record weight.",
        why(roles.weight.why),
        f"example_weight: {yaml_scalar(roles.weight.name)}",
        "# The heavy ranker's score: the reference ranking of the grouped metrics.",
        why(roles.heavy_score.why),
        f"heavy_score: {yaml_scalar(roles.heavy_score.name)}",
        "# Task -> label feature (values in [0, 1]); config.yaml's model.task picks the one trained on.",
        "labels:",
    ]
    whys = {role.name: role.why for role in roles.labels}
    for name, label in roles.tasks.items():
        lines.append(commented(f"  {yaml_scalar(name)}: {yaml_scalar(label)}", whys[label]))
    lines += [
        "# Value of an absent continuous feature (the original's FEAT_CONFIG_DEFAULT_VAL).",
        f"missing_value: {DEFAULT_MISSING_VALUE}",
        "# One exact pattern per feature (full match; first match wins); the names above never feed the",
        "# model. auto: FLOAT -> continuous, INT/BYTES -> sparse (hashed). Use regexes to group them.",
        "features:",
    ]
    ignored = {role.name: role.why for role in roles.ignored}
    for name in stats.features:
        if name in roles.reserved:
            continue
        pattern = re.escape(name)
        quoted = "'" + pattern.replace("'", "''") + "'" if pattern.isprintable() else json.dumps(pattern)
        entry = f"  {quoted}: {'ignore' if name in ignored else 'auto'}"
        lines.append(commented(entry, ignored[name]) if name in ignored else entry)
    return "\n".join(lines) + "\n"


def commented(entry: str, comment: str, column: int = 40) -> str:
    """`entry` and a YAML comment at `column`, or two spaces after a longer entry (`a#b` is no comment)."""
    return f"{entry.ljust(column) if len(entry) < column - 1 else entry + '  '}# {comment}"


def _flow(value: object) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=1000, sort_keys=False).strip()


def config_text(
    sources: Sequence[DataSource], out: str, name: str, roles: Roles, slice_hint: str | None,
    header: Sequence[str],
) -> str:  # fmt: skip
    """The pipeline config: the sample config's settings, this data and schema, the first label's task."""
    sample = load_yaml(Path(SAMPLE_CONFIG).read_text())
    task, label = next(iter(roles.tasks.items()))
    runs = f"runs/{name}"
    lines = [*(f"# {line}".rstrip() for line in header)]
    lines += [
        "# Every key is documented in docs/configuration.md. Relative paths are relative to the",
        "# directory you run from, as given to `lightrank schema infer`: run from the same one.",
        f"name: {name}",
        f"root: {runs}/pipeline",
        f"serving_dir: {runs}/serving",
        "",
        "data:",
    ]
    if is_named(sources):
        lines.append("  splits:                      # named input splits, read as given (not re-split)")
        lines += [f"    {yaml_scalar(s.split or '')}: {yaml_scalar(s.pattern)}" for s in sources]
    else:
        lines += [
            commented(f"  path: {yaml_scalar(sources[0].pattern)}", "TFRecord files of tf.Example", 31),
            "  train_buckets: 4             # requests are hashed on the request key: 80% train ...",
            "  eval_buckets: 1              # ... 20% eval",
        ]
    schema_dir = out.rstrip("/") or "/"
    slices = f"e.g. [[{slice_hint}]]: metrics per value" if slice_hint else "lists of feature keys"
    lines += [
        "",
        "schema:",
        f"  path: {yaml_scalar(os.path.join(schema_dir, 'schema.pbtxt'))}",
        f"  feature_spec: {yaml_scalar(os.path.join(schema_dir, 'feature_spec.yaml'))}",
        "",
        "metadata:",
        f"  sqlite: {runs}/metadata.db",
        "",
        "model:",
        "  kind: deepnorm               # or: logistic (the baseline)",
        commented(
            f"  task: {task}",
            f"the label {yaml_scalar(label)}; another: a key of feature_spec.yaml labels",
            31,
        ),
        "  preset: default              # or: original (the original's hyper-parameters exactly)",
        "  deepnorm: {}",
        "  training: {}",
        "  warm_start: false",
        "",
        "evaluation:",
        commented("  slices: []", f"overall is always computed; {slices}", 31),
        "  thresholds:                  # the sample config's gates",
        *(f"    {metric}: {_flow(bound)}" for metric, bound in sample["evaluation"]["thresholds"].items()),
        "  compare_to_baseline: true",
        "",
        "beam_args:",
        *(f"  - {arg}" for arg in sample["beam_args"]),
        "enable_cache: true",
    ]
    return "\n".join(lines) + "\n"


def _occupied(path: str) -> bool:
    return os.path.lexists(path) and (not os.path.isdir(path) or bool(os.listdir(path)))


def check_out_dir(out: str, overwrite: bool) -> None:
    """Refuses an output path that is a file, or a non-empty directory without `overwrite`."""
    if os.path.lexists(out) and not os.path.isdir(out):
        raise SchemaInferError(f"--out {out} is a file; give a directory")
    if _occupied(out) and not overwrite:
        raise SchemaInferError(f"--out {out} exists and is not empty; pass --overwrite to replace it")


def publish(out: str, files: Mapping[str, str], overwrite: bool) -> None:
    """Writes `files` (name -> text) as the directory `out`, all at once.

    Raises:
        SchemaInferError: As `check_out_dir`, checked again just before the rename.
    """
    target = os.path.abspath(out)
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.tmp-", dir=parent)
    os.chmod(staging, 0o755)  # mkdtemp's 0700 would survive the rename
    try:
        for name, text in files.items():
            Path(staging, name).write_text(text)
        check_out_dir(out, overwrite)
        if not _occupied(target):
            if os.path.isdir(target):
                os.rmdir(target)
            os.rename(staging, target)
            return
        graveyard = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old-", dir=parent)
        os.rename(target, os.path.join(graveyard, "previous"))
        try:
            os.rename(staging, target)
        except BaseException:
            os.rename(os.path.join(graveyard, "previous"), target)
            raise
        shutil.rmtree(graveyard, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
