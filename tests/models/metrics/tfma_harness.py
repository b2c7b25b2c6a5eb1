"""Running a TFMA metric's computations the way TFMA does, without Beam, for unit tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tensorflow_model_analysis.metrics import metric_types


def run_computations(
    computations: Iterable[metric_types.MetricComputation | metric_types.DerivedMetricComputation],
    parts: Sequence[Sequence[metric_types.StandardMetricInputs]],
) -> dict[metric_types.MetricKey, object]:
    """Combines each part separately, merges the accumulators, then derives.

    Several parts exercise `merge_accumulators`, as TFMA's distributed combine does.

    Returns:
        Every key the computations produce, private (`_`-prefixed) ones included.
    """
    results: dict[metric_types.MetricKey, object] = {}
    for computation in computations:
        if isinstance(computation, metric_types.DerivedMetricComputation):
            results.update(computation.result(results))
            continue
        combiner = computation.combiner
        accumulators = []
        for part in parts:
            accumulator = combiner.create_accumulator()
            for inputs in part:
                accumulator = combiner.add_input(accumulator, inputs)
            accumulators.append(accumulator)
        results.update(combiner.extract_output(combiner.merge_accumulators(accumulators)))
    return results
