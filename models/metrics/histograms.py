"""TFMA's AUC, PR-AUC and calibration plot, fed whole arrays instead of one candidate at a time.

TFMA derives its AUCs and its calibration plot from one base computation, a calibration
histogram whose combiner takes one (label, prediction, weight) triple per Python call: at batch
sizes of one candidate it was the largest metric cost of the Evaluator (docs/performance.md).
`AUC`, `AUCPrecisionRecall` and `CalibrationPlot` here are TFMA's own classes with that one
combiner swapped for `BatchedCalibrationHistogram`, which bins a whole candidate cell with numpy
into a dense table of the same buckets. Everything TFMA derives from the histogram (the
confusion matrices at the thresholds, the AUC summation, the plot) is TFMA's own code, so the
values are TFMA's: only the order of float additions within a bucket differs.

The MetricConfigs name these classes by module; their names and configs are TFMA's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import calibration_histogram, metric_types

from lightrank.models.metrics.views import CandidatesPreprocessor, candidate_arrays

_StockHistogram = calibration_histogram._CalibrationHistogramCombiner


class HistogramTable:
    """Per-bucket [Σw·y, Σw·p, Σw] and which buckets TFMA would have created."""

    __slots__ = ("present", "sums")

    def __init__(self, num_buckets: int) -> None:
        self.sums = np.zeros((num_buckets + 2, 3), dtype=np.float64)
        self.present = np.zeros(num_buckets + 2, dtype=bool)


class BatchedCalibrationHistogram(_StockHistogram):
    """TFMA's calibration-histogram combiner, adding a whole array of predictions per call.

    It keeps TFMA's bucket rule (`(p - left) / range * num_buckets + 1`, truncated, the ends
    clamped to 0 and num_buckets + 1) and its fractional labels (a label in [0, 1] splits the
    weight between the classes; a bucket exists only once a non-zero weight reached it).
    """

    @classmethod
    def replacing(cls, stock: _StockHistogram) -> BatchedCalibrationHistogram:
        """The batched form of a combiner TFMA built, with all its settings.

        Raises:
            NotImplementedError: For settings the light ranker never uses (class weights,
                sub keys, top-k aggregation, label-based bucketing).
        """
        combiner = cls.__new__(cls)
        combiner.__dict__.update(stock.__dict__)
        unsupported = {
            "class_weights": combiner._class_weights,
            "aggregation_type": combiner._aggregation_type,
            "sub_key": combiner._key.sub_key,
        }
        used = sorted(name for name, value in unsupported.items() if value)
        if used or not combiner._prediction_based_bucketing:
            names = used or ["label-based buckets"]
            raise NotImplementedError(f"the batched calibration histogram does not support {names}")
        return combiner

    def create_accumulator(self) -> HistogramTable:  # type: ignore[override]
        """An empty table of TFMA's num_buckets + 2 buckets."""
        return HistogramTable(self._num_buckets)

    def _bucket_indices(self, predictions: np.ndarray) -> np.ndarray:
        if np.any(np.isnan(predictions)):  # TFMA fails on NaN too; +-inf go to the end buckets
            raise ValueError(f"{self._key.name}: a prediction is NaN")
        raw = (predictions - self._left) / self._range * self._num_buckets + 1
        return np.clip(np.trunc(np.maximum(raw, 0.0)), 0, self._num_buckets + 1).astype(np.int64)

    def add_input(  # type: ignore[override]
        self, accumulator: HistogramTable, element: metric_types.StandardMetricInputs
    ) -> HistogramTable:
        """Bins every (label, prediction, weight) of a candidate cell."""
        for labels, predictions, weights in candidate_arrays(
            element, self._eval_config, self._key, self._example_weighted
        ):
            outside = (labels < 0.0) | (labels > 1.0)
            if self._fractional_labels and np.any(outside):
                raise ValueError(f"fractional labels must be in [0, 1], got {labels[outside][:3]}")
            buckets = self._bucket_indices(predictions)
            for column, values in enumerate((labels * weights, predictions * weights, weights)):
                np.add.at(accumulator.sums[:, column], buckets, values)
            reached = buckets[weights != 0.0] if self._fractional_labels else buckets
            accumulator.present[reached] = True
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[HistogramTable]) -> HistogramTable:  # type: ignore[override]
        """Adds the tables."""
        accumulators = iter(accumulators)
        result = next(accumulators)
        for accumulator in accumulators:
            result.sums += accumulator.sums
            result.present |= accumulator.present
        return result

    def extract_output(  # type: ignore[override]
        self, accumulator: HistogramTable
    ) -> dict[Any, calibration_histogram.Histogram]:
        """TFMA's histogram: the buckets it would have created, in bucket order."""
        histogram = [
            calibration_histogram.Bucket(int(bucket), *(float(value) for value in accumulator.sums[bucket]))
            for bucket in np.flatnonzero(accumulator.present)
        ]
        return {self._key: histogram}


def batched(computations: metric_types.MetricComputations) -> metric_types.MetricComputations:
    """TFMA computations with every calibration histogram replaced by its batched form.

    Raises:
        TypeError: For any other base computation: it would take one candidate at a time, and
            it would not know the views (`lightrank.models.metrics.views`).
    """
    result: metric_types.MetricComputations = []
    for computation in computations:
        if isinstance(computation, metric_types.MetricComputation):
            if not isinstance(computation.combiner, _StockHistogram):
                raise TypeError(f"{type(computation.combiner).__name__} has no batched form")
            computation = metric_types.MetricComputation(
                keys=computation.keys,
                preprocessors=[CandidatesPreprocessor()],
                combiner=BatchedCalibrationHistogram.replacing(computation.combiner),
            )
        result.append(computation)
    return result


class BatchedAUC(tfma.metrics.AUC):
    """TFMA's `AUC` (same name, config and value) on the batched histogram."""

    def computations(self, *args: Any, **kwargs: Any) -> metric_types.MetricComputations:
        """TFMA's computations, batched."""
        return batched(super().computations(*args, **kwargs))


class BatchedAUCPrecisionRecall(tfma.metrics.AUCPrecisionRecall):
    """TFMA's `AUCPrecisionRecall` on the batched histogram."""

    def computations(self, *args: Any, **kwargs: Any) -> metric_types.MetricComputations:
        """TFMA's computations, batched."""
        return batched(super().computations(*args, **kwargs))


class BatchedCalibrationPlot(tfma.metrics.CalibrationPlot):
    """TFMA's `CalibrationPlot` on the batched histogram."""

    def computations(self, *args: Any, **kwargs: Any) -> metric_types.MetricComputations:
        """TFMA's computations, batched."""
        return batched(super().computations(*args, **kwargs))
