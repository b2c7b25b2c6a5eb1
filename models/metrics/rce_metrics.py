"""The light ranker's streaming eval metrics as TFMA metrics: RCE, NRCE, ARCE, log loss, ctr, pred. ctr.

Names (stable; the TFMA metric key name):

============================  ============================================================
`rce`, `rce_unweighted`       relative cross entropy, in percent (docs/model.md, Metrics)
`nrce`, `nrce_unweighted`     RCE after scaling predictions by a = Σw·y / Σw·p
`arce`, `arce_unweighted`     RCE after the odds-style recalibration p·a / (p·a + (1-p)·c)
`log_loss`, ...               Σw·BCE(y, clip(p)) / Σw (`log_loss_unweighted`): CE_model of RCE
`ctr`, `ctr_unweighted`       Σw·y / Σw
`predicted_ctr`, ...          Σw·p / Σw (`predicted_ctr_unweighted`); compare with ctr
============================  ============================================================

The original published these as `<metric>_<Task>` (weighted by the raw `meta.weight`) and
`<metric>_unweighted_<Task>`; TFMA keys carry no task, so the suffix is dropped.

Weighting: a weighted metric uses TFMA's example weight (the ModelSpec's `example_weight_key`,
i.e. `meta.weight`) when the MetricsSpec is example-weighted, and weight 1 otherwise. An
`unweighted=True` metric always uses weight 1, whatever the spec says; its key's
`example_weighted` flag still follows the spec, so MetricConfig thresholds find it (the builder
in `specs.py` puts unweighted metrics in an unweighted spec, where the flag is False).

Log loss: TFMA's own `BinaryCrossEntropy` is not used. In TFMA 0.47 its `merge_accumulators`
takes the first accumulator and then iterates the same sequence again, so whenever Beam merges
accumulators (it passes a tuple) the first one counts twice and the value depends on bundling.
It also does not clip, so one saturated float32 prediction (p = 1.0 on a negative) makes it
infinite. Here it is the exact float64 mean `CE_model` that RCE is built on.

Normalisers: twml's NRCE/ARCE used *running* per-batch normalisers (early batches saw an
approximate `a`), which depend on batch order. TFMA has no batch order, so here `a` and `c`
are the global values over the whole slice, the limit the running version converges to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.proto import config_pb2

from lightrank.models.metrics.formulas import baseline_cross_entropy, rce_from_sums
from lightrank.models.metrics.streaming_sums import (
    BinarySums,
    PredictionHistogram,
    streaming_state_computation,
)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator != 0.0 else float("nan")


def _rce_with_transform(
    sums: BinarySums, histogram: PredictionHistogram, transform: Callable[[np.ndarray], np.ndarray]
) -> float:
    """RCE of the recalibrated predictions transform(p); NaN when RCE is undefined."""
    if sums.sum_weight <= 0.0 or baseline_cross_entropy(sums.sum_weighted_label / sums.sum_weight) <= 0.0:
        return float("nan")
    loss = histogram.weighted_log_loss(transform)
    return rce_from_sums(sums.sum_weight, sums.sum_weighted_label, loss)


def nrce_value(sums: BinarySums, histogram: PredictionHistogram) -> float:
    """NRCE: RCE of a·p with the slice-global a = Σw·y / Σw·p."""
    a = _ratio(sums.sum_weighted_label, sums.sum_weighted_prediction)
    if not np.isfinite(a):
        return float("nan")
    return _rce_with_transform(sums, histogram, lambda p: a * p)


def arce_value(sums: BinarySums, histogram: PredictionHistogram) -> float:
    """ARCE: RCE of p·a / (p·a + (1-p)·c), a as NRCE, c = (Σw - Σw·y) / (Σw - Σw·p), slice-global."""
    a = _ratio(sums.sum_weighted_label, sums.sum_weighted_prediction)
    c = _ratio(sums.sum_weight - sums.sum_weighted_label, sums.sum_weight - sums.sum_weighted_prediction)
    if not (np.isfinite(a) and np.isfinite(c)):
        return float("nan")
    return _rce_with_transform(sums, histogram, lambda p: p * a / (p * a + (1.0 - p) * c))


class _LightRankerMetric(metric_types.Metric):
    """Plumbing shared by the six metrics: weighting, default names, derived computation."""

    BASE_NAME: ClassVar[str]
    NEEDS_HISTOGRAM: ClassVar[bool] = False

    def __init__(self, name: str | None = None, unweighted: bool = False):
        """Initialises the metric.

        Args:
            name: Metric key name; defaults to `BASE_NAME`, plus `_unweighted` when unweighted.
            unweighted: Ignore example weights (weight 1 for every example).
        """
        default_name = f"{self.BASE_NAME}_unweighted" if unweighted else self.BASE_NAME
        super().__init__(
            metric_util.merge_per_key_computations(self._create_computations),
            name=name or default_name,
            unweighted=bool(unweighted),
        )

    def get_config(self) -> dict[str, Any]:
        """JSON config TFMA passes back as `cls(**config)`: `name` and `unweighted`."""
        return {"name": self.kwargs["name"], "unweighted": self.kwargs["unweighted"]}

    @staticmethod
    def value(sums: BinarySums, histogram: PredictionHistogram | None) -> float:
        """Metric value from the slice's accumulators."""
        raise NotImplementedError

    def _create_computations(
        self,
        name: str,
        unweighted: bool,
        eval_config: config_pb2.EvalConfig | None = None,
        model_name: str = "",
        output_name: str = "",
        example_weighted: bool = False,
    ) -> metric_types.MetricComputations:
        use_weights = bool(example_weighted) and not unweighted
        state = streaming_state_computation(eval_config, model_name, output_name)
        state_key = state.keys[0]
        key = metric_types.MetricKey(
            name=name, model_name=model_name, output_name=output_name, example_weighted=example_weighted
        )
        value = self.value
        needs_histogram = self.NEEDS_HISTOGRAM

        def result(metrics: dict[metric_types.MetricKey, Any]) -> dict[metric_types.MetricKey, float]:
            sums, histogram = metrics[state_key].view(use_weights)
            return {key: float(value(sums, histogram if needs_histogram else None))}

        return [state, metric_types.DerivedMetricComputation(keys=[key], result=result)]


