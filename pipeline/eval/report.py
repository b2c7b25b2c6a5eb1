"""What `lightrank eval` prints: the key metrics by slice as a table, then where everything went.

The table has fixed columns (`TABLE_COLUMNS`, "-" where a metric was not computed), plus
one column per recall metric a config's `evaluation.grouped` added to the default cut-offs
(`added_recall_names`), so the (N, K) a user asked for is on screen, not only in the JSON.

This module imports nothing heavy: the CLI imports it to build its parser.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping

from lightrank.components.model_evaluation import added_recall_names
from lightrank.components.run_report.numbers import NOT_AVAILABLE
from lightrank.pipeline.eval.outputs import EvalOutputs

#: The table's fixed columns: (header, metric name). All metrics are in the JSON and the TFMA output.
TABLE_COLUMNS = (
    ("examples", "example_count"),
    ("requests", "num_requests"),
    ("auc", "auc_unweighted"),
    ("rce", "rce_unweighted"),
    ("nrce", "nrce_unweighted"),
    ("logloss", "log_loss_unweighted"),
    ("pred_ctr", "predicted_ctr_unweighted"),
    ("ctr", "ctr_unweighted"),
    ("R@50/3", "recall_atLight_50_atHeavy_3"),
    ("R@100/10", "recall_atLight_100_atHeavy_10"),
    ("CGR@100/10", "cgr_atLight_100_atHeavy_10"),
    ("NDCG@10", "ndcg_at_10"),
    ("no_heavy", "num_candidates_missing_heavy_score"),
)
_COUNTS = {"example_count", "num_requests", "num_candidates_missing_heavy_score"}
_LEGEND = (
    "Unweighted metrics. R@N/K = recall_atLight_N_atHeavy_K, CGR@N/K = cgr_atLight_N_atHeavy_K,\n"
    "NDCG@10 by heavy score, no_heavy = num_candidates_missing_heavy_score (candidates left out of\n"
    "R, CGR, NDCG and ExpectedLoss). n/a = undefined on the slice: auc with one label class; the\n"
    "request metrics on a slice that splits requests (by a candidate feature); rce, nrce with one class."
)
_RECALL = re.compile(r"recall_atLight_(\d+)_atHeavy_(\d+)")


@dataclasses.dataclass(frozen=True)
class EvalResult:
    """What one evaluation measured.

    Attributes:
        metrics: Scalar metrics by slice, NaN where undefined on the slice.
        candidates: Candidates in the data.
        missing_heavy_score: Of those, candidates without a heavy score.
        gates_passed: Whether every threshold held (True when there are none).
        failed_gates: The metrics whose threshold failed.
        prediction_rows: Rows written to `--predictions`, if asked for.
        gated: Whether there were thresholds at all (none without a config).
    """

    metrics: dict[str, dict[str, float]]
    candidates: int
    missing_heavy_score: int
    gates_passed: bool
    failed_gates: tuple[str, ...]
    prediction_rows: int | None
    gated: bool = True


def table_columns(metrics: Mapping[str, Mapping[str, float]]) -> tuple[tuple[str, str], ...]:
    """`TABLE_COLUMNS` with the added recall metrics (`R@N/K`) before NDCG@10."""
    added = added_recall_names(name for values in metrics.values() for name in values)
    extra = []
    for name in added:
        match = _RECALL.fullmatch(name)
        extra.append((f"R@{match[1]}/{match[2]}" if match else name, name))
    at = next(i for i, (_, metric) in enumerate(TABLE_COLUMNS) if metric == "ndcg_at_10")
    return (*TABLE_COLUMNS[:at], *extra, *TABLE_COLUMNS[at:])


def _cell(metric: str, value: float | None) -> str:
    """A table cell: "-" for a metric not computed, "n/a" for one undefined on the slice (NaN)."""
    if value is None:
        return "-"
    if math.isnan(value):
        return NOT_AVAILABLE
    return f"{value:,.0f}" if metric in _COUNTS else f"{value:.4f}"


def format_table(metrics: Mapping[str, Mapping[str, float]]) -> str:
    """Metrics by slice: one row per slice (Overall first), the key metrics as columns."""
    columns = table_columns(metrics)
    slices = sorted(metrics, key=lambda name: (name != "Overall", name))
    header = ["slice", *(title for title, _ in columns)]
    rows = [header] + [
        [name, *(_cell(metric, metrics[name].get(metric)) for _, metric in columns)] for name in slices
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    return "\n".join([*lines, _LEGEND])


def format_report(result: EvalResult, outputs: EvalOutputs) -> str:
    """The table and where everything went."""
    lines = ["", format_table(result.metrics), ""]
    if result.missing_heavy_score:
        lines.append(
            f"{result.missing_heavy_score:,} of {result.candidates:,} candidates lack a heavy score: the "
            "grouped metrics (R, CGR, ExpectedLoss) skip them; no_heavy counts them per slice."
        )
    if result.gated:
        gates = "passed" if result.gates_passed else f"FAILED ({', '.join(result.failed_gates)})"
        lines.append(f"Quality gates (absolute bounds of the config, overall slice): {gates}")
    else:
        lines.append("Quality gates: none (no --config)")
    lines.append(f"Evaluation:  {outputs.out_dir}")
    lines.append(f"Metrics:     {outputs.json_path}")
    if outputs.predictions_path:
        lines.append(f"Predictions: {outputs.predictions_path} ({result.prediction_rows:,} rows)")
    lines.append(f"Log:         {outputs.log_path}")
    return "\n".join(lines)
