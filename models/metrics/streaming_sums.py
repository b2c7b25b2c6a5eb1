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
and keys): it fetches each example's label, prediction and weight once and feeds a weighted
and a unit-weight copy of both accumulators. TFMA's generic per-example extraction costs far
more than the sums themselves, so one combiner instead of four (sums and histogram, weighted
and not) roughly quarters what the family adds to the Evaluator's time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.proto import config_pb2

from lightrank.models.metrics.formulas import clipped_log_loss, clipped_log_loss_scalar

STREAMING_STATE_KEY_NAME = "_light_ranker_streaming_state"

#: Histogram resolution: buckets per unit of logit(p).
BUCKETS_PER_LOGIT_UNIT = 1000
#: Predictions are clipped to [_LOGIT_CLIP, 1 - _LOGIT_CLIP] only to find their bucket.
_LOGIT_CLIP = 1e-15


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

    def add(self, label: float, prediction: float, weight: float) -> None:
        """Adds one example."""
        self.num_examples += 1
        self.sum_weight += weight
        self.sum_weighted_label += weight * label
        self.sum_weighted_prediction += weight * prediction
        self.sum_weighted_log_loss += weight * clipped_log_loss_scalar(label, prediction)

    def merge(self, other: BinarySums) -> None:
        """Adds another accumulator's sums into this one."""
        self.num_examples += other.num_examples
        self.sum_weight += other.sum_weight
        self.sum_weighted_label += other.sum_weighted_label
        self.sum_weighted_prediction += other.sum_weighted_prediction
        self.sum_weighted_log_loss += other.sum_weighted_log_loss


def bucket_of(prediction: float) -> int:
    """Histogram bucket of a prediction: floor(logit(p) * BUCKETS_PER_LOGIT_UNIT)."""
    p = min(max(prediction, _LOGIT_CLIP), 1.0 - _LOGIT_CLIP)
    return math.floor((math.log(p) - math.log1p(-p)) * BUCKETS_PER_LOGIT_UNIT)


class PredictionHistogram:
    """Per-bucket [Σw·y, Σw·(1-y), Σw·y·p, Σw·(1-y)·p]: enough to re-score any p -> g(p) later."""

    __slots__ = ("buckets",)

    def __init__(self) -> None:
        self.buckets: dict[int, list[float]] = {}

    def add(self, label: float, prediction: float, weight: float) -> None:
        """Adds one example; soft labels split its weight between the two classes."""
        positive = weight * label
        negative = weight * (1.0 - label)
        sums = self.buckets.setdefault(bucket_of(prediction), [0.0, 0.0, 0.0, 0.0])
        sums[0] += positive
        sums[1] += negative
        sums[2] += positive * prediction
        sums[3] += negative * prediction

    def merge(self, other: PredictionHistogram) -> None:
        """Adds another histogram's buckets into this one."""
        for bucket, other_sums in other.buckets.items():
            sums = self.buckets.setdefault(bucket, [0.0, 0.0, 0.0, 0.0])
            for i, value in enumerate(other_sums):
                sums[i] += value

    def weighted_log_loss(self, transform: Callable[[np.ndarray], np.ndarray]) -> float:
        """Σ w·BCE(y, clip(transform(p))), each class of a bucket scored at its mean prediction."""
        if not self.buckets:
            return 0.0
        table = np.asarray(list(self.buckets.values()), dtype=np.float64)
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

    def add(self, label: float, prediction: float, weight: float) -> None:
        """Adds one example to the four accumulators."""
        self.weighted_sums.add(label, prediction, weight)
        self.weighted_histogram.add(label, prediction, weight)
        self.unit_sums.add(label, prediction, 1.0)
        self.unit_histogram.add(label, prediction, 1.0)

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
    """Feeds every (label, prediction, weight) of a slice into one `StreamingState`."""

    def __init__(self, key: metric_types.MetricKey, eval_config: config_pb2.EvalConfig | None):
        self._key = key
        self._eval_config = eval_config

    def create_accumulator(self) -> StreamingState:
        return StreamingState()

    def add_input(
        self, accumulator: StreamingState, element: metric_types.StandardMetricInputs
    ) -> StreamingState:
        # The example weight when the model spec names one, else 1 (TFMA's rule).
        for label, prediction, weight in metric_util.to_label_prediction_example_weight(
            element,
            eval_config=self._eval_config,
            model_name=self._key.model_name,
            output_name=self._key.output_name,
            example_weighted=True,
        ):
            accumulator.add(float(label), float(prediction), float(weight))
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
        keys=[key], preprocessors=None, combiner=_StreamingCombiner(key, eval_config)
    )
