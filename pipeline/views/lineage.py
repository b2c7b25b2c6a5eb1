"""`lightrank lineage` output: a model's trace as a table, JSON or Graphviz DOT.

`describe_trace` turns a `ModelTrace` into one JSON-safe mapping (reading the
few artifact files that hold what MLMD does not: row counts, anomalies,
metrics, the gates' outcome); the table and `--json` are two renderings of it,
so they always agree.
"""

from __future__ import annotations

import json
from typing import Any

from lightrank.components.model_evaluation import key_metric_names, metrics_by_slice
from lightrank.components.run_report import artifacts
from lightrank.components.run_report.calibration import calibration_effect, calibration_line
from lightrank.components.run_report.numbers import format_number
from lightrank.components.run_report.training import scaling_line, training_line
from lightrank.pipeline.metadata.graph import ExecutionInfo
from lightrank.pipeline.metadata.spans import describe_spans, spans_read
from lightrank.pipeline.metadata.trace import ModelTrace
from lightrank.pipeline.views.graph import artifact_json, execution_json, graph_json, iso_time

_DATA_ROLES = ("examples", "statistics", "anomalies", "schema", "transform_graph", "transformed_examples")
#: The roles whose files `describe_trace` reads; the others come from ML Metadata alone.
_READ_ROLES = ("statistics", "anomalies", "model_run", "evaluation")


def _hyper_parameters(trainer: ExecutionInfo) -> dict[str, Any]:
    custom = json.loads(str(trainer.properties.get("custom_config") or "{}"))
    features = custom.pop("features", {}) or {}
    if "task" in custom and custom["task"] in (features.get("labels") or {}):
        custom["label"] = features["labels"][custom["task"]]
    custom["feature_counts"] = {
        role: len(names) for role, names in features.items() if role in ("continuous", "sparse")
    }
    return custom


def describe_trace(trace: ModelTrace) -> dict[str, Any]:
    """Everything `lineage` shows about a model, JSON-safe.

    An artifact whose files are missing or unreadable (deleted, or a bucket
    without access) is listed with a note in `notes`, and what would have been
    read from it is None rather than empty.
    """
    roles = trace.roles
    graph = trace.graph
    notes = {
        role: note
        for role in _READ_ROLES
        if role in roles and (note := artifacts.unreadable(role, roles[role].id, roles[role].uri))
    }
    readable = {role: artifact for role, artifact in roles.items() if role not in notes}
    result: dict[str, Any] = {
        "model": {**artifact_json(trace.model), "run_id": trace.run_id},
        "notes": list(notes.values()),
    }
    data: dict[str, Any] = {role: artifact_json(roles[role]) for role in _DATA_ROLES if role in roles}
    if "examples" in data:
        examples = roles["examples"]
        data["examples"]["span"] = examples.properties.get("span")
        data["examples"]["version"] = examples.properties.get("version")
        data["examples"]["spans"] = spans_read(examples.properties)
        if "statistics" in readable:
            data["examples"]["rows"] = artifacts.data_summary(readable["statistics"].uri).rows
    if "anomalies" in data:
        data["anomalies"]["anomalies"] = (
            artifacts.anomaly_lines(readable["anomalies"].uri) if "anomalies" in readable else None
        )
        data["anomalies"]["gate"] = execution_json(trace.gate) if trace.gate is not None else None
    if "schema" in data:
        producer = graph.producer(roles["schema"].id)
        data["schema"]["source"] = producer.properties.get("schema_file") if producer else None
    result["data"] = data
    if "base_model" in roles:
        result["base_model"] = artifact_json(roles["base_model"])
    if "hyperparameters" in roles:
        tuned = roles["hyperparameters"]
        result["tuned"] = {**artifact_json(tuned), "values": artifacts.best_hyperparameters(tuned.uri)}
    if trace.trainer is not None:
        result["trainer"] = {
            **execution_json(trace.trainer),
            "hyper_parameters": _hyper_parameters(trace.trainer),
            "config_digest": trace.settings.digest,
            "code_version": trace.settings.code_version,
        }
        if "model_run" in roles:
            model_run = readable.get("model_run")
            summary = artifacts.training_summary(model_run.uri) if model_run else None
            (summary or {}).pop("history", None)
            result["trainer"]["model_run"] = {**artifact_json(roles["model_run"]), "summary": summary}
    if "evaluation" in roles:
        evaluation = readable.get("evaluation")
        overall = metrics_by_slice(evaluation.uri).get("Overall", {}) if evaluation else {}
        key_metrics = {name: overall[name] for name in key_metric_names(overall)}
        result["evaluation"] = {
            **artifact_json(roles["evaluation"]),
            "execution": execution_json(trace.evaluator) if trace.evaluator else None,
            "metrics": key_metrics if evaluation else None,
        }
        if "blessing" in roles:
            blessing = roles["blessing"]
            result["evaluation"]["blessing"] = {
                **artifact_json(blessing),
                "blessed": blessing.properties.get("blessed") == 1,
                "baseline_model_id": blessing.properties.get("baseline_model_id"),
                "gates": [vars(g) for g in artifacts.gates(evaluation.uri, overall)] if evaluation else None,
            }
    pushed = roles.get("pushed_model")
    result["push"] = (
        {
            **artifact_json(pushed),
            "destination": pushed.properties.get("pushed_destination"),
            "version": pushed.properties.get("pushed_version"),
            "pushed_at": iso_time(pushed.created),
        }
        if pushed is not None
        else None
    )
    result["graph"] = graph_json(graph)
    return result


