"""A run report's content from ML Metadata: the run's record, its model's trace, the lineage graph.

Used by `lightrank report`. A run that trained or evaluated a model is reported
through the model's trace (`lightrank.pipeline.metadata.trace`), with the evaluation and push
of that run; a run that stopped earlier (e.g. at the anomaly gate) is reported
from its own executions: its data section and lineage still say why it stopped.
"""

from __future__ import annotations

import ml_metadata as mlmd

from lightrank.components.run_report.content import ArtifactRef, ReportContent, RunFacts, collect
from lightrank.components.run_report.svg import GraphNode
from lightrank.pipeline.metadata.graph import LineageGraph, run_graph
from lightrank.pipeline.metadata.lineage import resolve_model
from lightrank.pipeline.metadata.runs import RunRecord
from lightrank.pipeline.metadata.trace import ModelTrace, RunSettings, run_settings, trace_model


def graph_drawing(graph: LineageGraph) -> tuple[list[GraphNode], list[tuple[str, str]]]:
    """Nodes and edges of a lineage graph for `lightrank.components.run_report.svg.dag_chart`."""
    nodes = [
        GraphNode(f"a{a.id}", a.type, f"artifact {a.id}\n{a.uri}", is_execution=False)
        for a in sorted(graph.artifacts.values(), key=lambda a: a.id)
    ]
    nodes += [
        GraphNode(f"e{x.id}", x.component, f"execution {x.id} ({x.state})\nrun {x.run_id}", is_execution=True)
        for x in sorted(graph.executions.values(), key=lambda x: x.id)
    ]
    edges = [
        (f"a{e.artifact_id}", f"e{e.execution_id}")
        if e.direction == "input"
        else (f"e{e.execution_id}", f"a{e.artifact_id}")
        for e in graph.edges
    ]
    return nodes, list(dict.fromkeys(edges))


def _facts(
    pipeline_name: str, run: RunRecord | None, trace: ModelTrace | None, settings: RunSettings, source: str
) -> RunFacts:
    pushed = trace.roles.get("pushed_model") if trace else None
    return RunFacts(
        pipeline_name=pipeline_name,
        run_id=run.run_id if run else (trace.run_id if trace else None),
        status=(f"{run.status} ({run.failed_component})" if run.failed_component else run.status)
        if run
        else None,
        started=run.started if run else None,
        ended=run.ended if run else None,
        blessed=_blessed(trace) if trace else (run.blessed if run else None),
        pushed_destination=str(pushed.properties.get("pushed_destination")) if pushed else None,
        pushed_at=pushed.created if pushed else None,
        config_digest=settings.digest,
        code_version=settings.code_version,
        config=settings.config,
        source=source,
    )


def _blessed(trace: ModelTrace) -> bool | None:
    blessing = trace.roles.get("blessing")
    return None if blessing is None else blessing.properties.get("blessed") == 1


def content_for_trace(
    pipeline_name: str,
    trace: ModelTrace,
    run: RunRecord | None,
    source: str,
    settings: RunSettings | None = None,
) -> ReportContent:
    """The report of a model's trace (and the run it is reported for).

    Args:
        pipeline_name: The pipeline's name.
        trace: The model's trace.
        run: The run the report is of, if any.
        source: Where the report was made, for its header.
        settings: The config and code version to show; by default those of the run that trained the model.
    """
    refs = [ArtifactRef(role, a.id, a.type, a.uri) for role, a in trace.roles.items()]
    nodes, edges = graph_drawing(trace.graph)
    facts = _facts(pipeline_name, run, trace, settings or trace.settings, source)
    return collect(facts, refs, nodes, edges)


def content_for_run(
    store: mlmd.MetadataStore, pipeline_name: str, run: RunRecord, source: str
) -> ReportContent:
    """The report of one run: through its model when it has one, else from its own executions.

    The config and code version shown are the ones this run recorded (a run the
    anomaly gate stopped recorded them too).
    """
    settings = run_settings(store, run.run_id)
    if run.model_uri:
        model = resolve_model(store, pipeline_name, run.model_uri)
        trace = trace_model(store, model, run_id=run.run_id)
        return content_for_trace(pipeline_name, trace, run, source, settings)
    graph = run_graph(store, run.run_id)
    refs = []
    for execution in sorted(graph.executions.values(), key=lambda x: x.id):
        for key, artifact in graph.outputs(execution.id).items():
            if key in ("examples", "statistics", "anomalies", "schema"):
                refs.append(ArtifactRef(key, artifact.id, artifact.type, artifact.uri))
    nodes, edges = graph_drawing(graph)
    return collect(_facts(pipeline_name, run, None, settings, source), refs, nodes, edges)
