"""Optional Platt scaling of a trained ranker on the eval split (`model.calibration: platt`).

Why: RCE compares the model's log loss with that of the eval split's own positive rate, so
when the eval split's rate differs from train's (a prior shift: a later period, another
population) every prediction is off by the same odds factor and RCE can go negative while the
ranking is as good as ever. NRCE, reported beside RCE, is the RCE left once the predictions
are rescaled to the rate; calibration puts such a correction into the served predictions.

How: `p = sigmoid(a * logit + b)`, fitted on the eval split's logits and labels after
training (`fit_platt`) and applied inside the exported serving graph, so the Evaluator, the
Pusher and serving all see the calibrated prediction (`lightrank.models.export`). For `a > 0`
it is strictly increasing in the logit, so it changes no ranking: AUC, recall, CGR and NDCG
stay what they were (up to float32 ties near 0 and 1). A fit with `a <= 0`, a single label
class or no convergence is skipped with a warning and the model exported uncalibrated
(`calibrate`). Platt rather than isotonic regression: isotonic is a step function, which ties
candidates a request must tell apart and so changes the grouped metrics; two numbers also fit
into a serving graph as constants.

The fit is unweighted, as the primary metrics and early stopping are: the "weighted" members
of the RCE family weigh a candidate by its raw heavy-rank position, i.e. *more* for worse
candidates (docs/model.md, Metrics), which is no weight to calibrate by. It is fitted and then
gated on the same eval split: two fitted parameters make that split's log loss optimistic by
about 2 nats in all (AIC), small on thousands of candidates but there (docs/model.md,
Calibration).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from lightrank.models.metrics import formulas

if TYPE_CHECKING:  # the config loader imports `CalibrationName`: no TensorFlow at load time
    import tensorflow as tf

logger = logging.getLogger(__name__)

#: `model.calibration`: `none` (the default, and every preset's) or `platt`.
CalibrationName = Literal["none", "platt"]
PLATT = "platt"
#: Newton steps at most: from the identity start the fit converges in well under 10.
MAX_NEWTON_STEPS = 50
#: Convergence: the largest change of a or b in a step, relative to 1 + |value|.
TOLERANCE = 1e-10


@dataclasses.dataclass(frozen=True)
class PlattFit:
    """A Platt fit `p = sigmoid(a * logit + b)`.

    Attributes:
        a: Slope on the logit (> 0 keeps the ranking).
        b: Offset in log-odds (a prior shift moves it by the log of the odds ratio).
        steps: Newton steps taken.
        converged: Whether the last step was below `TOLERANCE`.
    """

    a: float
    b: float
    steps: int
    converged: bool


def _log_loss(eta: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Σw·BCE(y, sigmoid(eta)) / Σw, from the log-odds without overflow."""
    return float((w * (np.logaddexp(0.0, eta) - y * eta)).sum() / w.sum())


def _sigmoid(eta: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * eta))  # no overflow for any eta


