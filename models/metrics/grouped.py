"""Grouped light-ranking metrics over requests, as a TFMA metric (docs/evaluation.md, Metrics).

The Evaluator's extractors hand TFMA one request view per request (`request_key`, e.g.
`meta.trace_id`): every candidate of the request in one extract (`lightrank.models.metrics.views`).
`LightRankingGroupMetrics` scores each request with `ranking.group_metric_values` and reports,
per metric, the mean over the requests where the metric is defined. Requests are grouped on
`str(value)` of the key, as TFMA's query grouping did, which is exact for int64 ids. A request
view reaches the combiner once per slice it falls in; it is scored once and remembered.

Reference ranking: the heavy-ranker score, a raw feature read from the extracts' `features`
(default `meta.ranking.weighted_oonc_model_score`), not the model's label. The original engine
used the task label of the record; pass the label feature as `heavy_score_key` to
reproduce that. The ranked score is the model's prediction.

Reported keys (N in `n_values`, K in `k_values`: the config's `evaluation.grouped.light_n` and
`heavy_k`; NDCG stays at 10 whatever the lists):

* `cgr_atLight_{N}_atHeavy_{K}` for every pair, `recall_atLight_{N}_atHeavy_{K}` for N >= K,
  `expected_loss_atLight_{N}`, `ndcg_at_10`: means over requests (NaN when no request has a
  value);
* `num_requests`: requests scored (at least one usable candidate);
* `num_candidates_in_requests`: every candidate of the requests TFMA handed over, usable or not;
* `num_requests_all_zero_heavy_score`: of those, requests left out of recall and NDCG (undefined);
* `num_candidates_missing_heavy_score`: candidates dropped for lacking exactly one finite
  heavy score (absent, NaN or multi-valued); they never reach a request's metrics;
* `num_candidates_missing_request_key`: candidates without exactly one request key (they share
  one pseudo-request, as in TFMA's query grouping); they are dropped so that pseudo-request
  cannot distort the means. The preflight and `lightrank eval` refuse such data first.

Slices: a request view is sliced by the union of its candidates' slice keys, as TFMA slices a
query, so the combiner never learns which slice it serves. On a
slice by a request-level feature (constant within a request) the values are exact. On a slice
by a candidate feature (e.g. `candidate.source`) each request arrives with all its candidates,
so the values describe whole requests, not the slice. `num_candidates_in_requests` tells the
two apart: it equals the slice's `example_count` exactly when no request is split by the slice.
`needs_whole_requests` names the keys that are then undefined (`lightrank.pipeline.summary` shows n/a).

Left out on purpose: `group_recall_unweighted` (N and K = whole request, always 1.0) and
`group_recall_weighted` (added by an inverted check; a copy of it).

Ties: stable sorts keep the candidates' order in the request view: input order within a batch,
batches in the order Beam's grouping produced (unspecified); with continuous scores ties are
rare. Means are unweighted: `meta.weight` is per candidate
and has no meaning for a request, so TFMA's example weights are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.api import types
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.proto import config_pb2

from lightrank.models.metrics.ranking import RankedGroup, group_metric_names, group_metric_values
from lightrank.models.metrics.views import REQUEST_FEATURES_KEY, REQUEST_ID_KEY, RequestPreprocessor

DEFAULT_HEAVY_SCORE_KEY = "meta.ranking.weighted_oonc_model_score"
#: The light ranker's top N and the heavy ranker's top K when the pipeline config does not set
#: `evaluation.grouped.light_n` / `heavy_k` (and for `lightrank eval` without a config).
DEFAULT_N_VALUES = (50, 100, 200)
DEFAULT_K_VALUES = (1, 3, 10, 20, 50)
FAMILY_NAME = "light_ranking_group_metrics"
NUM_REQUESTS = "num_requests"
NUM_REQUESTS_ALL_ZERO_HEAVY_SCORE = "num_requests_all_zero_heavy_score"
NUM_CANDIDATES_MISSING_HEAVY_SCORE = "num_candidates_missing_heavy_score"
NUM_CANDIDATES_MISSING_REQUEST_KEY = "num_candidates_missing_request_key"
NUM_CANDIDATES_IN_REQUESTS = "num_candidates_in_requests"
COUNT_NAMES = (
    NUM_REQUESTS,
    NUM_REQUESTS_ALL_ZERO_HEAVY_SCORE,
    NUM_CANDIDATES_MISSING_HEAVY_SCORE,
    NUM_CANDIDATES_MISSING_REQUEST_KEY,
    NUM_CANDIDATES_IN_REQUESTS,
)
#: Keys that still hold on a slice that splits requests: they count the requests TFMA handed
#: over and their candidates. Every other key of the family describes the candidates of those
#: whole requests, so it is undefined for such a slice.
_WHOLE_REQUEST_COUNTS = (NUM_REQUESTS, NUM_CANDIDATES_IN_REQUESTS)
#: Scored requests a combiner remembers (a request meets it once per slice, one after another).
_MAX_REMEMBERED_REQUESTS = 4096
_GROUPED_PREFIXES = ("cgr_atLight_", "recall_atLight_", "expected_loss_atLight_", "ndcg_at_")


def grouped_metric_names(n_values: Sequence[int], k_values: Sequence[int]) -> list[str]:
    """Every key name `LightRankingGroupMetrics` reports for these N and K lists."""
    return group_metric_names(n_values, k_values) + list(COUNT_NAMES)


def needs_whole_requests(name: str) -> bool:
    """Whether the grouped metric `name` is undefined on a slice that splits requests.

    True for the per-request means (CGR, Recall, ExpectedLoss, NDCG, whatever N and K) and the
    candidate and all-zero counts, which TFMA computes over the whole requests that touch the
    slice; False for `num_requests`, `num_candidates_in_requests` and every non-grouped name.
    """
    if name in _WHOLE_REQUEST_COUNTS:
        return False
    return name in COUNT_NAMES or name.startswith(_GROUPED_PREFIXES)


def _positive_ints(values: Iterable[int], what: str) -> list[int]:
    result = list(values)
    if not result or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in result):
        raise ValueError(f"{what} must be a non-empty list of positive ints, got {result!r}")
    if len(set(result)) != len(result):
        raise ValueError(f"{what} has duplicates: {result!r}")
    return result


def single_value_mask(value: Any, num_candidates: int) -> tuple[np.ndarray, np.ndarray]:
    """Splits a request's merged feature into one value per candidate and a presence mask.

    TFMA merges the candidates' features into a dense array when every candidate has the same
    number of values, into a `VarLenTensorValue` otherwise, and into a (n, 0) array when none
    has one. A candidate counts as present when it has exactly one value.

    Returns:
        (values, present): `values[i]` is candidate i's value where `present[i]`, else 0.
    """
    present = np.zeros(num_candidates, dtype=bool)
    values = np.zeros(num_candidates, dtype=object)
    if value is None:
        return values, present
    if isinstance(value, types.VarLenTensorValue):
        rows = np.asarray(value.indices)[:, 0] if len(value.indices) else np.zeros(0, dtype=np.int64)
        counts = np.bincount(rows, minlength=num_candidates)[:num_candidates]
        present = counts == 1
        for position, row in enumerate(rows):
            if present[row]:
                values[row] = value.values[position]
        return values, present
    array = np.asarray(value)
    if array.dtype == object and array.size == num_candidates:
        for i, item in enumerate(array.reshape(-1)):
            item = np.asarray(item).reshape(-1)
            if item.size == 1:
                present[i], values[i] = True, item[0]
        return values, present
    if array.size == num_candidates and (array.ndim <= 1 or array.shape[-1] == 1):
        return array.reshape(-1).astype(object), np.ones(num_candidates, dtype=bool)
    return values, present


class GroupSums:
    """Per-metric sums and counts over requests, plus the bookkeeping counts."""

    __slots__ = ("counts", "sums", "value_counts")

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.value_counts: dict[str, int] = {}
        self.counts: dict[str, int] = dict.fromkeys(COUNT_NAMES, 0)

    def add_request(self, values: dict[str, float | None]) -> None:
        """Adds one request's metric values; None values do not count."""
        for name, value in values.items():
            if value is not None:
                self.sums[name] = self.sums.get(name, 0.0) + value
                self.value_counts[name] = self.value_counts.get(name, 0) + 1

    def merge(self, other: GroupSums) -> None:
        """Adds another accumulator into this one."""
        for name, value in other.sums.items():
            self.sums[name] = self.sums.get(name, 0.0) + value
        for name, count in other.value_counts.items():
            self.value_counts[name] = self.value_counts.get(name, 0) + count
        for name, count in other.counts.items():
            self.counts[name] += count

    def value(self, name: str) -> float:
        """The reported value of `name`: a count, or the mean over requests (NaN if none)."""
        if name in self.counts:
            return float(self.counts[name])
        count = self.value_counts.get(name, 0)
        return self.sums[name] / count if count else float("nan")


