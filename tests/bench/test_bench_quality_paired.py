"""The paired bootstrap over requests behind the quality table's `ahead` / `tie` / `behind`."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from lightrank_bench.quality_paired import (
    PairedDifference,
    paired_auc,
    paired_mean,
    pooled_paired_auc,
    pooled_paired_mean,
    request_resamples,
    seed_draws,
    weighted_aucs,
)


def _split(seed: int = 0, candidates: int = 4000, requests: int = 80):
    rng = np.random.default_rng(seed)
    positive = rng.random(candidates) < 0.05
    keys = rng.integers(0, requests, candidates) * 7 + 3  # any ids, not 0..n-1
    return rng, positive, keys


def test_weighted_auc_is_sklearns_with_sample_weights_ties_included():
    rng, positive, _ = _split()
    predictions = np.round(rng.random(positive.size) + 0.3 * positive, 1)  # many ties
    weights = rng.integers(0, 4, size=(3, positive.size)).astype(float)
    expected = [roc_auc_score(positive, predictions, sample_weight=row) for row in weights]
    assert weighted_aucs(positive, predictions, weights) == pytest.approx(expected, abs=1e-12)
    ones = np.ones((1, positive.size))
    unweighted = roc_auc_score(positive, predictions)
    assert weighted_aucs(positive, predictions, ones)[0] == pytest.approx(unweighted)


def test_a_row_without_a_negative_has_no_auc():
    positive = np.array([True, False, True])
    aucs = weighted_aucs(positive, np.array([0.9, 0.1, 0.8]), np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]))
    assert np.isnan(aucs[0]) and aucs[1] == 1.0


def test_each_resample_draws_as_many_requests_as_there_are_and_repeats_for_a_seed():
    keys = np.array([5, 5, 9, 2, 2, 2, 7])
    resamples = request_resamples(keys, rounds=200, seed=3)
    assert resamples.shape == (200, 4) and (resamples.sum(axis=1) == 4).all()
    assert (resamples == request_resamples(keys, rounds=200, seed=3)).all()
    assert not (resamples == request_resamples(keys, rounds=200, seed=4)).all()


def test_a_model_against_itself_is_a_tie_of_exactly_zero():
    rng, positive, keys = _split()
    predictions = rng.random(positive.size) + positive
    difference = paired_auc(positive, predictions, predictions, keys, rounds=100)
    assert (difference.difference, difference.low, difference.high) == (0.0, 0.0, 0.0)
    assert difference.verdict == "tie"


def test_a_clearly_better_model_is_ahead_and_the_other_way_round_behind():
    rng, positive, keys = _split()
    good = positive + rng.normal(0.0, 0.5, positive.size)
    poor = positive + rng.normal(0.0, 2.0, positive.size)
    ahead = paired_auc(positive, good, poor, keys, rounds=200)
    behind = paired_auc(positive, poor, good, keys, rounds=200)
    assert ahead.verdict == "ahead" and behind.verdict == "behind"
    assert ahead.difference == pytest.approx(roc_auc_score(positive, good) - roc_auc_score(positive, poor))
    assert ahead.low <= ahead.difference <= ahead.high
    assert behind.difference == pytest.approx(-ahead.difference) and behind.low == pytest.approx(-ahead.high)


def test_noise_alone_is_a_tie():
    rng, positive, keys = _split(seed=1)
    signal = positive + rng.normal(0.0, 1.0, positive.size)
    one, other = signal + rng.normal(0.0, 0.05, positive.size), signal + rng.normal(0.0, 0.05, positive.size)
    assert paired_auc(positive, one, other, keys, rounds=300).verdict == "tie"


def test_the_mean_difference_skips_requests_where_the_metric_is_undefined():
    keys = np.array([1, 1, 2, 2, 3, 3])
    reference = [1.0, None, 0.5]
    other = [0.5, None, 0.5]
    difference = paired_mean(reference, other, keys, rounds=500)
    assert difference.difference == pytest.approx(0.25)  # (0.5 + 0) / 2 defined requests
    # Resamples hold request 1 (0.5) and request 3 (0) in some mix: every mean lies in [0, 0.5].
    assert 0.0 <= difference.low <= 0.25 <= difference.high <= 0.5
    with pytest.raises(ValueError, match="different requests"):
        paired_mean([1.0, 0.5, 0.5], other, keys)


def test_one_seed_per_model_is_the_plain_paired_bootstrap():
    rng, positive, keys = _split(seed=2)
    one = positive + rng.normal(0.0, 1.0, positive.size)
    other = positive + rng.normal(0.0, 1.5, positive.size)
    assert pooled_paired_auc(positive, [one], [other], keys, rounds=100) == paired_auc(
        positive, one, other, keys, rounds=100
    )
    assert (seed_draws(1, rounds=100) == 0).all()


def test_pooled_auc_is_the_difference_of_the_seed_means():
    rng, positive, keys = _split(seed=3)
    seeds = [positive + rng.normal(0.0, scale, positive.size) for scale in (0.5, 1.0, 2.0)]
    other = positive + rng.normal(0.0, 1.0, positive.size)
    pooled = pooled_paired_auc(positive, seeds, [other], keys, rounds=200)
    expected = np.mean([roc_auc_score(positive, p) for p in seeds]) - roc_auc_score(positive, other)
    assert pooled.difference == pytest.approx(expected, abs=1e-12)
    # The same training three times pools to itself: the seed draws cannot move it.
    repeated = pooled_paired_auc(positive, [other] * 3, [seeds[0]] * 2, keys, rounds=100)
    plain = paired_auc(positive, other, seeds[0], keys, rounds=100)
    assert dataclasses.astuple(repeated) == pytest.approx(dataclasses.astuple(plain), abs=1e-12)


def test_the_interval_of_a_pooled_row_holds_its_seed_spread():
    # The other model's two seeds: one ranks every positive first, one every positive last. On the
    # requests alone the pooled difference would sit near AUC(reference) - 0.5; redrawing the seeds,
    # some resamples pool the perfect seed twice (difference about AUC - 1), some the reversed one
    # twice (about AUC - 0).
    rng, positive, keys = _split(seed=4)
    reference = positive + rng.normal(0.0, 1.0, positive.size)
    perfect = positive + rng.random(positive.size) * 0.5
    reversed_ = 1.0 - positive + rng.random(positive.size) * 0.5
    pooled = pooled_paired_auc(positive, [reference], [perfect, reversed_], keys, rounds=400)
    auc = roc_auc_score(positive, reference)
    assert pooled.difference == pytest.approx(auc - 0.5)
    assert pooled.low < auc - 0.9 and pooled.high > auc - 0.1 and pooled.verdict == "tie"


def test_pooled_means_average_each_seed_over_its_defined_requests():
    keys = np.array([1, 1, 2, 2, 3, 3])
    reference = [[1.0, None, 0.5], [0.5, None, 0.5]]  # seed means 0.75 and 0.5
    other = [[0.0, None, 0.5]]  # 0.25
    difference = pooled_paired_mean(reference, other, keys, rounds=500)
    assert difference.difference == pytest.approx(0.625 - 0.25)
    # A resample's means lie in [0, 1] for the reference and [0, 0.5] for the other model.
    assert -0.5 <= difference.low <= 0.375 <= difference.high <= 1.0
    single = [0.5, None, 0.5]
    assert pooled_paired_mean([single], other, keys) == paired_mean(single, other[0], keys)
    with pytest.raises(ValueError, match="different requests"):
        pooled_paired_mean([[1.0, None, 0.5], [1.0, 0.5, 0.5]], other, keys)
    with pytest.raises(ValueError, match="at least one seed"):
        pooled_paired_mean([], other, keys)


@pytest.mark.parametrize(
    ("low", "high", "verdict"), [(0.01, 0.02, "ahead"), (-0.02, -0.01, "behind"), (-0.01, 0.02, "tie")]
)
def test_the_verdict_reads_the_interval(low, high, verdict):
    difference = PairedDifference(0.005, low, high)
    assert difference.verdict == verdict
    assert difference.describe(3) == f"+0.005 [{low:+.3f}, {high:+.3f}]"
