"""Closed-form pieces of the RCE family, shared by training and evaluation.

The light ranker is judged by relative cross entropy (RCE): how much better its
cross entropy is than that of a constant predictor at the observed ctr. Early
stopping (Trainer), the TFMA metrics (Evaluator) and `lightrank eval` all use
these functions so the three can never disagree on a formula. Everything here is
float64 numpy; callers accumulate sums and pass them in.

The formulas: docs/model.md, Metrics, and docs/evaluation.md, Metrics.
"""

from __future__ import annotations

import math

import numpy as np

#: Predictions are clipped to [EPSILON, 1 - EPSILON] before the log loss, as twml did.
EPSILON = 1e-5


def clipped_log_loss(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Per-example binary cross entropy with twml's prediction clipping.

    Args:
        labels: Labels in [0, 1]; soft labels are allowed (distillation task).
        predictions: Predicted probabilities, any shape broadcastable to `labels`.

    Returns:
        float64 array of `-(y ln p + (1 - y) ln(1 - p))` with `p` clipped.
    """
    y = np.asarray(labels, dtype=np.float64)
    p = np.clip(np.asarray(predictions, dtype=np.float64), EPSILON, 1.0 - EPSILON)
    return -(y * np.log(p) + (1.0 - y) * np.log1p(-p))


def clipped_log_loss_scalar(label: float, prediction: float) -> float:
    """`clipped_log_loss` of one example in plain floats (no numpy call per example in a combiner)."""
    p = min(max(prediction, EPSILON), 1.0 - EPSILON)
    return -(label * math.log(p) + (1.0 - label) * math.log1p(-p))


def baseline_cross_entropy(ctr: float) -> float:
    """Cross entropy of always predicting `ctr` when the label rate is `ctr`.

    The baseline is deliberately *not* clipped (as twml's), so it is 0 (and RCE
    undefined) when the evaluation data holds a single class.
    """
    if not 0.0 < ctr < 1.0:
        return 0.0
    return float(-(ctr * np.log(ctr) + (1.0 - ctr) * np.log1p(-ctr)))


def rce_from_sums(sum_weight: float, sum_weighted_label: float, sum_weighted_log_loss: float) -> float:
    """RCE = 100 * (1 - CE_model / CE_baseline) from streaming sums.

    Args:
        sum_weight: Σw.
        sum_weighted_label: Σw·y.
        sum_weighted_log_loss: Σw·BCE(y, clip(p)).

    Returns:
        RCE in percent; NaN when it is undefined (no weight, or one class only).
    """
    if sum_weight <= 0.0:
        return float("nan")
    baseline = baseline_cross_entropy(sum_weighted_label / sum_weight)
    if baseline <= 0.0:
        return float("nan")
    return float(100.0 * (1.0 - (sum_weighted_log_loss / sum_weight) / baseline))


def rce(labels: np.ndarray, predictions: np.ndarray, weights: np.ndarray | None = None) -> float:
    """RCE of a whole evaluation set held in memory (see `rce_from_sums`)."""
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    p = np.asarray(predictions, dtype=np.float64).reshape(-1)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    return rce_from_sums(float(w.sum()), float((w * y).sum()), float((w * clipped_log_loss(y, p)).sum()))


def nrce(labels: np.ndarray, predictions: np.ndarray, weights: np.ndarray | None = None) -> float:
    """NRCE of a whole evaluation set held in memory: the RCE of `a·p`, `a = Σw·y / Σw·p`.

    The in-memory twin of the Evaluator's `nrce` metric (`rce_metrics.nrce_value`, which
    scores bucketed predictions and agrees to about 1e-7): the part of RCE that a rescaling
    of the predictions cannot win back, so a model whose RCE only suffers from a shifted
    prior keeps a positive NRCE. NaN when RCE is undefined or `Σw·p` is 0.
    """
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    p = np.asarray(predictions, dtype=np.float64).reshape(-1)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    sum_weighted_prediction = float((w * p).sum())
    if sum_weighted_prediction == 0.0:
        return float("nan")
    return rce(y, p * (float((w * y).sum()) / sum_weighted_prediction), w)
