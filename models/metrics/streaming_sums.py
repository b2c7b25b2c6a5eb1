"""Single-pass float64 accumulators behind the RCE family, as TFMA base computations.

twml streamed RCE, NRCE and ARCE through float32 batch accumulators (spec 4.1). TFMA instead
feeds a Beam `CombineFn` examples in no particular order and merges partial accumulators, so
everything here is order-independent:

* `BinarySums` holds the exact sums Σw, Σw·y, Σw·p and Σw·BCE(y, clip(p)). RCE, ctr and
  predicted_ctr are closed-form in them.
* `PredictionHistogram` serves NRCE and ARCE. Their normaliser `a = Σw·y / Σw·p` is only known
  once the whole slice is seen, and `BCE(y, clip(a·p))` does not decompose into sums, so the
  loss is evaluated at the end over a histogram of predictions. Buckets are 1/1000 wide in logit
  space and keep, per label class, the weight and the weighted mean prediction. A bucket that
  holds one distinct prediction therefore reproduces it exactly; buckets mixing predictions
  replace them by their class mean, an error of second order in the bucket width (about 1e-7
  of the per-example loss). Memory is bounded by the number of occupied buckets (< 70,000).

The private keys carry `example_weighted=use_weights`, so a weighted metric evaluated without
an example-weight key and an unweighted metric share one computation (TFMA de-duplicates
computations by combiner name and keys).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.proto import config_pb2

from models.metrics.formulas import clipped_log_loss

BINARY_SUMS_KEY_NAME = "_light_ranker_binary_sums"
PREDICTION_HISTOGRAM_KEY_NAME = "_light_ranker_prediction_histogram"

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
        self.sum_weighted_log_loss += weight * float(clipped_log_loss(label, prediction))

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


class _StreamingCombiner(beam.CombineFn):
    """Feeds every (label, prediction, weight) of a slice into one accumulator type."""

    def __init__(
        self,
        key: metric_types.MetricKey,
        eval_config: config_pb2.EvalConfig | None,
        use_weights: bool,
        accumulator_type: type[BinarySums] | type[PredictionHistogram],
    ):
        self._key = key
        self._eval_config = eval_config
        self._use_weights = use_weights
        self._accumulator_type = accumulator_type

    def create_accumulator(self) -> BinarySums | PredictionHistogram:
        return self._accumulator_type()

    def add_input(
        self, accumulator: BinarySums | PredictionHistogram, element: metric_types.StandardMetricInputs
    ) -> BinarySums | PredictionHistogram:
        for label, prediction, weight in metric_util.to_label_prediction_example_weight(
            element,
            eval_config=self._eval_config,
            model_name=self._key.model_name,
            output_name=self._key.output_name,
            example_weighted=self._use_weights,
        ):
            accumulator.add(float(label), float(prediction), float(weight))
        return accumulator

    def merge_accumulators(
        self, accumulators: Iterable[BinarySums | PredictionHistogram]
    ) -> BinarySums | PredictionHistogram:
        accumulators = iter(accumulators)
        result = next(accumulators)
        for accumulator in accumulators:
            result.merge(accumulator)
        return result

    def extract_output(
        self, accumulator: BinarySums | PredictionHistogram
    ) -> dict[metric_types.MetricKey, BinarySums | PredictionHistogram]:
        return {self._key: accumulator}


def _base_computation(
    name: str,
    accumulator_type: type[BinarySums] | type[PredictionHistogram],
    eval_config: config_pb2.EvalConfig | None,
    model_name: str,
    output_name: str,
    use_weights: bool,
) -> metric_types.MetricComputation:
    key = metric_types.MetricKey(
        name=name, model_name=model_name, output_name=output_name, example_weighted=use_weights
    )
    combiner = _StreamingCombiner(key, eval_config, use_weights, accumulator_type)
    return metric_types.MetricComputation(keys=[key], preprocessors=None, combiner=combiner)


def binary_sums_computation(
    eval_config: config_pb2.EvalConfig | None, model_name: str, output_name: str, use_weights: bool
) -> metric_types.MetricComputation:
    """The shared `BinarySums` computation of one model output (weights applied or not)."""
    return _base_computation(
        BINARY_SUMS_KEY_NAME, BinarySums, eval_config, model_name, output_name, use_weights
    )


def prediction_histogram_computation(
    eval_config: config_pb2.EvalConfig | None, model_name: str, output_name: str, use_weights: bool
) -> metric_types.MetricComputation:
    """The shared `PredictionHistogram` computation of one model output (weights applied or not)."""
    return _base_computation(
        PREDICTION_HISTOGRAM_KEY_NAME, PredictionHistogram, eval_config, model_name, output_name, use_weights
    )