class _GroupCombiner(beam.CombineFn):
    """Scores each request (one TFMA query) and accumulates `GroupSums`."""

    def __init__(
        self,
        key: metric_types.MetricKey,
        eval_config: config_pb2.EvalConfig | None,
        request_key: str,
        heavy_score_key: str,
        n_values: list[int],
        k_values: list[int],
    ):
        self._key = key
        self._eval_config = eval_config
        self._request_key = request_key
        self._heavy_score_key = heavy_score_key
        self._n_values = n_values
        self._k_values = k_values

    def create_accumulator(self) -> GroupSums:
        return GroupSums()

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key != "_scores"}

    def add_input(self, accumulator: GroupSums, element: metric_types.StandardMetricInputs) -> GroupSums:
        # A request view reaches this combiner once per slice it falls in; its id names it
        # uniquely in one evaluation, so it is scored once.
        request_id = element.get(REQUEST_ID_KEY)
        scores: dict[str, GroupSums] = self.__dict__.setdefault("_scores", {})
        score = scores.get(request_id) if request_id is not None else None
        if score is None:
            score = self._score(element)
            if request_id is not None:
                if len(scores) >= _MAX_REMEMBERED_REQUESTS:
                    scores.clear()
                scores[request_id] = score
        accumulator.merge(score)
        return accumulator

    def _score(self, element: metric_types.StandardMetricInputs) -> GroupSums:
        """One request's metric values and counts."""
        score = GroupSums()
        _, predictions, _ = next(
            metric_util.to_label_prediction_example_weight(
                element,
                eval_config=self._eval_config,
                model_name=self._key.model_name,
                output_name=self._key.output_name,
                example_weighted=False,
                flatten=False,
                allow_none=True,
            )
        )
        predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
        features = element.get(REQUEST_FEATURES_KEY) or element.features or {}
        _, has_request_key = single_value_mask(features.get(self._request_key), predictions.size)
        heavy_scores, has_heavy_score = single_value_mask(
            features.get(self._heavy_score_key), predictions.size
        )
        heavy_scores = np.where(has_heavy_score, heavy_scores, np.nan).astype(np.float64)
        has_heavy_score &= np.isfinite(heavy_scores)
        score.counts[NUM_CANDIDATES_IN_REQUESTS] += int(predictions.size)
        score.counts[NUM_CANDIDATES_MISSING_REQUEST_KEY] += int(np.count_nonzero(~has_request_key))
        score.counts[NUM_CANDIDATES_MISSING_HEAVY_SCORE] += int(
            np.count_nonzero(has_request_key & ~has_heavy_score)
        )
        usable = has_request_key & has_heavy_score
        if not np.any(usable):
            return score
        group = RankedGroup(heavy_scores[usable], predictions[usable])
        score.counts[NUM_REQUESTS] += 1
        if not np.any(group.labels != 0):
            score.counts[NUM_REQUESTS_ALL_ZERO_HEAVY_SCORE] += 1
        score.add_request(group_metric_values(group, self._n_values, self._k_values))
        return score

    def merge_accumulators(self, accumulators: Iterable[GroupSums]) -> GroupSums:
        accumulators = iter(accumulators)
        result = next(accumulators)
        for accumulator in accumulators:
            result.merge(accumulator)
        return result

    def extract_output(self, accumulator: GroupSums) -> dict[metric_types.MetricKey, GroupSums]:
        return {self._key: accumulator}


