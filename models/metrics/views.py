"""The two views of the evaluation data a light-ranking metric reads: candidate cells, requests.

TFMA's stock path splits every batch into one extract per candidate, pickles each between
stages once per slice it falls in and merges candidates back into requests for query metrics:
per-candidate Python that made evaluation two orders of magnitude slower than scoring. The
Evaluator's extractors (`lightrank.components.eval_extractors`) hand TFMA two kinds of
extracts instead, each holding whole numpy arrays:

* **candidates** (`CANDIDATES`): the candidates of one request that share every slice-feature
  value, so each cell falls into exactly the slices each of its candidates would. Per-candidate
  metrics (the RCE family, AUCs, counts, the calibration plot) read these.
* **request** (`REQUEST`): every candidate of one request, sliced by the union of its
  candidates' slice keys, as TFMA slices a query. The grouped metrics read these.

`VIEW_KEY` marks which view an extract is. Each metric computation takes one view through its
preprocessor, so no candidate is counted twice. An extract without the mark is TFMA's own
per-candidate extract: per-candidate metrics accept it (they then give TFMA's stock numbers),
and the grouped metrics refuse it, because they cannot tell requests apart without the views.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.proto import config_pb2

#: The extract key holding the view's name.
VIEW_KEY = "lightrank_view"
CANDIDATES = "candidates"
REQUEST = "request"
#: The extract key holding a request view's request key (as text): one view per request.
REQUEST_ID_KEY = "lightrank_request_id"
#: The extract key holding a request view's per-candidate features (request key, heavy score).
#: Not under `features`: TFMA's slicer would slice the view by them.
REQUEST_FEATURES_KEY = "lightrank_request_features"


class CandidatesPreprocessor(metric_types.Preprocessor):
    """Passes candidate cells (and TFMA's own per-candidate extracts) on, drops request views."""

    def __init__(self) -> None:
        super().__init__(name="lightrank_candidates")

    def process(self, extracts: Any) -> Iterator[metric_types.StandardMetricInputs]:
        """The extracts, unless they are a request view."""
        if extracts.get(VIEW_KEY) != REQUEST:
            yield metric_types.StandardMetricInputs(extracts)


class RequestPreprocessor(metric_types.Preprocessor):
    """Passes request views on, drops candidate cells; refuses extracts without a view.

    Raises:
        ValueError: From `process`, for an extract that is not one of the two views: the
            Evaluator ran without `lightrank.components.eval_extractors.custom_extractors`.
    """

    def __init__(self) -> None:
        super().__init__(name="lightrank_request")

    def process(self, extracts: Any) -> Iterator[metric_types.StandardMetricInputs]:
        """The extracts if they are a request view; nothing for a candidate cell."""
        view = extracts.get(VIEW_KEY)
        if view == REQUEST:
            yield metric_types.StandardMetricInputs(extracts)
        elif view != CANDIDATES:
            raise ValueError(
                "the grouped light-ranking metrics need whole requests: run TFMA with the "
                "extractors of lightrank.components.eval_extractors.custom_extractors"
            )


def candidate_arrays(
    element: metric_types.StandardMetricInputs,
    eval_config: config_pb2.EvalConfig | None,
    key: metric_types.MetricKey,
    example_weighted: bool,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(labels, predictions, weights) of a candidate cell: equal-length float64 arrays.

    TFMA's own lookup (model and output name, label and prediction keys), unflattened: one
    call per cell, not per candidate. Weights are TFMA's example weights when
    `example_weighted` and the model spec names them, else 1.

    Raises:
        ValueError: If the labels and predictions differ in length.
    """
    for labels, predictions, weights in metric_util.to_label_prediction_example_weight(
        element,
        eval_config=eval_config,
        model_name=key.model_name,
        output_name=key.output_name,
        example_weighted=example_weighted,
        flatten=False,
    ):
        labels = np.asarray(labels, dtype=np.float64).reshape(-1)
        predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
        if labels.size != predictions.size:
            raise ValueError(f"{labels.size} labels for {predictions.size} predictions")
        weights = np.broadcast_to(np.asarray(weights, dtype=np.float64).reshape(-1), predictions.shape)
        yield labels, predictions, weights
