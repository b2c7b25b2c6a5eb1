"""`lightrank runs` output: what ML Metadata recorded about each run, newest first.

Reads nothing but the store (and, for a SQLite store, probes its run lock), so it needs no
TensorFlow and answers in about a second.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lightrank.pipeline.metadata.runs import RunRecord
from lightrank.pipeline.metadata.spans import describe_spans


def _time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def run_json(run: RunRecord) -> dict[str, Any]:
    """One run as plain data."""
    return {
        "run_id": run.run_id,
        "started": run.started.isoformat() if run.started else None,
        "ended": run.ended.isoformat() if run.ended else None,
        "status": run.status,
        "failed_component": run.failed_component,
        "blessed": run.blessed,
        "pushed_model": run.pushed_model,
        "spans": run.spans,
        "components": [dataclasses.asdict(c) for c in run.components],
    }


#: What a status that is not self-explanatory means, printed under the table when a run has it.
STATUS_NOTES = {
    "cancelled": "cancelled: stopped by Ctrl-C or SIGTERM (recorded by the run as it ended)",
    "abandoned": (
        "abandoned: components never finished and no process holds the store's run lock for the run "
        "(its process died, e.g. killed or out of memory)"
    ),
}


def _status(run: RunRecord) -> str:
    return f"{run.status} ({run.failed_component})" if run.failed_component else run.status


def runs_table(runs: list[RunRecord]) -> str:
    """The runs, newest first, each with its components' wall times."""
    header = f"{'RUN':<28} {'STARTED (UTC)':<20} {'ENDED (UTC)':<20} {'STATUS':<22} {'BLESSED':<8} PUSHED"
    lines = [header]
    for run in runs:
        blessed = "-" if run.blessed is None else ("yes" if run.blessed else "no")
        lines.append(
            f"{run.run_id:<28} {_time(run.started):<20} {_time(run.ended):<20} {_status(run):<22} "
            f"{blessed:<8} {run.pushed_model or '-'}"
        )
        parts = [
            f"{c.component} {c.seconds:.1f}s" + ("" if c.state == "complete" else f" ({c.state})")
            for c in run.components
            if not c.component.endswith("_resolver")
        ]
        lines.append("    " + " · ".join(parts))
        if run.spans:
            lines.append(f"    spans read: {describe_spans(run.spans)}")
    shown = {run.status for run in runs}
    lines.extend(note for status, note in STATUS_NOTES.items() if status in shown)
    return "\n".join(lines)
