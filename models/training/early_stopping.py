"""Early-stopping bookkeeping on a maximised metric (docs/model.md, Early stopping).

Kept free of TensorFlow so the decision logic can be tested on a crafted sequence.
Semantics follow twml's `EarlyStopHook` within one run, with its flaws fixed: an
evaluation improves when it beats the best by more than `min_delta` (the original's
tolerance only applied to a best value reloaded from disk, 0 reproduces it); a NaN
metric (e.g. an evaluation set with a single class) never improves but does count
against patience, so a NaN first evaluation can no longer leave "best" undefined in a
way that crashes anything: the best simply stays unset until a finite value arrives.
"""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class EarlyStopDecision:
    """What to do after one evaluation.

    Attributes:
        improved: The evaluation is the new best; snapshot the weights now.
        stop: Patience is exhausted; stop training.
    """

    improved: bool
    stop: bool


class EarlyStopping:
    """Tracks the best value of a maximised metric and counts evaluations without improvement.

    Args:
        patience: Stop after this many consecutive evaluations without improvement; None never stops.
        min_delta: Required margin over the best value to count as an improvement.
    """

    def __init__(self, patience: int | None, min_delta: float = 0.0) -> None:
        if patience is not None and patience < 1:
            raise ValueError(f"patience={patience!r} is invalid: expected None or an int >= 1")
        if not min_delta >= 0.0:
            raise ValueError(f"min_delta={min_delta!r} is invalid: expected a float >= 0")
        self.patience = patience
        self.min_delta = float(min_delta)
        self.best_value = math.nan
        self.best_step: int | None = None
        self.evaluations_without_improvement = 0

    def update(self, step: int, value: float) -> EarlyStopDecision:
        """Records the metric `value` measured at `step` and decides.

        Returns:
            Whether this is a new best and whether to stop.
        """
        improved = math.isfinite(value) and (
            self.best_step is None or value > self.best_value + self.min_delta
        )
        if improved:
            self.best_value = float(value)
            self.best_step = step
            self.evaluations_without_improvement = 0
        else:
            self.evaluations_without_improvement += 1
        stop = self.patience is not None and self.evaluations_without_improvement >= self.patience
        return EarlyStopDecision(improved=improved, stop=stop)
