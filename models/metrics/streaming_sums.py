"""Single-pass float64 accumulators behind the RCE family, as TFMA base computations.

twml streamed RCE, NRCE and ARCE through float32 batch accumulators. TFMA instead
feeds a Beam `CombineFn` examples in no particular order and merges partial accumulators, so
everything here is order-independent:

* `BinarySums` holds the exact sums Σw, Σw·y, Σw·p and Σw·BCE(y, clip(p)). RCE, log loss, ctr and
  predicted_ctr are closed-form in them.
* `PredictionHistogram` serves NRCE and ARCE. Their normaliser `a = Σw·y / Σw·p` is only known
  once the whole slice is seen, and `BCE(y, clip(a·p))` does not decompose into sums, so the
  loss is evaluated at the end over a histogram of predictions. Buckets are 1/1000 wide in logit
  space and keep, per label class, the weight and the weighted mean prediction. A bucket that
  holds one distinct prediction therefore reproduces it exactly; buckets mixing predictions
  replace them by their class mean, an error of second order in the bucket width (about 1e-7
  of the per-example loss). Memory is bounded by the number of occupied buckets (< 70,000).

All twelve metrics of the family (six, weighted and unweighted) read one `StreamingState`,
computed by one combiner under one private key (TFMA de-duplicates computations by combiner
and keys): it fetches the labels, predictions and weights of a candidate cell (whole numpy
arrays, `lightrank.models.metrics.views`) once and feeds a weighted and a unit-weight copy of
both accumulators. TFMA's generic extraction costs more than the sums themselves, so one
combiner serves all twelve, and the candidate counts (`rce_metrics.CandidateCount`) too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.proto import config_pb2

from lightrank.models.metrics.formulas import clipped_log_loss
from lightrank.models.metrics.views import CandidatesPreprocessor, candidate_arrays

STREAMING_STATE_KEY_NAME = "_light_ranker_streaming_state"

#: Histogram resolution: buckets per unit of logit(p).
BUCKETS_PER_LOGIT_UNIT = 1000
#: Predictions are clipped to [_LOGIT_CLIP, 1 - _LOGIT_CLIP] only to find their bucket.
_LOGIT_CLIP = 1e-15
#: Rows a histogram buffers before folding them into its table.
_PENDING_LIMIT = 65_536


class BinarySums:
    """Exact float64 sums over (label y, prediction p, weight w) triples."""

    __slots__ = (
        "num_examples",
        "sum_weight",
        "sum_weighted_label",
        "sum_weighted_log_loss",
        "sum_weighted_prediction",
    )

    def __init__(self) -> None:
        self.num_examples = 0
        self.sum_weight = 0.0
        self.sum_weighted_label = 0.0
        self.sum_weighted_prediction = 0.0
        self.sum_weighted_log_loss = 0.0

    def add(self, labels: np.ndarray, predictions: np.ndarray, weights: np.ndarray) -> None:
        """Adds a batch of examples: equal-length float64 arrays."""
        self.num_examples += int(labels.size)
        self.sum_weight += float(np.sum(weights))
        self.sum_weighted_label += float(np.dot(weights, labels))
        self.sum_weighted_prediction += float(np.dot(weights, predictions))
        self.sum_weighted_log_loss += float(np.dot(weights, clipped_log_loss(labels, predictions)))

    def merge(self, other: BinarySums) -> None:
        """Adds another accumulator's sums into this one."""
        self.num_examples += other.num_examples
        self.sum_weight += other.sum_weight
        self.sum_weighted_label += other.sum_weighted_label
        self.sum_weighted_prediction += other.sum_weighted_prediction
        self.sum_weighted_log_loss += other.sum_weighted_log_loss


def bucket_of(predictions: np.ndarray) -> np.ndarray:
    """Histogram buckets of predictions: floor(logit(p) * BUCKETS_PER_LOGIT_UNIT), int64."""
    p = np.clip(predictions, _LOGIT_CLIP, 1.0 - _LOGIT_CLIP)
    return np.floor((np.log(p) - np.log1p(-p)) * BUCKETS_PER_LOGIT_UNIT).astype(np.int64)


