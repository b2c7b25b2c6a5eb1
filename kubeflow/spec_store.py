"""The artifacts of local spec runs, kept as Vertex AI's metadata store keeps them for resolvers.

On Vertex the `latest_blessed_model_resolver` tasks query the project's metadata store for
earlier runs' artifacts. `lightrank run-spec` keeps the same record under the pipeline root:
one JSON line per artifact a task produced (name, schema title, URI, metadata), appended when
the task succeeded. A run whose Evaluator blessed a model can thus be the baseline of the next
run, as on Vertex. Lines are written whole with one `write` on a file opened for appending, so
a killed run leaves no half line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from lightrank.kubeflow.spec_expressions import matches

STORE_FILE = "spec-runs.artifacts.jsonl"


class ArtifactStore:
    """The artifacts of every local spec run of one pipeline root, oldest first."""

    def __init__(self, pipeline_root: str) -> None:
        self.path = os.path.join(pipeline_root, STORE_FILE)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every recorded artifact, in the order the tasks produced them."""
        if not os.path.isfile(self.path):
            return
        with open(self.path) as f:
            for line in f:
                if line.endswith("\n"):
                    yield json.loads(line)

    def add(self, artifacts: Iterable[Mapping[str, Any]]) -> None:
        """Records a finished task's output artifacts."""
        text = "".join(json.dumps(dict(artifact), sort_keys=True) + "\n" for artifact in artifacts)
        if text:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(self.path, "a") as f:
                f.write(text)

    def latest(self, query: str) -> dict[str, Any] | None:
        """The newest artifact the resolver query matches (Vertex returns the latest one)."""
        found = None
        for record in self.records():
            if matches(query, record):
                found = record
        return found