def _row(label: str, item: dict[str, Any], note: str = "") -> str:
    return f"  {label:<21} artifact {item['id']:<5} {item['uri']}" + (f"\n  {'':<21} {note}" if note else "")


def _settings_lines(hyper: dict[str, Any]) -> list[str]:
    keys = ("kind", "task", "label", "preset", "max_steps")
    head = ", ".join(f"{key} {hyper[key]}" for key in keys if key in hyper)
    lines = [f"  {'hyper-parameters':<21} {head}"]
    for group in ("training", "deepnorm", "feature_counts"):
        values = hyper.get(group) or {}
        if values:
            lines.append(f"  {'':<21} {group}: " + ", ".join(f"{k}={v}" for k, v in sorted(values.items())))
    return lines


def _gate_text(gate: dict[str, Any]) -> str:
    value = "n/a" if gate["value"] is None else format_number(gate["value"])
    return f"{gate['metric']} {gate['rule']}: {value} {'passed' if gate['passed'] else 'FAILED'}"


def lineage_table(described: dict[str, Any]) -> str:
    """The human-readable trace (the default output of `lightrank lineage`)."""
    model = described["model"]
    lines = [f"Model (artifact {model['id']}) {model['uri']}", f"  trained in run {model['run_id']}"]
    if described["notes"]:
        lines += ["", "NOTES"] + [f"  {note}" for note in described["notes"]]
    lines += ["", "DATA"]
    data = described["data"]
    for role in _DATA_ROLES:
        if role not in data:
            continue
        item, note = data[role], ""
        if role == "examples":
            rows = ", ".join(
                f"{split} {count:,}" for split, count in sorted((item.get("rows") or {}).items())
            )
            span, version = item.get("span"), item.get("version")
            note = f"span {'-' if span is None else span}, version {'-' if version is None else version}, "
            if item.get("spans"):
                note = f"spans {describe_spans(item['spans'])}, "
            note += f"rows: {rows or 'unknown'}"
        elif role == "anomalies":
            gate = item.get("gate")
            found = "unreadable" if item["anomalies"] is None else "; ".join(item["anomalies"]) or "none"
            note = f"anomalies: {found}" + (f" (AnomalyGate: {gate['state']})" if gate else "")
        elif role == "schema" and item.get("source"):
            note = f"imported from {item['source']}"
        lines.append(_row(role, item, note))
    if "base_model" in described:
        lines.append(_row("warm-started from", described["base_model"]))
    trainer = described.get("trainer")
    if trainer:
        lines += ["", "TRAINING"]
        lines.append(
            f"  {'trainer':<21} execution {trainer['id']} ({trainer['state']}, {trainer['seconds']} s, "
            f"run {trainer['run_id']})"
        )
        lines += _settings_lines(trainer["hyper_parameters"])
        if "tuned" in described:
            values = described["tuned"]["values"]
            shown = (
                ", ".join(f"{k}={v}" for k, v in sorted(values.items()))
                if values is not None
                else "unreadable"
            )
            lines.append(
                _row("tuned by the Tuner", described["tuned"], f"best trial: {shown} (replace the above)")
            )
        lines.append(f"  {'config digest':<21} {trainer['config_digest'] or 'not recorded'}")
        lines.append(f"  {'code version':<21} {trainer['code_version'] or 'not recorded'}")
        if "model_run" in trainer:
            summary = trainer["model_run"]["summary"]
            note = training_line(summary) if summary else ""
            lines.append(_row("model_run", trainer["model_run"], note))
            effect = calibration_effect(summary)  # the Trainer records it in both places
            if effect is not None:
                lines.append(f"  {'calibration':<21} {calibration_line(effect)}")
            scaled = scaling_line(summary or {})
            if scaled is not None:
                lines.append(f"  {'train split size':<21} {scaled}")
    evaluation = described.get("evaluation")
    if evaluation:
        lines += ["", "EVALUATION"]
        metrics = (
            "metrics unreadable"
            if evaluation["metrics"] is None
            else ", ".join(f"{k} {format_number(v)}" for k, v in evaluation["metrics"].items())
        )
        lines.append(_row("evaluation", evaluation, metrics))
        blessing = evaluation.get("blessing")
        if blessing:
            gates = (
                "gates unreadable"
                if blessing["gates"] is None
                else "; ".join(_gate_text(g) for g in blessing["gates"])
            )
            verdict = "blessed" if blessing["blessed"] else "NOT blessed"
            lines.append(_row("blessing", blessing, f"{verdict}: {gates or 'no gates recorded'}"))
    push = described.get("push")
    lines += ["", "PUSH"]
    if push:
        lines.append(_row("pushed_model", push, f"to {push['destination']} at {push['pushed_at']}"))
    else:
        lines.append("  not pushed")
    return "\n".join(lines)