class PredictionHistogram:
    """Per-bucket [Σw·y, Σw·(1-y), Σw·y·p, Σw·(1-y)·p]: enough to re-score any p -> g(p) later.

    Batches are appended as they come and folded into one sorted table (`ids`, `sums`) when
    `_PENDING_LIMIT` rows are waiting, on merge and before reading, so adding a batch is a few
    numpy calls whatever its size.
    """

    __slots__ = ("_pending", "_pending_rows", "ids", "sums")

    def __init__(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.sums = np.zeros((0, 4), dtype=np.float64)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_rows = 0

    def add(self, labels: np.ndarray, predictions: np.ndarray, weights: np.ndarray) -> None:
        """Adds a batch; soft labels split each example's weight between the two classes."""
        positive = weights * labels
        negative = weights * (1.0 - labels)
        rows = np.stack([positive, negative, positive * predictions, negative * predictions], axis=1)
        self._pending.append((bucket_of(predictions), rows))
        self._pending_rows += int(labels.size)
        if self._pending_rows >= _PENDING_LIMIT:
            self._fold()

    def _fold(self) -> None:
        if not self._pending:
            return
        ids = np.concatenate([self.ids, *(ids for ids, _ in self._pending)])
        rows = np.concatenate([self.sums, *(rows for _, rows in self._pending)])
        self.ids, inverse = np.unique(ids, return_inverse=True)
        self.sums = np.zeros((self.ids.size, 4), dtype=np.float64)
        np.add.at(self.sums, inverse, rows)
        self._pending, self._pending_rows = [], 0

    @property
    def num_buckets(self) -> int:
        """Occupied buckets (what the histogram's memory grows with)."""
        self._fold()
        return int(self.ids.size)

    def merge(self, other: PredictionHistogram) -> None:
        """Adds another histogram's buckets into this one."""
        self._pending.append((other.ids, other.sums))
        self._pending.extend(other._pending)
        self._fold()

    def __getstate__(self) -> tuple[np.ndarray, np.ndarray]:
        self._fold()
        return self.ids, self.sums

    def __setstate__(self, state: tuple[np.ndarray, np.ndarray]) -> None:
        self.ids, self.sums = state
        self._pending, self._pending_rows = [], 0

    def weighted_log_loss(self, transform: Callable[[np.ndarray], np.ndarray]) -> float:
        """Σ w·BCE(y, clip(transform(p))), each class of a bucket scored at its mean prediction."""
        self._fold()
        if not self.ids.size:
            return 0.0
        table = self.sums
        positive, negative = table[:, 0], table[:, 1]
        mean_positive = np.divide(table[:, 2], positive, out=np.zeros_like(positive), where=positive != 0)
        mean_negative = np.divide(table[:, 3], negative, out=np.zeros_like(negative), where=negative != 0)
        loss_positive = clipped_log_loss(1.0, transform(mean_positive))
        loss_negative = clipped_log_loss(0.0, transform(mean_negative))
        return float(np.sum(positive * loss_positive) + np.sum(negative * loss_negative))


class StreamingState:
    """Both accumulators, with the example weights applied (`weighted`) and with weight 1 (`unit`)."""

    __slots__ = ("unit_histogram", "unit_sums", "weighted_histogram", "weighted_sums")

    def __init__(self) -> None:
        self.weighted_sums = BinarySums()
        self.weighted_histogram = PredictionHistogram()
        self.unit_sums = BinarySums()
        self.unit_histogram = PredictionHistogram()

    def add(self, labels: np.ndarray, predictions: np.ndarray, weights: np.ndarray) -> None:
        """Adds a batch of examples (`views.candidate_arrays`) to the four accumulators."""
        ones = np.ones_like(labels)
        self.weighted_sums.add(labels, predictions, weights)
        self.weighted_histogram.add(labels, predictions, weights)
        self.unit_sums.add(labels, predictions, ones)
        self.unit_histogram.add(labels, predictions, ones)

    def merge(self, other: StreamingState) -> None:
        """Adds another state's accumulators into this one."""
        self.weighted_sums.merge(other.weighted_sums)
        self.weighted_histogram.merge(other.weighted_histogram)
        self.unit_sums.merge(other.unit_sums)
        self.unit_histogram.merge(other.unit_histogram)

    def view(self, use_weights: bool) -> tuple[BinarySums, PredictionHistogram]:
        """The sums and histogram a metric reads: weighted, or every example counted once."""
        if use_weights:
            return self.weighted_sums, self.weighted_histogram
        return self.unit_sums, self.unit_histogram


class _StreamingCombiner(beam.CombineFn):
    """Feeds every candidate cell of a slice into one `StreamingState`, a whole array at a time."""

    def __init__(self, key: metric_types.MetricKey, eval_config: config_pb2.EvalConfig | None):
        self._key = key
        self._eval_config = eval_config

    def create_accumulator(self) -> StreamingState:
        return StreamingState()

    def add_input(
        self, accumulator: StreamingState, element: metric_types.StandardMetricInputs
    ) -> StreamingState:
        # The example weight when the model spec names one, else 1 (TFMA's rule).
        for labels, predictions, weights in candidate_arrays(element, self._eval_config, self._key, True):
            accumulator.add(labels, predictions, weights)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[StreamingState]) -> StreamingState:
        accumulators = iter(accumulators)
        result = next(accumulators)
        for accumulator in accumulators:
            result.merge(accumulator)
        return result

    def extract_output(self, accumulator: StreamingState) -> dict[metric_types.MetricKey, StreamingState]:
        return {self._key: accumulator}


def streaming_state_computation(
    eval_config: config_pb2.EvalConfig | None, model_name: str, output_name: str
) -> metric_types.MetricComputation:
    """The one `StreamingState` computation of a model output, shared by the whole RCE family."""
    key = metric_types.MetricKey(
        name=STREAMING_STATE_KEY_NAME, model_name=model_name, output_name=output_name
    )
    return metric_types.MetricComputation(
        keys=[key], preprocessors=[CandidatesPreprocessor()], combiner=_StreamingCombiner(key, eval_config)
    )
