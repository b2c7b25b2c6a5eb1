"""ML Metadata's lineage answers as plain records: artifacts, executions and the events between them.

`subgraph` is one `get_lineage_subgraph` call (MLMD's own traversal with
`filter_query` starting and ending nodes, not hand-walked SQL); `LineageGraph`
answers the questions a trace asks of it (who produced this, what read that,
under which input name). Two rules keep a trace exact:

- Cached executions are left out: TFX records a cache hit as a new execution
  with the same inputs and outputs, so following it would mix in other runs. The
  execution that actually produced an artifact is the one kept.
- Resolver executions are left out: their INTERNAL_OUTPUT events would make the
  last blessed model look like an output of whatever the resolver fed.

Nothing here writes to the store.
"""

from __future__ import annotations

import dataclasses
import datetime

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

from lightrank.pipeline.io import utc_from_millis

_Query = metadata_store_pb2.LineageSubgraphQueryOptions
_RESOLVER = "tfx.dsl.components.common.resolver.Resolver"
#: Executions never followed: cache hits and resolvers (see the module docstring).
_SKIPPED_EXECUTIONS = f"last_known_state = CACHED OR type = '{_RESOLVER}'"
_STATES = {value: name.lower() for name, value in metadata_store_pb2.Execution.State.items()}


@dataclasses.dataclass(frozen=True)
class ArtifactInfo:
    """One artifact: its id, type, location and (custom) properties."""

    id: int
    type: str
    uri: str
    created: datetime.datetime
    properties: dict[str, str | int | float]


@dataclasses.dataclass(frozen=True)
class ExecutionInfo:
    """One execution of a component: which, in which run, how it ended, with what settings."""

    id: int
    component: str
    type: str
    state: str
    started: datetime.datetime
    ended: datetime.datetime
    run_id: str | None
    properties: dict[str, str | int | float]


@dataclasses.dataclass(frozen=True)
class Edge:
    """An event: an artifact going into or coming out of an execution under a key (e.g. `examples`)."""

    artifact_id: int
    execution_id: int
    direction: str  # "input" or "output"
    key: str


@dataclasses.dataclass(frozen=True)
class LineageGraph:
    """Artifacts, executions and the events between them."""

    artifacts: dict[int, ArtifactInfo]
    executions: dict[int, ExecutionInfo]
    edges: tuple[Edge, ...]

    def inputs(self, execution_id: int) -> dict[str, ArtifactInfo]:
        """The execution's input artifacts by key."""
        return {
            e.key: self.artifacts[e.artifact_id]
            for e in self.edges
            if e.execution_id == execution_id and e.direction == "input" and e.artifact_id in self.artifacts
        }

    def outputs(self, execution_id: int) -> dict[str, ArtifactInfo]:
        """The execution's output artifacts by key."""
        return {
            e.key: self.artifacts[e.artifact_id]
            for e in self.edges
            if e.execution_id == execution_id and e.direction == "output" and e.artifact_id in self.artifacts
        }

    def producer(self, artifact_id: int) -> ExecutionInfo | None:
        """The (non-cached) execution that wrote the artifact, if it is in the graph."""
        for e in self.edges:
            if e.artifact_id == artifact_id and e.direction == "output" and e.execution_id in self.executions:
                return self.executions[e.execution_id]
        return None

    def consumers(self, artifact_id: int, key: str | None = None) -> list[ExecutionInfo]:
        """Executions that read the artifact (under `key`, if given), oldest first."""
        found = {
            e.execution_id
            for e in self.edges
            if e.artifact_id == artifact_id and e.direction == "input" and (key is None or e.key == key)
        }
        return sorted((self.executions[i] for i in found if i in self.executions), key=lambda x: x.id)

    def restricted(self, artifact_ids: set[int], execution_ids: set[int]) -> LineageGraph:
        """The subgraph on the given nodes."""
        return LineageGraph(
            {i: a for i, a in self.artifacts.items() if i in artifact_ids},
            {i: x for i, x in self.executions.items() if i in execution_ids},
            tuple(e for e in self.edges if e.artifact_id in artifact_ids and e.execution_id in execution_ids),
        )

    def merged(self, other: LineageGraph) -> LineageGraph:
        """The union of two graphs (events deduplicated)."""
        return LineageGraph(
            {**self.artifacts, **other.artifacts},
            {**self.executions, **other.executions},
            tuple(dict.fromkeys(self.edges + other.edges)),
        )


def _value(value: metadata_store_pb2.Value) -> str | int | float:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind in ("int_value", "double_value", "string_value") else str(value)


