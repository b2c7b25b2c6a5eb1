"""The quality table in Markdown: one row per model, then each model paired against the reference.

`lightrank_bench.quality` measures the rows; this module only renders them, with the eval split's
size, the extra package versions, what the fair LightGBM reads, and, when the rows pool several
seeds, what each seed gave.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lightrank_bench.quality import REFERENCE
from lightrank_bench.quality_cost import COST_BATCH, ServingCost
from lightrank_bench.quality_paired import ROUNDS
from lightrank_bench.quality_rows import QualityRow


def _value(value: float, digits: int) -> str:
    return "n/a" if np.isnan(value) else f"{value:.{digits}f}"


def _cost(cost: ServingCost | None) -> str:
    return " - | - |" if cost is None else f" {cost.kflop:.1f} | {cost.candidates_per_sec:,.0f} |"


def _per_seed(row: QualityRow) -> str:
    """`0.7096 / 0.5088, 0.7195 / 0.5071`: each training's AUC / recall (10, 3); `-` for one."""
    if len(row.per_seed) < 2:
        return "-"
    return ", ".join(f"{_value(auc, 4)} / {_value(recall, 4)}" for auc, recall in row.per_seed)


def quality_table(rows: Sequence[QualityRow], command: Sequence[str]) -> str:
    """The quality table: one row per model, with the eval split's size and the extra package versions.

    Raises:
        ValueError: If there are no rows or they were not scored on the same candidates.
    """
    from lightrank_bench.tables import header, package_versions

    if not rows:
        raise ValueError("no quality rows to print")
    sizes = {(row.metrics.num_candidates, row.metrics.num_requests) for row in rows}
    if len(sizes) != 1:
        raise ValueError(f"rows were scored on different eval splits: (candidates, requests) {sorted(sizes)}")
    candidates, requests = sizes.pop()
    lines = header("Quality on held-out requests (eval split, unweighted)", command)
    lines[-1:-1] = [
        f"- Also: {package_versions(('lightgbm', 'scikit-learn'))}",
        f"- Eval split: {candidates:,} candidates of {requests:,} requests; every model trained on the "
        "same train split",
        *(f"- `{row.model}` inputs: {row.inputs}" for row in rows if row.inputs),
    ]
    seeds = max(len(row.per_seed) for row in rows)
    if seeds > 1:
        lines[-1:-1] = [
            f"- Seeds: every row is the mean of {seeds} trainings that differ only in their seed (Keras: "
            "the config's seed plus 0, 1, ...; `lightgbm`: its early-stopping slice and boosting; "
            "`random`: its scores); the last column has each one's AUC / recall (10, 3)"
        ]
    with_cost = any(row.cost is not None for row in rows)
    if with_cost:
        lines[-1:-1] = [
            f"- Serving cost (Keras models): counted kFLOP per candidate and `serving_default` candidates/s "
            f"on serialized candidates at batch {COST_BATCH:,} on one thread, each exported model timed "
            "in a fresh process (`quality_cost`)"
        ]
    cost_header = " kFLOP | candidates/s |" if with_cost else ""
    seed_header = " per seed: AUC / recall (10, 3) |" if seeds > 1 else ""
    lines += [
        "| model | AUC | RCE | NRCE | recall (10, 3) | recall (50, 3) | recall (100, 3) | recall (100, 10) "
        "| CGR (100, 10) | training | training time |" + cost_header + seed_header,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"
        + ("---:|---:|" if with_cost else "")
        + ("---|" if seeds > 1 else ""),
    ]
    for row in rows:
        m = row.metrics
        seconds = f"{row.train_seconds:.1f} s" if row.train_seconds > 0 else "-"
        lines.append(
            f"| {row.model} | {_value(m.auc, 4)} | {_value(m.rce, 2)} | {_value(m.nrce, 2)} "
            f"| {_value(row.recall_10_3, 4)} | {_value(m.recall_50_3, 4)} "
            f"| {_value(m.recall_100_3, 4)} | {_value(m.recall_100_10, 4)} | {_value(m.cgr_100_10, 4)} "
            f"| {row.training} | {seconds} |"
            + (_cost(row.cost) if with_cost else "")
            + (f" {_per_seed(row)} |" if seeds > 1 else "")
        )
    return "\n".join(lines + _paired_lines(rows, requests)) + "\n"


def _paired_lines(rows: Sequence[QualityRow], requests: int) -> list[str]:
    """The table of `REFERENCE` against every other row, if the rows were compared."""
    compared = [row for row in rows if row.against_reference is not None]
    if not compared:
        return []
    pooled = any(len(row.per_seed) > 1 for row in rows)
    lines = [
        "",
        f"`{REFERENCE}` minus each model, paired over the same {requests:,} eval requests ({ROUNDS:,} "
        "bootstrap resamples of the requests"
        + (", each redrawing both models' seeds" if pooled else "")
        + ", 95% intervals): `ahead` when the whole interval is above 0, `behind` when below, else `tie`.",
        "",
        "| model | AUC difference [95% interval] | AUC "
        "| recall (10, 3) difference [95% interval] | recall (10, 3) |",
        "|---|---:|---|---:|---|",
    ]
    for row in compared:
        assert row.against_reference is not None
        auc, recall = row.against_reference
        lines.append(
            f"| {row.model} | {auc.describe(4)} | {auc.verdict} | {recall.describe(4)} | {recall.verdict} |"
        )
    return lines
