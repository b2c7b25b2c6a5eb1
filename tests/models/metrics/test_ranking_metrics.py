"""Per-request CGR / Recall / ExpectedLoss / NDCG against hand-computed values."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from tensorflow_model_analysis.metrics.ndcg import _NDCGCombiner

from lightrank.models.metrics.ranking import (
    RankedGroup,
    cgr_at_nk,
    expected_loss_at_n,
    group_metric_names,
    group_metric_values,
    ndcg_at_k,
    recall_at_nk,
)

# Four candidates. LR order (by prediction): idx1, idx2, idx0, idx3 -> labels [0.1, 0.5, 0.9, 0.3].
# HR order (by label): idx0, idx2, idx3, idx1 -> ideal [0.9, 0.5, 0.3, 0.1]; label ranks 0, 3, 1, 2.
LABELS = [0.9, 0.1, 0.5, 0.3]
PREDICTIONS = [0.2, 0.8, 0.6, 0.1]


@pytest.mark.parametrize(
    ("light_n", "heavy_k", "expected"),
    [
        (2, 2, (0.1 + 0.5) / (0.9 + 0.5)),  # N <= K: whole LR top 2 over HR top 2
        (1, 3, 0.1 / 0.9),  # N < K: ideal uses min(N, K) = 1
        (2, 1, 0.5 / 0.9),  # N > K: best 1 label within the LR top 2
        (3, 1, 0.9 / 0.9),
        (3, 2, (0.9 + 0.5) / (0.9 + 0.5)),
        (10, 3, 1.0),  # group smaller than N, N > K: top 3 of all labels / ideal top 3
        (10, 20, 1.0),  # group smaller than N and K
    ],
)
def test_cgr_hand_values(light_n: int, heavy_k: int, expected: float) -> None:
    assert cgr_at_nk(LABELS, PREDICTIONS, light_n, heavy_k) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("light_n", "heavy_k"), [(0, 3), (3, 0), (None, 3), (3, None), (-1, 3), (3, -2)])
def test_cgr_is_none_without_positive_n_and_k(light_n: int | None, heavy_k: int | None) -> None:
    assert cgr_at_nk(LABELS, PREDICTIONS, light_n, heavy_k) is None


def test_cgr_is_zero_when_ideal_gain_is_zero() -> None:
    assert cgr_at_nk([0.0, 0.0, 0.0], [0.3, 0.2, 0.1], 2, 1) == 0.0


def test_cgr_is_clamped_at_zero_for_negative_gain() -> None:
    # LR keeps the -1.0 candidate, ideal keeps +0.5: ratio -2 -> clamped to 0.
    assert cgr_at_nk([-1.0, 0.5], [0.9, 0.1], 1, 1) == 0.0


def test_cgr_ties_keep_input_order() -> None:
    # Equal predictions: the first candidate in input order is the LR's pick.
    assert cgr_at_nk([0.2, 0.8], [0.5, 0.5], 1, 1) == pytest.approx(0.25)
    assert cgr_at_nk([0.8, 0.2], [0.5, 0.5], 1, 1) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("light_n", "heavy_k", "expected"),
    [
        (2, 2, 0.5),  # LR top 2 has label ranks {3, 1}; HR top 2 = ranks {0, 1}
        (3, 1, 1.0),  # LR top 3 has rank 0
        (1, 1, 0.0),  # LR top 1 is rank 3
        (2, 3, 1 / 3),  # rank 1 only
        (50, 3, 1.0),  # n* = k* clipped to the group: 4 and 3
        (None, None, 1.0),  # whole request on both sides (the degenerate original metric)
        (None, 1, 1.0),
    ],
)
def test_recall_hand_values(light_n: int | None, heavy_k: int | None, expected: float) -> None:
    assert recall_at_nk(LABELS, PREDICTIONS, light_n, heavy_k) == pytest.approx(expected, rel=1e-12)


def test_recall_is_none_when_all_labels_are_zero() -> None:
    assert recall_at_nk([0.0, 0.0], [0.7, 0.1], 1, 1) is None


def test_recall_is_defined_when_a_label_is_negative() -> None:
    # `any(labels)` is true for -0.5, so recall is defined; the HR top 1 is the 0.0 candidate.
    assert recall_at_nk([0.0, -0.5], [0.1, 0.7], 1, 1) == 0.0
    assert recall_at_nk([0.0, -0.5], [0.7, 0.1], 1, 1) == 1.0


def test_recall_breaks_prediction_ties_by_label_rank() -> None:
    # Original: it sorts the label-ordered list by prediction, so the better label wins ties,
    # unlike CGR (test_cgr_ties_keep_input_order) on the same data.
    assert recall_at_nk([0.2, 0.8], [0.5, 0.5], 1, 1) == 1.0


def test_recall_breaks_label_ties_by_input_order() -> None:
    # HR top 1 among equal labels is idx0 (input order); the LR top 1 is idx1.
    assert recall_at_nk([0.5, 0.5, 0.1], [0.1, 0.9, 0.5], 1, 1) == 0.0
    assert recall_at_nk([0.5, 0.5, 0.1], [0.9, 0.1, 0.5], 1, 1) == 1.0


@pytest.mark.parametrize(("light_n", "expected"), [(1, 0.9 - 0.1), (2, 0.9 - 0.5), (3, 0.0), (50, 0.0)])
def test_expected_loss_hand_values(light_n: int, expected: float) -> None:
    assert expected_loss_at_n(LABELS, PREDICTIONS, light_n) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("light_n", [0, -3])
def test_expected_loss_is_none_for_non_positive_n(light_n: int) -> None:
    assert expected_loss_at_n(LABELS, PREDICTIONS, light_n) is None


# NDCG of LABELS/PREDICTIONS: gains in LR order [0.1, 0.5, 0.9, 0.3], ideal [0.9, 0.5, 0.3, 0.1].
@pytest.mark.parametrize(
    ("top_k", "expected"),
    [
        (1, 0.1 / 0.9),
        (2, (0.1 + 0.5 / math.log2(3)) / (0.9 + 0.5 / math.log2(3))),
        # The group (4) is smaller than k: every position counts, as TFMA's min(k, len).
        (
            10,
            (0.1 + 0.5 / math.log2(3) + 0.9 / 2 + 0.3 / math.log2(5))
            / (0.9 + 0.5 / math.log2(3) + 0.3 / 2 + 0.1 / math.log2(5)),
        ),
    ],
)
def test_ndcg_hand_values(top_k: int, expected: float) -> None:
    assert ndcg_at_k(LABELS, PREDICTIONS, top_k) == pytest.approx(expected, rel=1e-12)


def test_ndcg_ties_keep_input_order() -> None:
    # Equal predictions: input order is the LR order, as for CGR.
    assert ndcg_at_k([0.2, 0.8], [0.5, 0.5], 1) == pytest.approx(0.25)
    assert ndcg_at_k([0.8, 0.2], [0.5, 0.5], 1) == pytest.approx(1.0)
    assert ndcg_at_k([0.2, 0.8], [0.5, 0.5], 10) == pytest.approx(
        (0.2 + 0.8 / math.log2(3)) / (0.8 + 0.2 / math.log2(3)), rel=1e-12
    )


def test_ndcg_is_undefined_without_a_positive_gain_or_k() -> None:
    assert ndcg_at_k([0.0, 0.0, 0.0], [0.3, 0.2, 0.1], 10) is None  # TFMA: weight 0 in the mean
    assert ndcg_at_k([0.0, -0.5], [0.3, 0.2], 10) is None
    assert ndcg_at_k(LABELS, PREDICTIONS, 0) is None
    # A positive best gain but a non-positive ideal DCG: 0.0, as TFMA.
    assert ndcg_at_k([1.0, -5.0], [0.9, 0.1], 2) == 0.0


def test_ndcg_matches_tfma_formula_on_tie_free_groups() -> None:
    tfma_ndcg = _NDCGCombiner.__new__(_NDCGCombiner)  # only its pure formula methods are used
    rng = np.random.default_rng(3)
    for _ in range(200):
        size = int(rng.integers(1, 30))
        gains = rng.choice([0.0, 0.0, 0.1, 0.4, 0.9], size=size) + rng.random(size) * (rng.random() < 0.5)
        predictions = rng.permutation(size) / size  # distinct: TFMA's tie order is not defined
        if gains.max() <= 0:
            assert ndcg_at_k(gains, predictions, 10) is None
            continue
        ranked = gains[np.argsort(predictions)[::-1]]  # TFMA's `_to_gains_example_weight`
        for k in (1, 3, 10):
            expected = tfma_ndcg._calculate_ndcg([(i + 1, g) for i, g in enumerate(ranked)], k)
            assert ndcg_at_k(gains, predictions, k) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_ranked_group_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="labels but"):
        RankedGroup([0.1, 0.2], [0.3])
    with pytest.raises(ValueError, match="at least one"):
        RankedGroup([], [])


def test_group_metric_values_names_and_recall_pairs() -> None:
    values = group_metric_values(RankedGroup(LABELS, PREDICTIONS), [1, 3], [1, 2, 3])
    assert list(values) == group_metric_names([1, 3], [1, 2, 3])
    assert [name for name in values if name.startswith("recall")] == [
        "recall_atLight_1_atHeavy_1",
        "recall_atLight_3_atHeavy_1",
        "recall_atLight_3_atHeavy_2",
        "recall_atLight_3_atHeavy_3",
    ]
    assert sum(name.startswith("cgr_") for name in values) == 6
    assert values["cgr_atLight_3_atHeavy_2"] == pytest.approx(1.0)
    assert values["recall_atLight_3_atHeavy_2"] == pytest.approx(1.0)  # LR top 3 ranks {3, 1, 0} ⊇ {0, 1}
    assert values["recall_atLight_3_atHeavy_3"] == pytest.approx(2 / 3)  # rank 2 is 4th in LR order
    assert values["expected_loss_atLight_1"] == pytest.approx(0.8)
    assert values["ndcg_at_10"] == pytest.approx(ndcg_at_k(LABELS, PREDICTIONS, 10))
    assert list(values)[-1] == "ndcg_at_10"


def _original_cgr(labels: list[float], preds: list[float], n: int, k: int) -> float:
    top = [
        label for label, _ in sorted(zip(labels, preds, strict=True), key=lambda x: x[1], reverse=True)[:n]
    ]
    light = sum(top) if n <= k else sum(sorted(top, reverse=True)[:k])
    ideal = sum(sorted(labels, reverse=True)[: min(n, k)])
    return max(light / ideal, 0) if ideal != 0 else 0.0


def _original_recall(labels: list[float], preds: list[float], n: int, k: int) -> float | None:
    if not any(labels):
        return None
    safe_n, safe_k = min(len(preds), n), min(len(labels), k)
    by_label = sorted(zip(labels, preds, strict=True), key=lambda x: x[0], reverse=True)
    ranked = sorted(enumerate(pred for _, pred in by_label), key=lambda x: x[1], reverse=True)
    return sum(1 for rank, _ in ranked[:safe_n] if rank < safe_k) / float(safe_k)


def _original_expected_loss(labels: list[float], preds: list[float], n: int) -> float:
    top = sorted(zip(labels, preds, strict=True), key=lambda x: x[1], reverse=True)[:n]
    return max(labels) - max(label for label, _ in top)


def test_matches_a_literal_port_of_the_original_on_tie_heavy_groups() -> None:
    # Scores drawn from 4 values make ties common, which is where the sort semantics matter.
    rng = random.Random(7)
    for _ in range(300):
        size = rng.randint(1, 12)
        labels = [rng.choice([0.0, 0.25, 0.5, 1.0]) for _ in range(size)]
        preds = [rng.choice([0.1, 0.2, 0.3, 0.4]) for _ in range(size)]
        group = RankedGroup(labels, preds)
        for n in (1, 2, 5, 20):
            assert group.expected_loss(n) == pytest.approx(
                _original_expected_loss(labels, preds, n), abs=1e-12
            )
            for k in (1, 3, 10):
                assert group.cgr(n, k) == pytest.approx(_original_cgr(labels, preds, n, k), abs=1e-12)
                expected_recall = _original_recall(labels, preds, n, k)
                if expected_recall is None:
                    assert group.recall(n, k) is None
                else:
                    assert group.recall(n, k) == pytest.approx(expected_recall, abs=1e-12)
