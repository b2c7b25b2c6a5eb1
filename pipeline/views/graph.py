"""Text forms of a lineage graph that need no artifact files: JSON, Graphviz DOT, a "used by" table.

Kept apart from `lineage_view` (which reads statistics and TFMA output, and so
loads TensorFlow) so `lightrank lineage --dot` and `--downstream` answer in about
a second.
"""

from __future__ import annotations

from typing import Any

from lightrank.pipeline.metadata.graph import ArtifactInfo, ExecutionInfo, LineageGraph


def iso_time(value: Any) -> str | None:
    """A datetime as ISO 8601 to the second (None stays None)."""
    return value.isoformat(timespec="seconds") if value is not None else None


def artifact_json(artifact: ArtifactInfo) -> dict[str, Any]:
    """An artifact as plain data."""
    return {
        "id": artifact.id,
        "type": artifact.type,
        "uri": artifact.uri,
        "created": iso_time(artifact.created),
    }


def execution_json(execution: ExecutionInfo) -> dict[str, Any]:
    """An execution as plain data."""
    return {
        "id": execution.id,
        "component": execution.component,
        "state": execution.state,
        "run_id": execution.run_id,
        "started": iso_time(execution.started),
        "seconds": round((execution.ended - execution.started).total_seconds(), 1),
    }


def graph_json(graph: LineageGraph) -> dict[str, Any]:
    """The graph's nodes and events as plain data."""
    return {
        "artifacts": [artifact_json(a) for a in sorted(graph.artifacts.values(), key=lambda a: a.id)],
        "executions": [execution_json(x) for x in sorted(graph.executions.values(), key=lambda x: x.id)],
        "events": [
            {"artifact": e.artifact_id, "execution": e.execution_id, "direction": e.direction, "key": e.key}
            for e in graph.edges
        ],
    }


def _dot_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def graph_dot(graph: LineageGraph, title: str) -> str:
    """Graphviz DOT of a lineage graph: artifacts as ellipses, executions as boxes."""
    lines = [f'digraph "{_dot_label(title)}" {{', "  rankdir=LR;", '  node [fontname="sans-serif"];']
    for a in sorted(graph.artifacts.values(), key=lambda a: a.id):
        label = _dot_label(f"{a.type} {a.id}\\n{a.uri}")
        lines.append(f'  a{a.id} [shape=ellipse, style=filled, fillcolor="#dbe9f6", label="{label}"];')
    for x in sorted(graph.executions.values(), key=lambda x: x.id):
        label = _dot_label(f"{x.component} ({x.state})\\nexecution {x.id}, run {x.run_id}")
        lines.append(f'  e{x.id} [shape=box, style=filled, fillcolor="#fde9d9", label="{label}"];')
    for e in graph.edges:
        source, target = (f"a{e.artifact_id}", f"e{e.execution_id}")
        if e.direction == "output":
            source, target = target, source
        lines.append(f'  {source} -> {target} [label="{_dot_label(e.key)}"];')
    lines.append("}")
    return "\n".join(lines)


def downstream_table(artifact: ArtifactInfo, graph: LineageGraph) -> str:
    """What used an artifact: each execution downstream of it, with what it read and wrote."""
    lines = [f"{artifact.type} (artifact {artifact.id}) {artifact.uri}", "used by:"]
    executions = sorted(graph.executions.values(), key=lambda x: x.id)
    if not executions:
        lines.append("  nothing (no execution read it)")
    for x in executions:
        reads = ", ".join(f"{k}={a.id}" for k, a in sorted(graph.inputs(x.id).items()))
        writes = ", ".join(f"{a.type} {a.id}" for _, a in sorted(graph.outputs(x.id).items()))
        lines.append(f"  {x.component:<18} execution {x.id:<5} {x.state:<9} run {x.run_id}")
        lines.append(f"  {'':<18} read {reads or '-'}; wrote {writes or '-'}")
    return "\n".join(lines)
