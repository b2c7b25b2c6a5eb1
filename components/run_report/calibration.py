"""What calibration did to a model, read back from its `model_settings.json`, for every view.

The Trainer records Platt's a and b and the eval split's unweighted scores before and after
(`lightrank.models.calibration.CalibrationRecord.to_dict`) with the model. The run report, the
end-of-run summary and `lightrank lineage` all show it through this module, so they say the
same thing in the same words: a reader who sees an RCE that moved between two runs must be able
to tell a better model from a recalibrated one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from lightrank.components.run_report.numbers import format_number

#: The scores compared before and after, as (label, metric name), in the order shown.
EFFECT_METRICS = (
    ("RCE", "rce_unweighted"),
    ("NRCE", "nrce_unweighted"),
    ("AUC", "auc_unweighted"),
    ("predicted ctr", "predicted_ctr_unweighted"),
    ("ctr", "ctr_unweighted"),
)


@dataclasses.dataclass(frozen=True)
class CalibrationEffect:
    """A model's calibration and its effect on the eval split (unweighted).

    Attributes:
        method: `platt`.
        applied: Whether the exported model serves calibrated predictions.
        a: Platt's slope, None when nothing was fitted.
        b: Platt's offset.
        reason: Why it was not applied ("" when it was).
        examples: Eval candidates fitted on.
        rows: (label, before, after) per `EFFECT_METRICS`; after is None when not applied.
    """

    method: str
    applied: bool
    a: float | None
    b: float | None
    reason: str
    examples: int
    rows: tuple[tuple[str, float | None, float | None], ...]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def calibration_effect(settings: Mapping[str, Any] | None) -> CalibrationEffect | None:
    """The calibration recorded in a model's settings; None for a model trained without it."""
    record = (settings or {}).get("calibration")
    if not isinstance(record, Mapping):
        return None
    before = record.get("before") or {}
    after = record.get("after") or {}
    return CalibrationEffect(
        method=str(record.get("method", "platt")),
        applied=bool(record.get("applied")),
        a=_number(record.get("a")),
        b=_number(record.get("b")),
        reason=str(record.get("reason") or ""),
        examples=int(record.get("examples") or 0),
        rows=tuple(
            (label, _number(before.get(name)), _number(after.get(name)) if after else None)
            for label, name in EFFECT_METRICS
        ),
    )


def _shown(value: float | None) -> str:
    return "n/a" if value is None else format_number(value)


def calibration_line(effect: CalibrationEffect) -> str:
    """One line: what was fitted and how RCE and NRCE moved, or why nothing was applied.

    E.g. `Platt a=0.9812 b=-1.3870 on 3,815 eval candidates: RCE -4.1234 -> 2.0412, NRCE
    2.3456 -> 2.0412 (eval split, unweighted)`.
    """
    rows = {label: (before, after) for label, before, after in effect.rows}
    if not effect.applied:
        return f"{effect.method} skipped, the model serves uncalibrated predictions: {effect.reason}"
    moved = ", ".join(
        f"{label} {_shown(rows[label][0])} -> {_shown(rows[label][1])}" for label in ("RCE", "NRCE")
    )
    return (
        f"{effect.method.capitalize()} a={_shown(effect.a)} b={_shown(effect.b)} on "
        f"{format_number(effect.examples)} eval candidates: {moved} (eval split, unweighted)"
    )
