from __future__ import annotations

import math

import pytest

from lightrank.models.training.early_stopping import EarlyStopping


def _run(stopper: EarlyStopping, values: list[float]) -> list[tuple[bool, bool]]:
    return [
        (decision.improved, decision.stop)
        for step, value in enumerate(values, start=1)
        for decision in [stopper.update(step * 100, value)]
    ]


def test_patience_counts_consecutive_evaluations_without_improvement() -> None:
    stopper = EarlyStopping(patience=2)
    decisions = _run(stopper, [1.0, 2.0, 1.5, 3.0, 2.9, 3.0])
    assert decisions == [
        (True, False),
        (True, False),
        (False, False),
        (True, False),
        (False, False),
        (False, True),
    ]
    assert (stopper.best_step, stopper.best_value) == (400, 3.0)


def test_nan_first_evaluation_does_not_become_the_best() -> None:
    stopper = EarlyStopping(patience=3)
    decisions = _run(stopper, [math.nan, 1.0, math.nan, 0.5])
    assert decisions == [(False, False), (True, False), (False, False), (False, False)]
    assert (stopper.best_step, stopper.best_value) == (200, 1.0)


def test_all_nan_leaves_no_best_and_stops_after_patience() -> None:
    stopper = EarlyStopping(patience=2)
    assert _run(stopper, [math.nan, math.nan]) == [(False, False), (False, True)]
    assert stopper.best_step is None and math.isnan(stopper.best_value)


def test_min_delta_is_a_required_margin() -> None:
    stopper = EarlyStopping(patience=None, min_delta=0.1)
    decisions = _run(stopper, [1.0, 1.05, 1.1, 1.2, -5.0, -6.0, -7.0])
    assert [improved for improved, _ in decisions] == [True, False, False, True, False, False, False]
    assert not any(stop for _, stop in decisions)  # no patience, never stops
    assert stopper.best_step == 400


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="patience=0"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="min_delta=-1"):
        EarlyStopping(patience=1, min_delta=-1.0)
