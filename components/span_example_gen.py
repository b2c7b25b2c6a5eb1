"""`SpanExampleGen`: ImportExampleGen that reads a window of spans and records which.

TFX's ImportExampleGen reads one span per run (its range config accepts a single span).
A light ranker is trained on a rolling window of days and, often, evaluated on the newest
day, so this executor reads several: the pipeline hands ImportExampleGen each split's
pattern with the span specs turned into `*` (TFX's driver fingerprints every span's files,
so a new day means a new run, never a cached one), and the real patterns with the span
rule in `custom_config`. At run time the executor lists the spans, picks them with
`lightrank.components.spans`, reads exactly their files, and records on the Examples
artifact what it read: `span` (the newest), `version`, and the custom property
`lightrank_spans`, a JSON map from split name to the spans of that split. `lightrank runs`
and `lightrank lineage` show it.

Resolving at run time (not when the pipeline is built) keeps a pipeline compiled once for
Vertex AI or Kubeflow reading the newest days on every scheduled run.
"""

from __future__ import annotations

import json
import os
from typing import Any

import apache_beam as beam
import tensorflow as tf
from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen.import_example_gen import executor as import_executor
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from lightrank.components.spans import (
    SPANS_PROPERTY,
    SpanError,
    SpanFiles,
    SpanRule,
    select,
    spans_of,
    wildcard,
)

__all__ = ["NEWEST_EVALUATES", "SPANS_PROPERTY", "SPLITS", "Executor", "custom_config", "resolve_split_files"]
#: `route` in the custom config: every split reads its own pattern (`splits`), or the newest
#: span is the eval split and the older ones train (`newest_evaluates`).
SPLITS, NEWEST_EVALUATES = "splits", "newest_evaluates"


def custom_config(
    patterns: dict[str, str], spans: dict[str, Any] | None, route: str
) -> example_gen_pb2.CustomConfig:
    """The ExampleGen `custom_config` this executor reads.

    Args:
        patterns: By input split, its file pattern relative to `input_base`, with span specs.
        spans: The config's `data.spans` (`latest`, or `start` and `end`); None reads the newest.
        route: `SPLITS` or `NEWEST_EVALUATES`.
    """
    value = struct_pb2.Struct()
    value.update(
        {
            "patterns": patterns,
            "spans": {k: v for k, v in (spans or {}).items() if v is not None},
            "route": route,
        }
    )
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(value)
    return config


def _read_custom_config(exec_properties: dict[str, Any]) -> dict[str, Any]:
    config = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY], config)
    value = struct_pb2.Struct()
    config.custom_config.Unpack(value)
    return json_format.MessageToDict(value)


def _available(pattern: str) -> dict[int, SpanFiles]:
    """The spans a pattern's files show, by span; a pattern naming each span's folder reads its files.

    One glob for the pattern, and one `isdir` on its first match (not one per file: on GCS each
    is a request), then one glob one level down when the matches are folders.
    """
    matches = fileio.glob(wildcard(pattern))
    if matches and fileio.isdir(matches[0]):
        pattern = os.path.join(pattern, "*")
        matches = fileio.glob(wildcard(pattern))
    return spans_of(pattern, matches)


def resolve_split_files(input_base: str, settings: dict[str, Any]) -> dict[str, list[SpanFiles]]:
    """The spans (and their files) every input split reads, by input split name.

    Raises:
        SpanError: A split's pattern matches no span, or not the spans its rule asks for.
    """
    rule = SpanRule.from_dict(settings.get("spans"))
    patterns: dict[str, str] = settings["patterns"]
    if settings["route"] == NEWEST_EVALUATES:
        pattern = os.path.join(input_base, patterns["train"])
        chosen = select(_available(pattern), rule, pattern)
        if len(chosen) < 2:
            raise SpanError(f"data.spans.eval is newest but {rule.describe()} gives one span of {pattern}")
        return {"train": chosen[:-1], "eval": chosen[-1:]}
    files = {}
    for split, relative in patterns.items():
        pattern = os.path.join(input_base, relative)
        files[split] = select(_available(pattern), rule, pattern)
    return files


class Executor(import_executor.Executor):
    """ImportExampleGen's executor over the files of the chosen spans (see the module doc)."""

    def Do(  # noqa: N802  (TFX's executor interface)
        self,
        input_dict: dict[str, list[Any]],
        output_dict: dict[str, list[Any]],
        exec_properties: dict[str, Any],
    ) -> None:
        """Resolves the spans, writes the splits as ImportExampleGen does, records the spans."""
        settings = _read_custom_config(exec_properties)
        self._split_files = resolve_split_files(
            exec_properties[standard_component_specs.INPUT_BASE_KEY], settings
        )
        super().Do(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        newest = max(
            (read for reads in self._split_files.values() for read in reads), key=lambda read: read.span
        )
        examples.span = newest.span
        if newest.version is not None:
            examples.version = newest.version
        spans = {split: [read.span for read in reads] for split, reads in self._split_files.items()}
        examples.set_string_custom_property(SPANS_PROPERTY, json.dumps(spans, sort_keys=True))

    def GenerateExamplesByBeam(  # noqa: N802  (TFX's executor interface)
        self, pipeline: beam.Pipeline, exec_properties: dict[str, Any]
    ) -> dict[str, Any]:
        """As TFX's, but each input split reads its resolved file list instead of its glob."""
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config)
        split_names = example_gen_utils.generate_output_split_names(input_config, output_config)

        def read(split: str) -> beam.PCollection:
            files = [path for reads in self._split_files[split] for path in reads.files]
            return (
                pipeline
                | f"Files[{split}]" >> beam.Create(files)
                | f"Read[{split}]" >> beam.io.ReadAllFromTFRecord()
                | f"ToTFExample[{split}]" >> beam.Map(tf.train.Example.FromString)
            )

        if output_config.split_config.splits:
            buckets, total = [], 0
            for split in output_config.split_config.splits:
                total += split.hash_buckets
                buckets.append(total)
            records = read(input_config.splits[0].name) | "SplitData" >> beam.Partition(
                base_example_gen_executor._PartitionFn,
                len(buckets),
                buckets,
                output_config.split_config,
            )
            return dict(zip(split_names, records, strict=True))
        return {split.name: read(split.name) for split in input_config.splits}
