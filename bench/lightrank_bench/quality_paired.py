"""How sure the quality table is that one model is ahead of another: a paired bootstrap over requests.

The eval splits are small (97 requests on the sample, a few hundred on the catalog), and the
quality goals compare models whose AUC differ by 0.01 or less: within one standard error. Two
models scored on the same candidates are compared *paired*, which removes the noise they share:
the eval requests are resampled with replacement `rounds` times, and each resample's difference
(reference minus model) is computed on the same requests for both. Requests, not candidates,
are resampled because candidates of one request are not independent (one user, one moment).

The 95% interval of the differences gives the verdict: `ahead` when its lower end is above 0,
`behind` when its upper end is below 0, else `tie`.

AUC is computed on each resample with the requests' multiplicities as candidate weights, which
is the AUC of the resampled candidates: every model's predictions are sorted once, and each
resample's weighted AUC is a cumulative sum over them (ties in the predictions count one half,
as in `sklearn.metrics.roc_auc_score`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: Resamples per comparison: the interval's ends move by about 0.001 AUC between seeds at 1,000.
ROUNDS = 1000
#: Seed of the resampling: the same requests are drawn for every model of one table.
SEED = 0
#: Resamples computed at once (memory: CHUNK x candidates float64 values).
_CHUNK = 50


@dataclasses.dataclass(frozen=True)
class PairedDifference:
    """Reference minus model on one metric, over the eval split and its request resamples.

    Attributes:
        difference: On the eval split itself.
        low: 2.5th percentile of the resampled differences.
        high: 97.5th percentile.
    """

    difference: float
    low: float
    high: float

    @property
    def verdict(self) -> str:
        """`ahead` (the reference), `behind`, or `tie` when the interval holds 0."""
        if self.low > 0:
            return "ahead"
        if self.high < 0:
            return "behind"
        return "tie"

    def describe(self, digits: int) -> str:
        """`+0.0123 [-0.0040, +0.0290]`."""
        return f"{self.difference:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"


def request_resamples(request_keys: np.ndarray, rounds: int = ROUNDS, seed: int = SEED) -> np.ndarray:
    """`[rounds, requests]` multiplicities: how often each request is drawn in each resample.

    Requests are numbered in the order of `np.unique(request_keys)`.
    """
    requests = np.unique(request_keys).size
    draws = np.random.default_rng(seed).integers(0, requests, size=(rounds, requests))
    return np.stack([np.bincount(row, minlength=requests) for row in draws]).astype(np.float64)


def weighted_aucs(positive: np.ndarray, predictions: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of `predictions` against `positive` under each row of candidate `weights`.

    Args:
        positive: `[N]` booleans.
        predictions: `[N]` scores.
        weights: `[R, N]` non-negative candidate weights.

    Returns:
        `[R]` AUCs; NaN where a row weighs no positive or no negative.
    """
    order = np.argsort(predictions, kind="stable")
    scores, positive, weights = predictions[order], positive[order], weights[:, order]
    # Candidates with equal scores form one block: negatives below a positive count fully,
    # negatives in its own block count one half.
    starts = np.flatnonzero(np.r_[True, scores[1:] != scores[:-1]])
    negative_weights = np.where(positive, 0.0, weights)
    positive_weights = np.where(positive, weights, 0.0)
    block_negative = np.add.reduceat(negative_weights, starts, axis=1)
    block_positive = np.add.reduceat(positive_weights, starts, axis=1)
    below = np.cumsum(block_negative, axis=1) - block_negative
    pairs = (block_positive * (below + 0.5 * block_negative)).sum(axis=1)
    total = block_positive.sum(axis=1) * block_negative.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, pairs / total, np.nan)


def _interval(full: float, resampled: np.ndarray) -> PairedDifference:
    resampled = resampled[~np.isnan(resampled)]
    low, high = np.percentile(resampled, [2.5, 97.5]) if resampled.size else (np.nan, np.nan)
    return PairedDifference(float(full), float(low), float(high))


def paired_auc(
    positive: np.ndarray,
    reference: np.ndarray,
    other: np.ndarray,
    request_keys: np.ndarray,
    rounds: int = ROUNDS,
    seed: int = SEED,
) -> PairedDifference:
    """AUC of `reference` minus AUC of `other`, with its 95% interval over request resamples.

    Args:
        positive: `[N]` booleans: the candidates' labels.
        reference: `[N]` the reference model's predictions.
        other: `[N]` the other model's predictions, for the same candidates.
        request_keys: `[N]` request ids of the candidates.
        rounds: Resamples.
        seed: Seed of the resampling.
    """
    _, request_of = np.unique(request_keys, return_inverse=True)
    multiplicities = request_resamples(request_keys, rounds, seed)
    differences = []
    for start in range(0, rounds, _CHUNK):
        weights = multiplicities[start : start + _CHUNK][:, request_of]
        differences.append(
            weighted_aucs(positive, reference, weights) - weighted_aucs(positive, other, weights)
        )
    ones = np.ones((1, positive.size))
    full = weighted_aucs(positive, reference, ones)[0] - weighted_aucs(positive, other, ones)[0]
    return _interval(full, np.concatenate(differences))


def paired_mean(
    reference: list[float | None],
    other: list[float | None],
    request_keys: np.ndarray,
    rounds: int = ROUNDS,
    seed: int = SEED,
) -> PairedDifference:
    """Mean per-request value of `reference` minus that of `other`, with its 95% interval.

    Args:
        reference: One value per request (`np.unique(request_keys)` order), None where the metric
            is undefined; the mean is over the requests where it is defined, as the Evaluator's.
        other: The same for the other model (defined on the same requests: it depends on the
            heavy scores only).
        request_keys: `[N]` request ids of the candidates, numbering the requests.
        rounds: Resamples.
        seed: Seed of the resampling.

    Raises:
        ValueError: If the two models' values are defined on different requests.
    """
    defined = np.array([value is not None for value in reference])
    if defined.tolist() != [value is not None for value in other]:
        raise ValueError("the two models' per-request values are defined on different requests")
    ref = np.array([value or 0.0 for value in reference])
    oth = np.array([value or 0.0 for value in other])
    multiplicities = request_resamples(request_keys, rounds, seed) * defined
    counts = multiplicities.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        resampled = (multiplicities @ (ref - oth)) / np.where(counts > 0, counts, np.nan)
    full = float((ref - oth)[defined].mean()) if defined.any() else float("nan")
    return _interval(full, resampled)
