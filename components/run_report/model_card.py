"""The model card of a run report: intended use, data, metrics and limits.

A platform team deciding whether a model may serve needs the same four answers
every time; they are derived here from the run's own numbers, so the card cannot
drift from the evidence beside it. The limits are the ones this model family
actually has (the light ranker imitates the heavy ranker: docs/model.md, Data contract), plus the ones
the numbers of this run reveal (small slices, miscalibration, anomalies).
"""

from __future__ import annotations

import dataclasses
import math

from lightrank.components.run_report.calibration import calibration_effect, calibration_line
from lightrank.components.run_report.content import ReportContent
from lightrank.errors import shorten
from lightrank.models.deepnorm.config import TASKS

#: Slices with fewer evaluation examples than this get a "noisy" warning.
SMALL_SLICE = 1000
#: |predicted ctr / ctr - 1| above this is called out as miscalibration.
CALIBRATION_TOLERANCE = 0.2
_HEADLINE = (
    "auc_unweighted",
    "rce_unweighted",
    "nrce_unweighted",
    "recall_atLight_100_atHeavy_10",
    "cgr_atLight_100_atHeavy_10",
)


@dataclasses.dataclass(frozen=True)
class CardSection:
    """A heading and its lines of plain text."""

    heading: str
    lines: tuple[str, ...]


def _intended_use(content: ReportContent) -> CardSection:
    if content.settings is None and "model" in content.notes:
        return CardSection("Intended use", (f"Unknown: the {content.notes['model']}.",))
    if content.settings is None:
        return CardSection(
            "Intended use",
            ("This run produced no model (it stopped before training, see its status); nothing to use.",),
        )
    settings = content.settings
    task = settings.get("task", "unknown")
    label = settings.get("label")
    learns = TASKS.get(task, "its label")
    kind = settings.get("kind", "unknown")
    return CardSection(
        "Intended use",
        (
            f"A {kind} light ranker for push-notification candidates: it scores every candidate of a "
            "request cheaply so that only the best few hundred reach the expensive heavy ranker.",
            f"Task {task}" + (f" (label {label})" if label else "") + f": it learns {learns}.",
            "Not for deciding what is sent: the heavy ranker and the send policy do that. Not validated "
            "for other surfaces or for populations unlike its training data.",
        ),
    )


def _data(content: ReportContent) -> CardSection:
    lines = []
    examples = content.artifact("examples")
    if examples is not None:
        lines.append(f"Examples: {examples.uri} (artifact {examples.id}).")
    if content.data is not None:
        rows = ", ".join(f"{split} {count:,}" for split, count in sorted(content.data.rows.items()))
        lines.append(f"Rows per split: {rows}; {len(content.data.features)} features in the statistics.")
    if content.anomalies is not None:
        lines.append(
            f"Schema anomalies: {len(content.anomalies)}." if content.anomalies else "No schema anomalies."
        )
    return CardSection("Data", tuple(lines) or ("No data artifacts were recorded for this model.",))


def _metrics(content: ReportContent) -> CardSection:
    overall = content.overall
    lines = [f"{name} = {overall[name]:.4f} (eval split, overall)" for name in _HEADLINE if name in overall]
    sliced = {
        name: values
        for name, values in content.metrics.items()
        if name != "Overall" and math.isfinite(values.get("auc_unweighted", math.nan))
    }
    if sliced:
        worst = min(sliced, key=lambda name: sliced[name]["auc_unweighted"])
        auc, count = sliced[worst]["auc_unweighted"], sliced[worst].get("example_count", math.nan)
        lines.append(
            f"Weakest slice by auc_unweighted: {shorten(worst, 200)} ({auc:.4f} on {count:,.0f} examples)."
        )
    platt = calibration_effect(content.settings)
    if platt is not None:
        lines.append(f"Calibration: {calibration_line(platt)}.")
    if content.run.blessed is not None:
        lines.append(
            "Blessed: every quality gate passed." if content.run.blessed else "NOT blessed: a gate failed."
        )
    if "evaluation" in content.notes:
        lines.append(f"Unknown: the {content.notes['evaluation']}.")
    return CardSection("Metrics", tuple(lines) or ("No evaluation was recorded for this model.",))


def _limits(content: ReportContent) -> CardSection:
    lines = [
        "Recall and CGR measure agreement with the heavy ranker, not user outcomes: the model inherits "
        "the heavy ranker's biases and cannot be better than it by these metrics.",
    ]
    overall = content.overall
    ctr, predicted = overall.get("ctr_unweighted"), overall.get("predicted_ctr_unweighted")
    if ctr and predicted is not None and abs(predicted / ctr - 1) > CALIBRATION_TOLERANCE:
        lines.append(
            f"Miscalibrated: mean prediction {predicted:.4f} vs. observed rate {ctr:.4f}; use the scores "
            "to rank, not as probabilities"
            + (
                "."
                if calibration_effect(content.settings) is not None
                else " (or set model.calibration: platt, which recalibrates them on the eval split)."
            )
        )
    small = sorted(
        name
        for name, values in content.metrics.items()
        if name != "Overall" and values.get("example_count", math.inf) < SMALL_SLICE
    )
    if small:
        lines.append(
            f"{len(small)} slice(s) have fewer than {SMALL_SLICE:,} evaluation examples: "
            "their metrics are noisy."
        )
    training = content.training or {}
    if training.get("stop_reason") == "max_steps":
        lines.append(
            f"Training stopped at its step budget ({training.get('steps')} steps), not by early stopping."
        )
    if content.anomalies:
        lines.append("The data had schema anomalies: see the data section.")
    return CardSection("Limits", tuple(lines))


def model_card(content: ReportContent) -> tuple[CardSection, ...]:
    """The four sections of the model card."""
    return (_intended_use(content), _data(content), _metrics(content), _limits(content))