def _group_computations(
    heavy_score_key: str,
    n_values: list[int],
    k_values: list[int],
    name: str = FAMILY_NAME,
    request_key: str = "",
    eval_config: config_pb2.EvalConfig | None = None,
    model_names: list[str] | None = None,
    output_names: list[str] | None = None,
    example_weighted: bool = False,
    query_key: str | None = None,
) -> metric_types.MetricComputations:
    if query_key:
        raise ValueError(
            f"{name} groups requests itself (its request_key); a MetricsSpec query_key would make "
            "TFMA regroup the Evaluator's request views"
        )
    if not request_key:
        raise ValueError(f"{name} needs request_key, the feature naming each candidate's request")
    published = [name] if name != FAMILY_NAME else grouped_metric_names(n_values, k_values)
    base_name = f"_light_ranking_groups({heavy_score_key}; request={request_key}; n={n_values}; k={k_values})"
    computations: metric_types.MetricComputations = []
    for model_name in model_names or [""]:
        for output_name in output_names or [""]:
            base_key = metric_types.MetricKey(name=base_name, model_name=model_name, output_name=output_name)
            combiner = _GroupCombiner(base_key, eval_config, request_key, heavy_score_key, n_values, k_values)
            computations.append(
                metric_types.MetricComputation(
                    keys=[base_key], preprocessors=[RequestPreprocessor()], combiner=combiner
                )
            )
            keys = [
                metric_types.MetricKey(
                    name=metric,
                    model_name=model_name,
                    output_name=output_name,
                    example_weighted=example_weighted,
                )
                for metric in published
            ]

            def result(
                metrics: dict[metric_types.MetricKey, Any],
                base_key: metric_types.MetricKey = base_key,
                keys: list[metric_types.MetricKey] = keys,
            ) -> dict[metric_types.MetricKey, float]:
                sums: GroupSums = metrics[base_key]
                return {key: sums.value(key.name) for key in keys}

            computations.append(metric_types.DerivedMetricComputation(keys=keys, result=result))
    return computations


