"""Every artifact type and executor class a compiled spec names works where the task runs.

In a Vertex AI / Kubeflow task, TFX's container entry point turns each input and output
artifact's type schema into a Python class by importing the schema title as a class path
(`kubeflow_v2_entrypoint_utils._retrieve_class_path`) before the executor starts, then imports
`--executor_class_path`. A title that does not import (once `lightrank.RunReport`) fails the task
before it runs; a title Vertex does not accept fails the whole run at submission.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils
from tfx.types import artifact as tfx_artifact
from tfx.utils import import_utils

#: Vertex AI's rule for an artifact type's schema title (its error message quotes it).
VERTEX_SCHEMA_TITLE = re.compile(r"^[a-z][a-z0-9-_]{2,20}[.][A-Z][a-zA-Z0-9-_]{2,49}$")
SPECS = ["vertex_gcs", "vertex_example", "kubeflow_gcs", "kubeflow_example"]


def _artifact_types(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, artifactType) of every artifact a component consumes or produces."""
    for name, component in spec["components"].items():
        for side in ("inputDefinitions", "outputDefinitions"):
            for key, definition in component.get(side, {}).get("artifacts", {}).items():
                yield f"{name}.{side}.{key}", definition["artifactType"]
    for label, executor in spec["deploymentSpec"]["executors"].items():
        args = executor.get("container", {}).get("args", [])
        if "--json_serialized_inputs_spec_args" in args:
            inputs = json.loads(args[args.index("--json_serialized_inputs_spec_args") + 1])
            for key, definition in inputs.get("artifacts", {}).items():
                yield f"{label}.inputs_spec.{key}", definition["artifactType"]


def _title(artifact_type: dict[str, Any]) -> str:
    schema = json_format.ParseDict(artifact_type, pipeline_spec_pb2.ArtifactTypeSchema())
    if schema.WhichOneof("kind") == "schema_title":
        return schema.schema_title
    return schema.instance_schema.split("title: ", 1)[1].split("\n", 1)[0]


@pytest.mark.parametrize("fixture", SPECS)
def test_every_artifact_type_parses_as_tfx_entry_point_parses_it(request, fixture):
    """Each type, as a RuntimeArtifact of an ExecutorInput, through the entry point's own parser."""
    spec = request.getfixturevalue(fixture).job["pipelineSpec"]
    checked = 0
    for where, artifact_type in _artifact_types(spec):
        if _title(artifact_type).startswith("system."):
            continue  # consumed by kfp's own executor (kfp.dsl.executor), not TFX's entry point
        schema = json_format.ParseDict(artifact_type, pipeline_spec_pb2.ArtifactTypeSchema())
        runtime = pipeline_spec_pb2.RuntimeArtifact(name=f"run/{where}", type=schema, uri="/tmp/a")
        artifacts = {"key": pipeline_spec_pb2.ArtifactList(artifacts=[runtime])}
        (parsed,) = kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(artifacts)["key"]
        assert isinstance(parsed, tfx_artifact.Artifact) and parsed.uri == "/tmp/a", where
        class_path = kubeflow_v2_entrypoint_utils._retrieve_class_path(schema)
        assert type(parsed) is import_utils.import_class_by_path(class_path), where
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("fixture", SPECS)
def test_every_schema_title_is_one_vertex_accepts(request, fixture):
    spec = request.getfixturevalue(fixture).job["pipelineSpec"]
    titles = {_title(artifact_type) for _, artifact_type in _artifact_types(spec)}
    assert "lightrank.RunReport" in titles
    assert [title for title in titles if not VERTEX_SCHEMA_TITLE.match(title)] == []


@pytest.mark.parametrize("fixture", SPECS)
def test_every_executor_class_path_imports(request, fixture):
    spec = request.getfixturevalue(fixture).job["pipelineSpec"]
    paths = set()
    for executor in spec["deploymentSpec"]["executors"].values():
        args = executor.get("container", {}).get("args", [])
        if "--executor_class_path" in args:
            paths.add(args[args.index("--executor_class_path") + 1])
    assert "lightrank.components.run_report.component.RunReport_Executor" in paths
    for path in sorted(paths):
        assert callable(import_utils.import_class_by_path(path)), path


def test_a_title_that_does_not_import_is_caught():
    """The check above is the entry point's own: a bad title fails it."""
    schema = pipeline_spec_pb2.ArtifactTypeSchema(
        instance_schema="title: lightrank.NoSuchReport\ntype: object\n"
    )
    runtime = pipeline_spec_pb2.RuntimeArtifact(name="run/report", type=schema, uri="/tmp/a")
    with pytest.raises(ImportError, match=r"Could not import lightrank\.NoSuchReport"):
        kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(
            {"report": pipeline_spec_pb2.ArtifactList(artifacts=[runtime])}
        )