class CTR(_LightRankerMetric):
    """ctr = Σw·y / Σw (the label rate; NaN without weight)."""

    BASE_NAME = "ctr"

    @staticmethod
    def value(sums: BinarySums, histogram: PredictionHistogram | None) -> float:
        """Σw·y / Σw."""
        return _ratio(sums.sum_weighted_label, sums.sum_weight)


class PredictedCTR(_LightRankerMetric):
    """predicted_ctr = Σw·p / Σw; predicted_ctr / ctr is the calibration ratio (ideally 1)."""

    BASE_NAME = "predicted_ctr"

    @staticmethod
    def value(sums: BinarySums, histogram: PredictionHistogram | None) -> float:
        """Σw·p / Σw."""
        return _ratio(sums.sum_weighted_prediction, sums.sum_weight)


class LogLoss(_LightRankerMetric):
    """log_loss = Σw·BCE(y, clip(p, 1e-5, 1-1e-5)) / Σw: the CE_model of RCE (NaN without weight)."""

    BASE_NAME = "log_loss"

    @staticmethod
    def value(sums: BinarySums, histogram: PredictionHistogram | None) -> float:
        """Σw·BCE / Σw from the exact sums."""
        return _ratio(sums.sum_weighted_log_loss, sums.sum_weight)


class RCE(_LightRankerMetric):
    """RCE = 100·(1 - CE_model / CE_base).

    CE_model = Σw·BCE(y, clip(p, 1e-5, 1-1e-5)) / Σw and CE_base = BCE(ctr, ctr), unclipped;
    NaN when the slice has a single class (CE_base = 0).
    """

    BASE_NAME = "rce"

    @staticmethod
    def value(sums: BinarySums, histogram: PredictionHistogram | None) -> float:
        """RCE from the exact sums."""
        return rce_from_sums(sums.sum_weight, sums.sum_weighted_label, sums.sum_weighted_log_loss)


class NRCE(_LightRankerMetric):
    """NRCE = RCE of a·p with a = Σw·y / Σw·p over the whole slice (twml: running a per batch).

    It removes the miscalibration part of the loss: RCE - NRCE is what calibration costs.
    """

    BASE_NAME = "nrce"
    NEEDS_HISTOGRAM = True

    @staticmethod
    def value(sums: BinarySums, histogram: PredictionHistogram | None) -> float:
        """NRCE over the prediction histogram."""
        assert histogram is not None
        return nrce_value(sums, histogram)


class ARCE(_LightRankerMetric):
    """ARCE = RCE of p' = p·a / (p·a + (1-p)·c), a = Σw·y / Σw·p, c = (Σw - Σw·y) / (Σw - Σw·p).

    Both over the whole slice (twml: running a, per-batch c), with twml's `up_weight=True`.
    """

    BASE_NAME = "arce"
    NEEDS_HISTOGRAM = True

    @staticmethod
    def value(sums: BinarySums, histogram: PredictionHistogram | None) -> float:
        """ARCE over the prediction histogram."""
        assert histogram is not None
        return arce_value(sums, histogram)


#: The metric classes, in reporting order.
RCE_FAMILY: tuple[type[_LightRankerMetric], ...] = (RCE, NRCE, ARCE, LogLoss, CTR, PredictedCTR)


class CandidateCount(_LightRankerMetric):
    """Candidates counted, Σw in an example-weighted spec: TFMA's `ExampleCount`, read from the sums.

    TFMA's own counts one per extract, and an extract is a cell of many candidates here
    (`lightrank.models.metrics.views`). Name it `example_count` in an unweighted spec and
    `weighted_example_count` in a weighted one, as the Evaluator's specs do.
    """

    BASE_NAME = "example_count"

    @staticmethod
    def value(sums: BinarySums, histogram: PredictionHistogram | None) -> float:
        """Σw (weight 1 per candidate unless the spec weighs)."""
        return sums.sum_weight
