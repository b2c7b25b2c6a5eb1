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

A model trained with several seeds (`lightrank-bench quality --seeds`) is one *pooled* row: its
metric is the mean over its seeds, the expected value of one training, and each resample also
redraws the seeds with replacement (independently for the two models), so that the interval
holds the seed-to-seed spread as well as the requests'. With one seed per model the seed draw
is always that seed, and the result is the plain paired bootstrap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

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


def seed_draws(seeds: int, rounds: int = ROUNDS, seed: int = SEED) -> np.ndarray:
    """`[rounds, seeds]` indices: which of a model's `seeds` trainings each resample pools.

    Drawn with replacement, from a stream of its own: the request resamples stay those of
    `request_resamples(.., seed)` whatever the number of seeds.
    """
    return np.random.default_rng([seed, seeds]).integers(0, seeds, size=(rounds, seeds))


def _pooled(values: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """`[S, R]` per-seed values of `R` resamples -> `[R]` means over each resample's drawn seeds."""
    return values[draws, np.arange(draws.shape[0])[:, None]].mean(axis=1)


def _per_seed(values: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    stacked = np.asarray(values, dtype=np.float64)
    if stacked.ndim != 2 or stacked.shape[0] == 0:
        raise ValueError(f"expected [seeds, candidates] predictions, got shape {stacked.shape}")
    return stacked


def paired_auc(
    positive: np.ndarray,
    reference: np.ndarray,
    other: np.ndarray,
    request_keys: np.ndarray,
    rounds: int = ROUNDS,
    seed: int = SEED,
) -> PairedDifference:
    """AUC of `reference` minus AUC of `other` (`[N]` predictions each), with its 95% interval.

    `pooled_paired_auc` with one training per model: the interval is over request resamples.
    """
    return pooled_paired_auc(positive, [reference], [other], request_keys, rounds, seed)


def pooled_paired_auc(
    positive: np.ndarray,
    reference: Sequence[np.ndarray],
    other: Sequence[np.ndarray],
    request_keys: np.ndarray,
    rounds: int = ROUNDS,
    seed: int = SEED,
) -> PairedDifference:
    """Mean AUC over `reference`'s seeds minus that over `other`'s, resampling requests and seeds.

    Args:
        positive: `[N]` booleans: the candidates' labels.
        reference: One `[N]` prediction array per seed of the reference model.
        other: The same for the other model (it may have another number of seeds).
        request_keys: `[N]` request ids of the candidates.
        rounds: Resamples.
        seed: Seed of the resampling.

    Raises:
        ValueError: If a model has no predictions.
    """
    references, others = _per_seed(reference), _per_seed(other)
    _, request_of = np.unique(request_keys, return_inverse=True)
    multiplicities = request_resamples(request_keys, rounds, seed)
    reference_draws = seed_draws(len(references), rounds, seed)
    other_draws = seed_draws(len(others), rounds, seed + 1)

    def aucs(models: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return np.stack([weighted_aucs(positive, predictions, weights) for predictions in models])

    differences = []
    for start in range(0, rounds, _CHUNK):
        weights = multiplicities[start : start + _CHUNK][:, request_of]
        chunk = slice(start, start + weights.shape[0])
        differences.append(
            _pooled(aucs(references, weights), reference_draws[chunk])
            - _pooled(aucs(others, weights), other_draws[chunk])
        )
    ones = np.ones((1, positive.size))
    full = aucs(references, ones).mean() - aucs(others, ones).mean()
    return _interval(float(full), np.concatenate(differences))


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
    return pooled_paired_mean([reference], [other], request_keys, rounds, seed)


def pooled_paired_mean(
    reference: Sequence[Sequence[float | None]],
    other: Sequence[Sequence[float | None]],
    request_keys: np.ndarray,
    rounds: int = ROUNDS,
    seed: int = SEED,
) -> PairedDifference:
    """`paired_mean` of models trained with several seeds: one list of per-request values per seed.

    The point difference is the mean over `reference`'s seeds of its mean per-request value minus
    the same for `other`; each resample redraws both models' seeds as `pooled_paired_auc` does.

    Raises:
        ValueError: If a model has no seeds, or values are defined on different requests (seeds
            included).
    """
    if not reference or not other:
        raise ValueError("every model needs the values of at least one seed")
    defined = np.array([value is not None for value in reference[0]])
    if any([value is not None for value in values] != defined.tolist() for values in [*reference, *other]):
        raise ValueError("the two models' per-request values are defined on different requests")
    references = np.array([[value or 0.0 for value in values] for values in reference])
    others = np.array([[value or 0.0 for value in values] for values in other])
    multiplicities = request_resamples(request_keys, rounds, seed) * defined
    counts = np.where(multiplicities.sum(axis=1) > 0, multiplicities.sum(axis=1), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        reference_means = (references @ multiplicities.T) / counts  # [seeds, rounds]
        other_means = (others @ multiplicities.T) / counts
    resampled = _pooled(reference_means, seed_draws(len(references), rounds, seed)) - _pooled(
        other_means, seed_draws(len(others), rounds, seed + 1)
    )
    if not defined.any():
        return _interval(float("nan"), resampled)
    full = references[:, defined].mean(axis=1).mean() - others[:, defined].mean(axis=1).mean()
    return _interval(float(full), resampled)
