"""The quality table's metrics (AUC, RCE, NRCE, recall, CGR) of one scorer on one split; the random floor.

The metrics are unweighted and use the project's own code, as the Evaluator does: RCE from
`lightrank.models.metrics.formulas` (NRCE beside it: a comparator's RCE can suffer from a
prior shift between the splits alone, its NRCE cannot), recall and CGR per request from
`lightrank.models.metrics.ranking.RankedGroup`
against the heavy-ranker score, averaged over the requests where a value is defined; AUC is
`sklearn.metrics.roc_auc_score` on `label != 0`. The random scorer draws uniform scores from a
fixed seed: the floor every model must clear.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

#: Seed of the random scorer and of LightGBM: the table must be reproducible.
SEED = 0
#: (N, K) of the recall columns and of the CGR column.
RECALL_AT = ((50, 3), (100, 3), (100, 10))
CGR_AT = (100, 10)


@dataclasses.dataclass(frozen=True)
class QualityMetrics:
    """Unweighted quality of one scorer on the eval split.

    Attributes:
        num_candidates: Candidates scored.
        num_requests: Distinct request keys among them.
        auc: ROC AUC of the scores against `label != 0` (NaN if one class only).
        rce: Relative cross entropy in percent (`lightrank.models.metrics.formulas.rce`).
        recall_50_3: Mean over requests of the heavy top 3 found in the light top 50.
        recall_100_3: Same for the heavy top 3 in the light top 100: the headline
            comparison of the presets (`docs/performance.md`).
        recall_100_10: Same for the heavy top 10 in the light top 100.
        cgr_100_10: Mean cumulative gain ratio at light 100, heavy 10.
        nrce: RCE after rescaling the predictions to the split's rate (`formulas.nrce`), in
            percent: what is left of RCE when the eval split's positive rate differs from train's.
    """

    num_candidates: int
    num_requests: int
    auc: float
    rce: float
    recall_50_3: float
    recall_100_3: float
    recall_100_10: float
    cgr_100_10: float
    nrce: float = math.nan


def mean_metrics(metrics: Sequence[QualityMetrics]) -> QualityMetrics:
    """Each metric's mean over trainings scored on the same candidates (several seeds of one model).

    Raises:
        ValueError: If there are none, or they were scored on different candidates.
    """
    if not metrics:
        raise ValueError("no trainings' metrics to average")
    sizes = {(m.num_candidates, m.num_requests) for m in metrics}
    if len(sizes) != 1:
        raise ValueError(f"metrics of different eval splits, (candidates, requests): {sorted(sizes)}")
    means = {
        field.name: float(np.mean([getattr(m, field.name) for m in metrics]))
        for field in dataclasses.fields(QualityMetrics)
        if field.name not in ("num_candidates", "num_requests")
    }
    return dataclasses.replace(metrics[0], **means)


def grouped_mean(values: list[float | None]) -> float:
    """Mean over the requests where the metric is defined (the Evaluator's `GroupSums.value`)."""
    defined = [value for value in values if value is not None]
    return float(np.mean(defined)) if defined else float("nan")


def quality_metrics(
    labels: np.ndarray, predictions: np.ndarray, heavy_scores: np.ndarray, request_keys: np.ndarray
) -> QualityMetrics:
    """AUC, RCE, recall and CGR of one scorer's predictions on one split.

    Candidates of a request keep their order in the arrays, so ties rank as in the Evaluator,
    which sees them in file order too.

    Args:
        labels: `[N]` task labels.
        predictions: `[N]` predicted probabilities.
        heavy_scores: `[N]` heavy-ranker scores: the reference ranking of the grouped metrics.
        request_keys: `[N]` request ids that group the candidates.

    Raises:
        ValueError: If the arrays are empty or differ in length.
    """
    from sklearn.metrics import roc_auc_score

    from lightrank.models.metrics.formulas import nrce, rce
    from lightrank.models.metrics.ranking import RankedGroup

    arrays = [np.asarray(a).reshape(-1) for a in (labels, predictions, heavy_scores, request_keys)]
    labels, predictions, heavy_scores, request_keys = arrays
    if len({a.size for a in arrays}) != 1 or labels.size == 0:
        raise ValueError(f"need equally long, non-empty arrays; got sizes {[a.size for a in arrays]}")
    positive = labels != 0
    auc = float(roc_auc_score(positive, predictions)) if 0 < positive.sum() < positive.size else float("nan")
    _, group_of, sizes = np.unique(request_keys, return_inverse=True, return_counts=True)
    by_request = np.split(np.argsort(group_of, kind="stable"), np.cumsum(sizes)[:-1])
    groups = [RankedGroup(heavy_scores[index], predictions[index]) for index in by_request]
    return QualityMetrics(
        num_candidates=int(labels.size),
        num_requests=len(groups),
        auc=auc,
        rce=rce(labels, predictions),
        recall_50_3=grouped_mean([group.recall(*RECALL_AT[0]) for group in groups]),
        recall_100_3=grouped_mean([group.recall(*RECALL_AT[1]) for group in groups]),
        recall_100_10=grouped_mean([group.recall(*RECALL_AT[2]) for group in groups]),
        cgr_100_10=grouped_mean([group.cgr(*CGR_AT) for group in groups]),
        nrce=nrce(labels, predictions),
    )


def random_scores(count: int, seed: int = SEED) -> np.ndarray:
    """`count` scores drawn uniformly from [0, 1): the same scores for the same seed."""
    return np.random.default_rng(seed).uniform(size=count)