def fit_platt(
    logits: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    max_steps: int = MAX_NEWTON_STEPS,
) -> PlattFit:
    """Fits `a`, `b` of `sigmoid(a * logit + b)` by maximum likelihood, with Newton's method.

    This is logistic regression on one feature, the logit, so the log loss is convex in
    (a, b): Newton's method (IRLS) converges quadratically from the identity `a = 1, b = 0`
    (the model as trained, usually close) in a few steps, in float64 numpy over the eval
    logits, deterministically and without a learning rate, none of which a Keras fit of two
    numbers would give. Each step is halved until the loss does not increase, so a step can
    never make the fit worse; on separable data, where `a` grows without bound, the fit stops
    at `max_steps` unconverged.

    Args:
        logits: `[N]` raw logits of the model.
        labels: `[N]` labels in [0, 1]; soft labels (distillation) are fitted as they are.
        weights: `[N]` example weights; None weighs every example 1 (the trainer's choice).
        max_steps: Newton steps at most.

    Returns:
        The fit; `converged` False when `max_steps` ran out or the Hessian is singular (every
        logit equal: `a` is then undetermined and `b` fits the rate).
    """
    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    w = np.ones_like(z) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if not (z.size == y.size == w.size) or z.size == 0:
        raise ValueError(f"need equally long, non-empty arrays; got sizes {z.size}, {y.size}, {w.size}")
    x = np.stack([z, np.ones_like(z)], axis=1)
    theta = np.array([1.0, 0.0])
    loss = _log_loss(x @ theta, y, w)
    for step in range(1, max_steps + 1):
        p = _sigmoid(x @ theta)
        gradient = x.T @ (w * (p - y))
        hessian = (x * (w * p * (1.0 - p))[:, None]).T @ x
        if np.linalg.cond(hessian) > 1e12:
            return PlattFit(float(theta[0]), float(theta[1]), step - 1, converged=False)
        delta = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while True:  # halve the step until the loss does not increase
            candidate = theta - scale * delta
            candidate_loss = _log_loss(x @ candidate, y, w)
            if candidate_loss <= loss or scale < 1e-8:
                break
            scale *= 0.5
        if candidate_loss > loss:  # no step size lowers the loss: the minimum, to float precision
            return PlattFit(float(theta[0]), float(theta[1]), step, converged=True)
        change = np.abs(candidate - theta) / (1.0 + np.abs(theta))
        theta, loss = candidate, candidate_loss
        if float(change.max()) < TOLERANCE:
            return PlattFit(float(theta[0]), float(theta[1]), step, converged=True)
    return PlattFit(float(theta[0]), float(theta[1]), max_steps, converged=False)


def platt_probability(logits: np.ndarray, a: float, b: float) -> np.ndarray:
    """`sigmoid(a * logit + b)` in float64: what the exported graph computes in float32."""
    return _sigmoid(a * np.asarray(logits, dtype=np.float64) + b)


@dataclasses.dataclass(frozen=True)
class ScoreSummary:
    """Unweighted scores of one set of predictions on the eval split (the Evaluator's formulas).

    Attributes:
        rce: RCE in percent (`formulas.rce`).
        nrce: NRCE in percent (`formulas.nrce`): RCE after rescaling the predictions to the rate.
        auc: Exact ROC AUC on `label != 0` (NaN with one class).
        ctr: Mean label.
        predicted_ctr: Mean prediction: `ctr` when calibrated in the mean.
    """

    rce: float
    nrce: float
    auc: float
    ctr: float
    predicted_ctr: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON-safe, NaN as None, under the Evaluator's metric names."""
        values = {
            "rce_unweighted": self.rce,
            "nrce_unweighted": self.nrce,
            "auc_unweighted": self.auc,
            "ctr_unweighted": self.ctr,
            "predicted_ctr_unweighted": self.predicted_ctr,
        }
        return {name: (value if math.isfinite(value) else None) for name, value in values.items()}


def score_summary(labels: np.ndarray, probabilities: np.ndarray) -> ScoreSummary:
    """Unweighted RCE, NRCE, AUC, ctr and predicted ctr of `probabilities`."""
    from lightrank.models.training.validation import roc_auc

    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    return ScoreSummary(
        rce=formulas.rce(y, p),
        nrce=formulas.nrce(y, p),
        auc=roc_auc(y != 0, p),
        ctr=float(y.mean()),
        predicted_ctr=float(p.mean()),
    )