class LightRankingGroupMetrics(metric_types.Metric):
    """CGR@(N, K), Recall@(N, K), ExpectedLoss@N and NDCG@10 averaged over requests (module docstring).

    With the default `name` the metric reports every key of `grouped_metric_names`. With `name`
    set to one of those keys it reports only that one, which is how a threshold is attached to a
    single grouped metric (TFMA binds a MetricConfig's threshold to the instance name). All
    instances with the same heavy-score key and N/K lists share one computation.
    """

    def __init__(
        self,
        heavy_score_key: str = DEFAULT_HEAVY_SCORE_KEY,
        n_values: Iterable[int] = DEFAULT_N_VALUES,
        k_values: Iterable[int] = DEFAULT_K_VALUES,
        name: str = FAMILY_NAME,
        request_key: str = "",
    ):
        """Initialises the metric.

        Args:
            heavy_score_key: Raw feature holding each candidate's heavy-ranker score.
            n_values: Light-ranker cut sizes N.
            k_values: Heavy-ranker top sizes K.
            name: `FAMILY_NAME` for all keys, or a single key name to report only that key.
            request_key: Raw feature naming each candidate's request (e.g. `meta.trace_id`);
                required to compute, optional only to list the metric's names.

        Raises:
            ValueError: On an empty heavy-score key, bad N/K lists, or an unknown `name`.
        """
        if not heavy_score_key:
            raise ValueError("heavy_score_key must name a feature")
        n_list = _positive_ints(n_values, "n_values")
        k_list = _positive_ints(k_values, "k_values")
        if name != FAMILY_NAME and name not in grouped_metric_names(n_list, k_list):
            raise ValueError(f"unknown grouped metric {name!r} for n_values={n_list}, k_values={k_list}")
        super().__init__(
            _group_computations,
            heavy_score_key=heavy_score_key,
            n_values=n_list,
            k_values=k_list,
            name=name,
            request_key=request_key,
        )

    def get_config(self) -> dict[str, Any]:
        """JSON config TFMA passes back as `cls(**config)`."""
        return dict(self.kwargs)
