"""Per-request light-ranking metrics: CGR, Recall, ExpectedLoss and NDCG (docs/evaluation.md, Metrics).

The light ranker (LR) picks N candidates of a request for the heavy ranker (HR). These
metrics ask how much of what the HR would have put in its top K survives the LR's cut.
Each function takes one request ("group"): the HR reference scores (`labels`, the original's
name) and the LR scores (`predictions`), in the order the candidates arrived.

Sorts are stable and descending, like Python's `sorted(..., reverse=True)` in the original
`light_ranking_metrics.py`: candidates with equal scores keep their input order. Recall is the
exception the original has too: it ranks by prediction *after* ordering by label, so among
equal predictions the candidate with the better label rank comes first.

Names: `cgr_atLight_{N}_atHeavy_{K}` is the original name; `recall_atLight_{N}_atHeavy_{K}` was
`group_recall_unweighted_at_L{N}_at_H{K}` and `expected_loss_atLight_{N}` was
`ExpectedLoss_atLight_{N}`. Not ported: the weighted form of recall (`w`), because the original
configuration never supplies a weight vector.

NDCG@k (`ndcg_at_{k}`) is TFMA 0.47's formula (`tfma.metrics.NDCG`) with the heavy score as
gain, computed here so that it follows the rules of the other metrics of a request (candidates
without a heavy score skipped and counted, stable sorts) instead of TFMA's, whose combiner
raises on a single missing gain.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def cgr_name(light_n: int, heavy_k: int) -> str:
    """Metric name of CGR@(N, K); identical to the original name."""
    return f"cgr_atLight_{light_n}_atHeavy_{heavy_k}"


def recall_name(light_n: int, heavy_k: int) -> str:
    """Metric name of Recall@(N, K); the original called it `group_recall_unweighted_at_L{N}_at_H{K}`."""
    return f"recall_atLight_{light_n}_atHeavy_{heavy_k}"


def expected_loss_name(light_n: int) -> str:
    """Metric name of ExpectedLoss@N; the original called it `ExpectedLoss_atLight_{N}`."""
    return f"expected_loss_atLight_{light_n}"


def ndcg_name(top_k: int) -> str:
    """Metric name of NDCG@k by heavy score."""
    return f"ndcg_at_{top_k}"


#: The k of the reported NDCG (TFMA's NDCG was configured with top_k 10).
NDCG_TOP_K = 10


def recall_pairs(n_values: Iterable[int], k_values: Iterable[int]) -> list[tuple[int, int]]:
    """(N, K) pairs that get a recall metric: only N >= K, as `RecallGroupedMetricsConfiguration`."""
    k_list = list(k_values)
    return [(n, k) for n in n_values for k in k_list if n >= k]


def _descending_stable(scores: np.ndarray) -> np.ndarray:
    """Indices that sort `scores` descending, ties in input order (Python's reverse sort)."""
    return np.argsort(-scores, kind="stable")


class RankedGroup:
    """One request's candidates, sorted once and shared by every metric of the request.

    A request has a few hundred candidates and is scored by 34 metrics by default; sorting the
    request once, not once per metric, keeps the Evaluator's per-request cost low.
    """

    def __init__(self, labels: Sequence[float] | np.ndarray, predictions: Sequence[float] | np.ndarray):
        """Sorts the request.

        Args:
            labels: HR reference scores, one per candidate.
            predictions: LR scores, one per candidate, same order as `labels`.

        Raises:
            ValueError: If the two have different lengths or the request is empty.
        """
        self.labels = np.asarray(labels, dtype=np.float64).reshape(-1)
        self.predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
        if self.labels.size != self.predictions.size:
            raise ValueError(f"{self.labels.size} labels but {self.predictions.size} predictions")
        if self.labels.size == 0:
            raise ValueError("a request needs at least one candidate")
        label_order = _descending_stable(self.labels)
        #: Labels in LR order (the candidates the LR would keep first).
        self.labels_by_prediction = self.labels[_descending_stable(self.predictions)]
        #: Labels best first: the HR's ideal ordering.
        self.ideal = self.labels[label_order]
        # Recall sorts the label-ordered list by prediction, stably (as the original does).
        # Position j of that list *is* label rank j, so sorting positions by prediction (ties by
        # position) yields the label ranks in LR order directly.
        #: Label rank of the candidates in LR order, ties broken by label rank.
        self.label_rank_by_prediction = np.lexsort(
            (np.arange(label_order.size), -self.predictions[label_order])
        )

    def __len__(self) -> int:
        return int(self.labels.size)

    def cgr(self, light_n: int | None, heavy_k: int | None) -> float | None:
        """CGR@(N, K): HR gain kept by the LR's top N, over the best gain possible (see `cgr_at_nk`)."""
        if not light_n or not heavy_k or light_n <= 0 or heavy_k <= 0:
            return None
        top_light = self.labels_by_prediction[:light_n]
        if light_n <= heavy_k:
            cg_light = float(np.sum(top_light))
        else:
            cg_light = float(np.sum(-np.sort(-top_light)[:heavy_k]))
        cg_ideal = float(np.sum(self.ideal[: min(light_n, heavy_k)]))
        if cg_ideal == 0.0:
            return 0.0
        return max(cg_light / cg_ideal, 0.0)

    def recall(self, light_n: int | None = None, heavy_k: int | None = None) -> float | None:
        """Recall@(N, K): share of the HR top K found in the LR top N (see `recall_at_nk`)."""
        if not np.any(self.labels != 0):
            return None
        size = len(self)
        safe_n = size if not light_n else min(size, light_n)
        safe_k = size if not heavy_k else min(size, heavy_k)
        hits = int(np.count_nonzero(self.label_rank_by_prediction[:safe_n] < safe_k))
        return hits / float(safe_k)

    def expected_loss(self, light_n: int) -> float | None:
        """ExpectedLoss@N: best HR score overall minus best HR score in the LR top N."""
        if light_n <= 0:
            return None
        return float(np.max(self.ideal[:1]) - np.max(self.labels_by_prediction[:light_n]))

    def ndcg(self, top_k: int) -> float | None:
        """NDCG@k: DCG of the LR order over DCG of the HR order, HR scores as gains (see `ndcg_at_k`)."""
        if top_k <= 0 or not np.max(self.labels) > 0.0:
            return None
        depth = min(top_k, len(self))
        discounts = np.log2(np.arange(2, depth + 2, dtype=np.float64))
        dcg = float(np.sum(self.labels_by_prediction[:depth] / discounts))
        ideal = float(np.sum(self.ideal[:depth] / discounts))
        return dcg / ideal if ideal > 0.0 else 0.0


def cgr_at_nk(
    labels: Sequence[float] | np.ndarray,
    predictions: Sequence[float] | np.ndarray,
    light_n: int | None,
    heavy_k: int | None,
) -> float | None:
    """Cumulative gain ratio of one request (original `cgr_at_nk`).

    `L_N` are the labels of the LR top N. The light gain is `ΣL_N` when N <= K, else the sum of
    the K largest labels in `L_N`; the ideal gain is the sum of the top min(N, K) labels of the
    whole request. CGR = max(light / ideal, 0), or 0.0 when the ideal gain is 0.

    Returns:
        CGR in [0, 1] for non-negative labels; None when N or K is missing or <= 0.
    """
    return RankedGroup(labels, predictions).cgr(light_n, heavy_k)


def recall_at_nk(
    labels: Sequence[float] | np.ndarray,
    predictions: Sequence[float] | np.ndarray,
    light_n: int | None = None,
    heavy_k: int | None = None,
) -> float | None:
    """Recall of the HR top K within the LR top N for one request (original `recall_at_nk`, no `w`).

    With n* = min(len, N) and k* = min(len, K) (a missing N or K means the whole request),
    recall = |{LR top n*} ∩ {HR top k*}| / k*.

    Returns:
        Recall in [0, 1]; None when every label is 0 (there is nothing to recall).
    """
    return RankedGroup(labels, predictions).recall(light_n, heavy_k)


def expected_loss_at_n(
    labels: Sequence[float] | np.ndarray, predictions: Sequence[float] | np.ndarray, light_n: int
) -> float | None:
    """HR score lost at the top by the LR cut (original `score_loss_at_n`).

    Returns:
        max(labels) - max(labels of the LR top N), >= 0; None when N <= 0.
    """
    return RankedGroup(labels, predictions).expected_loss(light_n)


def ndcg_at_k(
    labels: Sequence[float] | np.ndarray, predictions: Sequence[float] | np.ndarray, top_k: int
) -> float | None:
    """NDCG@k of one request with the HR scores as gains, TFMA 0.47's formula.

    With gains g in LR order (stable, descending by prediction) and d = min(k, len),
    DCG = Σ_{i=1..d} g_i / log2(i + 1) and IDCG is the same sum over the gains sorted best
    first; NDCG = DCG / IDCG, or 0.0 when IDCG <= 0. TFMA gives a request whose gains are all
    <= 0 weight 0 in its mean; here it is undefined (None), which the mean over requests skips
    in the same way. Ties in prediction keep input order (TFMA reverses a non-stable argsort).

    Returns:
        NDCG in [0, 1] for non-negative gains; None when k <= 0 or no gain is positive.
    """
    return RankedGroup(labels, predictions).ndcg(top_k)


def group_metric_values(
    group: RankedGroup, n_values: Sequence[int], k_values: Sequence[int]
) -> dict[str, float | None]:
    """Every configured metric of one request, by metric name (None where undefined).

    CGR is computed for all N x K pairs, recall for the pairs with N >= K and ExpectedLoss for
    each N, as in the original `group_metrics.run_group_metrics_light_ranking`, then NDCG at
    `NDCG_TOP_K`.
    """
    values: dict[str, float | None] = {}
    for n in n_values:
        for k in k_values:
            values[cgr_name(n, k)] = group.cgr(n, k)
    for n, k in recall_pairs(n_values, k_values):
        values[recall_name(n, k)] = group.recall(n, k)
    for n in n_values:
        values[expected_loss_name(n)] = group.expected_loss(n)
    values[ndcg_name(NDCG_TOP_K)] = group.ndcg(NDCG_TOP_K)
    return values


def group_metric_names(n_values: Sequence[int], k_values: Sequence[int]) -> list[str]:
    """Names `group_metric_values` returns, in the same order."""
    names = [cgr_name(n, k) for n in n_values for k in k_values]
    names += [recall_name(n, k) for n, k in recall_pairs(n_values, k_values)]
    names += [expected_loss_name(n) for n in n_values]
    names.append(ndcg_name(NDCG_TOP_K))
    return names