@dataclasses.dataclass(frozen=True)
class CalibrationRecord:
    """What calibration did, recorded with the model (`model_settings.json`) and the run.

    Attributes:
        method: `platt`.
        applied: Whether the exported model is calibrated.
        a: The fitted slope (None when there was nothing to fit).
        b: The fitted offset.
        reason: Why it was not applied ("" when applied).
        examples: Eval candidates fitted on.
        steps: Newton steps taken.
        before: Scores of the model as trained.
        after: Scores of the calibrated predictions (None when not applied).
    """

    method: str
    applied: bool
    a: float | None
    b: float | None
    reason: str
    examples: int
    steps: int
    before: ScoreSummary
    after: ScoreSummary | None

    @property
    def scale(self) -> tuple[float, float] | None:
        """`(a, b)` for the export when applied, else None."""
        return (self.a, self.b) if self.applied and self.a is not None and self.b is not None else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, with `fitted_on: eval` and `before` / `after` under the metric names."""
        return {
            "method": self.method,
            "applied": self.applied,
            "a": self.a,
            "b": self.b,
            "reason": self.reason,
            "fitted_on": "eval",
            "examples": self.examples,
            "steps": self.steps,
            "before": self.before.to_dict(),
            "after": self.after.to_dict() if self.after is not None else None,
        }


def calibrate(logits: np.ndarray, labels: np.ndarray) -> CalibrationRecord:
    """Fits Platt scaling on the eval split and decides whether to apply it.

    Skipped, with a warning saying why, when the eval labels hold one class (nothing to
    calibrate against), when the fit does not converge, or when `a <= 0`: a negative slope
    would reverse the ranking and a zero one erase it, and calibration must never change
    which candidates the light ranker keeps.
    """
    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    before = score_summary(y, _sigmoid(z))
    positive = y != 0
    if positive.all() or not positive.any():
        return _skipped(before, z.size, "the eval split has a single label class")
    fit = fit_platt(z, y)
    if not fit.converged:
        reason = f"the fit did not converge in {fit.steps} Newton steps (a={fit.a:.4g}, b={fit.b:.4g})"
        return _skipped(before, z.size, reason, fit)
    if not fit.a > 0.0:
        reason = f"the fitted slope a={fit.a:.4g} is not positive: it would reverse or erase the ranking"
        return _skipped(before, z.size, reason, fit)
    after = score_summary(y, platt_probability(z, fit.a, fit.b))
    logger.info(
        "calibration: Platt a=%.6g b=%.6g on %d eval candidates (%d Newton steps): unweighted RCE "
        "%.4f -> %.4f, NRCE %.4f -> %.4f",
        fit.a, fit.b, z.size, fit.steps, before.rce, after.rce, before.nrce, after.nrce,
    )  # fmt: skip
    return CalibrationRecord(PLATT, True, fit.a, fit.b, "", z.size, fit.steps, before, after)


def _skipped(
    before: ScoreSummary, examples: int, reason: str, fit: PlattFit | None = None
) -> CalibrationRecord:
    logger.warning("calibration skipped, the model is exported uncalibrated: %s", reason)
    a, b, steps = (fit.a, fit.b, fit.steps) if fit is not None else (None, None, 0)
    return CalibrationRecord(PLATT, False, a, b, reason, examples, steps, before, None)


def eval_logits(model: tf.keras.Model, dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The model's logits and the labels over a whole `(features, label, weight)` dataset.

    Raises:
        ValueError: If the dataset is empty.
    """
    from lightrank.models.training.validation import inference_function

    predict = inference_function(model)
    logits, labels = [], []
    for features, label, _ in dataset:
        logits.append(predict(features).numpy().reshape(-1))
        labels.append(label.numpy().reshape(-1))
    if not logits:
        raise ValueError("the evaluation dataset is empty")
    return np.concatenate(logits), np.concatenate(labels)


def score_and_calibrate(
    model: tf.keras.Model, eval_ds: tf.data.Dataset, method: str
) -> tuple[ScoreSummary, CalibrationRecord | None]:
    """The trained model's unweighted scores on the eval split, and its calibration if asked for.

    One inference pass over the eval split serves both: the scores put NRCE beside the best
    RCE in the training summary of every run, calibrated or not.

    Args:
        model: The trained logit model (its best weights).
        eval_ds: The eval split's `(features, label, weight)` batches.
        method: `model.calibration`: `none` or `platt`.

    Raises:
        ValueError: On an unknown method (the config validates it; this guards other callers).
    """
    if method not in ("none", PLATT):
        raise ValueError(f"unknown calibration {method!r}; expected 'none' or 'platt'")
    logits, labels = eval_logits(model, eval_ds)
    if method == "none":
        return score_summary(labels, _sigmoid(logits.astype(np.float64))), None
    record = calibrate(logits, labels)
    return record.before, record