def artifact_info(artifact: metadata_store_pb2.Artifact) -> ArtifactInfo:
    """The plain record of an MLMD artifact."""
    return ArtifactInfo(
        artifact.id,
        artifact.type,
        artifact.uri,
        utc_from_millis(artifact.create_time_since_epoch),
        {k: _value(v) for k, v in [*artifact.properties.items(), *artifact.custom_properties.items()]},
    )


def execution_info(
    execution: metadata_store_pb2.Execution, run_id: str | None, component: str | None = None
) -> ExecutionInfo:
    """The plain record of an MLMD execution (component: its node's name, else its type's last part)."""
    return ExecutionInfo(
        execution.id,
        component or execution.type.rsplit(".", 1)[-1],
        execution.type,
        _STATES.get(execution.last_known_state, "unknown"),
        utc_from_millis(execution.create_time_since_epoch),
        utc_from_millis(execution.last_update_time_since_epoch),
        run_id,
        {k: _value(v) for k, v in [*execution.properties.items(), *execution.custom_properties.items()]},
    )


def _event_key(event: metadata_store_pb2.Event) -> str:
    """An event's input or output name (TFX also records the channel, `_Evaluator.blessing`, in any order)."""
    keys = [step.key for step in event.path.steps if step.HasField("key")]
    return next((key for key in keys if not key.startswith("_")), keys[0] if keys else "")


def _graph(lineage: metadata_store_pb2.LineageGraph, keep_cached: bool = False) -> LineageGraph:
    contexts = {c.id: c for c in lineage.contexts}
    component: dict[int, str] = {}
    run: dict[int, str] = {}
    for association in lineage.associations:
        context = contexts.get(association.context_id)
        if context is None:
            continue
        if context.type == "node":
            component[association.execution_id] = context.name.split(".", 1)[-1]
        elif context.type == "pipeline_run":
            run[association.execution_id] = context.name
    artifacts = {a.id: artifact_info(a) for a in lineage.artifacts}
    executions = {
        x.id: execution_info(x, run.get(x.id), component.get(x.id))
        for x in lineage.executions
        if (keep_cached or x.last_known_state != metadata_store_pb2.Execution.CACHED) and x.type != _RESOLVER
    }
    edges = tuple(
        Edge(
            e.artifact_id,
            e.execution_id,
            "input"
            if e.type in (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)
            else "output",
            _event_key(e),
        )
        for e in lineage.events
        if e.type
        in (
            metadata_store_pb2.Event.INPUT,
            metadata_store_pb2.Event.DECLARED_INPUT,
            metadata_store_pb2.Event.OUTPUT,
            metadata_store_pb2.Event.DECLARED_OUTPUT,
        )
        and e.execution_id in executions
        and e.artifact_id in artifacts
    )
    return LineageGraph(artifacts, executions, edges)


def subgraph(
    store: mlmd.MetadataStore,
    *,
    artifact_query: str | None = None,
    execution_query: str | None = None,
    direction: str,
    hops: int,
    stop_at_artifacts: str | None = None,
) -> LineageGraph:
    """One `get_lineage_subgraph` call, without cached or resolver executions.

    Args:
        store: The metadata store.
        artifact_query: `filter_query` of the starting artifacts (or give `execution_query`).
        execution_query: `filter_query` of the starting executions.
        direction: "upstream", "downstream" or "bidirectional".
        hops: Maximum hops; an artifact -> execution step is one hop.
        stop_at_artifacts: `filter_query` of artifacts that end the traversal (kept in the result).
    """
    options = _Query(max_num_hops=hops, direction=_Query.Direction.Value(direction.upper()))
    if artifact_query is not None:
        options.starting_artifacts.filter_query = artifact_query
    else:
        options.starting_executions.filter_query = execution_query or ""
    options.ending_executions.filter_query = _SKIPPED_EXECUTIONS
    options.ending_executions.include_ending_nodes = False
    if stop_at_artifacts:
        options.ending_artifacts.filter_query = stop_at_artifacts
        options.ending_artifacts.include_ending_nodes = True
    return _graph(store.get_lineage_subgraph(options))


def quoted(text: str) -> str:
    """A string literal for a `filter_query`."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def run_graph(store: mlmd.MetadataStore, run_id: str) -> LineageGraph:
    """Every execution of one pipeline run (cache hits included) with its inputs and outputs."""
    options = _Query(max_num_hops=1, direction=_Query.Direction.BIDIRECTIONAL)
    options.starting_executions.filter_query = (
        f"contexts_a.type = 'pipeline_run' AND contexts_a.name = {quoted(run_id)}"
    )
    graph = _graph(store.get_lineage_subgraph(options), keep_cached=True)
    return graph.restricted({e.artifact_id for e in graph.edges}, set(graph.executions))
