"""How training went, in the same words in the run report and in `lightrank lineage`.

The Trainer keeps the weights of its best evaluation, chosen by the early-stopping metric
(`model.training.early_stop_metric`: unweighted RCE, or NRCE for the `default` preset). The
training summary's `best_rce_unweighted` is the RCE at that step, which under NRCE stopping need
not be the highest RCE seen, so the line names the metric that chose the step. A preset's
settings for large data (`lightrank.models.scaling`) are decided by the Trainer from its train
split, after the hyper-parameters ML Metadata records were fixed, so their line says which of
them the model was really built with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightrank.components.run_report.numbers import format_number


def training_line(summary: Mapping[str, Any]) -> str:
    """How training ended and the best step, with the metric that chose it.

    E.g. `40 steps, stopped by early_stop; best step 30 (by eval NRCE): unweighted RCE 12.5000,
    NRCE 13.1000`.

    Args:
        summary: The Trainer's `training_summary.json`. Summaries written before the metric was
            recorded (no `early_stop_metric`) were all chosen by RCE; before NRCE was recorded
            (no `best_eval`) the line has no NRCE.
    """
    metric = str(summary.get("early_stop_metric", "rce")).upper()
    rce = summary.get("best_rce_unweighted")
    line = (
        f"{summary.get('steps')} steps, stopped by {summary.get('stop_reason')}; best step "
        f"{summary.get('best_step')} (by eval {metric}): unweighted RCE {format_number(rce)}"
    )
    nrce = (summary.get("best_eval") or {}).get("nrce_unweighted")
    return line + (f", NRCE {format_number(nrce)}" if nrce is not None else "")


def scaling_line(summary: Mapping[str, Any]) -> str | None:
    """What the Trainer did with the preset's settings for large data, or None if it had no rule.

    E.g. `240,363 train candidates >= 150,000: the preset's settings for large data,
    sparse_embedding_size=16, early_stop_patience=5` or `80,123 train candidates < 150,000: the
    preset's settings as they are`. ML Metadata's hyper-parameters are the preset's and the
    config's; the ones named here replace them.

    Args:
        summary: `training_summary.json` or `model_settings.json`: both hold `data_scaling`.
    """
    decision = summary.get("data_scaling")
    if not decision:
        return None
    count, threshold = decision["train_candidates"], decision["min_train_candidates"]
    applied = decision.get("applied") or {}
    if not applied:
        return f"{count:,} train candidates < {threshold:,}: the preset's settings as they are"
    values = ", ".join(f"{key}={value}" for key, value in applied.items())
    return f"{count:,} train candidates >= {threshold:,}: the preset's settings for large data, {values}"
