"""`lightrank compare` output: two runs' metrics side by side and every setting that differs.

The settings are the pipeline config the run recorded (on its AnomalyGate or
RunReport, so also a run the gate stopped or that failed in training) and the
Trainer's effective hyper-parameters (its `custom_config`, recorded by every run
that trained, also by runs from before the config was recorded).
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from lightrank.components.model_evaluation import key_metric_names
from lightrank.components.run_report.numbers import format_number
from lightrank.pipeline.metadata.graph import LineageGraph
from lightrank.pipeline.metadata.runs import RunRecord
from lightrank.pipeline.metadata.trace import settings_of


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    flat_a, flat_b = _flatten(a), _flatten(b)
    return [
        (key, flat_a.get(key), flat_b.get(key))
        for key in sorted(set(flat_a) | set(flat_b))
        if flat_a.get(key) != flat_b.get(key)
    ]


def trainer_settings(graph: LineageGraph) -> dict[str, Any] | None:
    """The effective model settings of a run's Trainer (its `custom_config`, features left out)."""
    trainers = [
        x for x in graph.executions.values() if "custom_config" in x.properties and "run_fn" in x.properties
    ]
    if not trainers:
        return None
    settings = json.loads(str(trainers[0].properties["custom_config"]))
    settings.pop("features", None)
    return settings


def run_config(graph: LineageGraph) -> tuple[dict[str, Any] | None, str | None]:
    """The pipeline config and its digest, from whichever execution of the run recorded them.

    Args:
        graph: Every execution of the run (`lightrank.pipeline.metadata.graph.run_graph`).

    Returns:
        (config, digest), both None for a run from before the pipeline recorded them.
    """
    settings = settings_of(graph.executions.values())
    return settings.config, settings.digest


@dataclasses.dataclass(frozen=True)
class RunSide:
    """What `compare` needs of one run."""

    run: RunRecord
    metrics: dict[str, dict[str, float]]
    config: dict[str, Any] | None
    config_digest: str | None
    trainer: dict[str, Any] | None
    notes: tuple[str, ...] = ()


def compare_json(a: RunSide, b: RunSide) -> dict[str, Any]:
    """Metrics of both runs per slice, and the settings that differ."""
    slices = ["Overall", *sorted((set(a.metrics) | set(b.metrics)) - {"Overall"})]
    metrics = {
        name: {
            metric: {"a": a.metrics.get(name, {}).get(metric), "b": b.metrics.get(name, {}).get(metric)}
            for metric in sorted(set(a.metrics.get(name, {})) | set(b.metrics.get(name, {})))
        }
        for name in slices
        if name in a.metrics or name in b.metrics
    }
    config_diff = _differences(a.config, b.config) if a.config is not None and b.config is not None else None
    trainer_diff = (
        _differences(a.trainer, b.trainer) if a.trainer is not None and b.trainer is not None else None
    )
    return {
        "a": {"run_id": a.run.run_id, "status": a.run.status, "config_digest": a.config_digest},
        "b": {"run_id": b.run.run_id, "status": b.run.status, "config_digest": b.config_digest},
        "notes": [*a.notes, *b.notes],
        "metrics": metrics,
        "config_differences": None if config_diff is None else [list(d) for d in config_diff],
        "trainer_differences": None if trainer_diff is None else [list(d) for d in trainer_diff],
    }


def _change(a: float | None, b: float | None) -> str:
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return ""
    return f"{b - a:+.4f}"


def compare_table(compared: dict[str, Any]) -> str:
    """Side by side: key metrics per slice, then each differing setting."""
    a, b = compared["a"]["run_id"], compared["b"]["run_id"]
    lines = [f"A: {a} ({compared['a']['status']})", f"B: {b} ({compared['b']['status']})", ""]
    if compared["notes"]:
        lines += [f"Note: {note}" for note in compared["notes"]] + [""]
    lines.append(f"{'metric':<36} {'A':>14} {'B':>14} {'B - A':>12}")
    for slice_name, metrics in compared["metrics"].items():
        shown = key_metric_names(metrics)
        if not shown:
            continue
        lines.append(slice_name)
        for name in shown:
            va, vb = metrics[name]["a"], metrics[name]["b"]
            shown_a, shown_b = format_number(va) or "-", format_number(vb) or "-"
            lines.append(f"  {name:<34} {shown_a:>14} {shown_b:>14} {_change(va, vb):>12}")
    lines.append("")
    config = compared["config_differences"]
    if config is None:
        lines.append(
            "Pipeline config: not recorded for both runs (a run from before the pipeline recorded its config)"
        )
    else:
        lines.append(
            f"Pipeline config differences ({len(config)}):" if config else "Pipeline config: identical"
        )
        lines += [f"  {key}: {va!r} -> {vb!r}" for key, va, vb in config]
    trainer = compared["trainer_differences"]
    if trainer is None:
        lines.append("Trainer settings: not comparable (a run has no Trainer: it stopped before training)")
    else:
        lines.append(
            f"Trainer settings differences ({len(trainer)}):" if trainer else "Trainer settings: identical"
        )
        lines += [f"  {key}: {va!r} -> {vb!r}" for key, va, vb in trainer]
    return "\n".join(lines)
