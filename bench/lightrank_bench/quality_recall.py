"""Recall of the reference top 3 within the light top 10: the quality goal's ranking metric.

The goals of the light ranker against LightGBM and logistic regression (issue 13) are ROC AUC
and the share of the reference (heavy) ranker's top 3 that the light ranker puts in its own
top 10, per request, averaged over the requests where it is defined, as the Evaluator's grouped
recall metrics are (`lightrank.models.metrics.ranking.RankedGroup`). The table's other recalls
cut at 50 and 100, which requests of at most 120 candidates (the catalog's) saturate.
"""

from __future__ import annotations

import numpy as np

#: (light N, heavy K) of the goal's recall.
RECALL_10_3 = (10, 3)


def recalls_per_request(
    predictions: np.ndarray,
    heavy_scores: np.ndarray,
    request_keys: np.ndarray,
    light_n: int = RECALL_10_3[0],
    heavy_k: int = RECALL_10_3[1],
) -> list[float | None]:
    """Each request's share of the heavy top `heavy_k` found in the light top `light_n`.

    Returns:
        One value per request, in `np.unique(request_keys)` order; None where it is undefined.
        Candidates of a request keep their order in the arrays, so ties rank as in the Evaluator.

    Raises:
        ValueError: If the arrays differ in length or are empty.
    """
    from lightrank.models.metrics.ranking import RankedGroup

    arrays = [np.asarray(a).reshape(-1) for a in (predictions, heavy_scores, request_keys)]
    if len({a.size for a in arrays}) != 1 or arrays[0].size == 0:
        raise ValueError(f"need equally long, non-empty arrays; got sizes {[a.size for a in arrays]}")
    predictions, heavy_scores, request_keys = arrays
    _, group_of, sizes = np.unique(request_keys, return_inverse=True, return_counts=True)
    by_request = np.split(np.argsort(group_of, kind="stable"), np.cumsum(sizes)[:-1])
    return [RankedGroup(heavy_scores[i], predictions[i]).recall(light_n, heavy_k) for i in by_request]
