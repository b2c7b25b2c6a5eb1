"""The two views: per-candidate metrics read candidate cells, grouped metrics read request views."""

from __future__ import annotations

import numpy as np
import pytest
from tensorflow_model_analysis import constants
from tensorflow_model_analysis.metrics import metric_types

from lightrank.models.metrics.views import (
    CANDIDATES,
    REQUEST,
    REQUEST_ID_KEY,
    VIEW_KEY,
    CandidatesPreprocessor,
    RequestPreprocessor,
)


def _extracts(view: str | None) -> dict:
    extracts = {
        constants.LABELS_KEY: np.array([[1.0], [0.0]]),
        constants.PREDICTIONS_KEY: np.array([[0.7], [0.2]]),
        constants.FEATURES_KEY: {"candidate.source": np.array([[b"a"], [b"a"]], dtype=object)},
    }
    if view is not None:
        extracts[VIEW_KEY] = view
    if view == REQUEST:
        extracts[REQUEST_ID_KEY] = "7"
    return extracts


def _passed(preprocessor, extracts: dict) -> list:
    outputs = list(preprocessor.process(extracts))
    for output in outputs:
        assert isinstance(output, metric_types.StandardMetricInputs)
        assert output.label is extracts[constants.LABELS_KEY]
        assert output.prediction is extracts[constants.PREDICTIONS_KEY]
        assert output.get(VIEW_KEY) == extracts.get(VIEW_KEY)
    return outputs


@pytest.mark.parametrize("view", [CANDIDATES, None], ids=["cell", "tfma_candidate"])
def test_candidates_preprocessor_passes_cells_and_tfma_extracts(view) -> None:
    assert len(_passed(CandidatesPreprocessor(), _extracts(view))) == 1


def test_candidates_preprocessor_drops_request_views() -> None:
    assert _passed(CandidatesPreprocessor(), _extracts(REQUEST)) == []


def test_request_preprocessor_passes_request_views() -> None:
    (output,) = _passed(RequestPreprocessor(), _extracts(REQUEST))
    assert output[REQUEST_ID_KEY] == "7"


def test_request_preprocessor_drops_cells() -> None:
    assert _passed(RequestPreprocessor(), _extracts(CANDIDATES)) == []


@pytest.mark.parametrize("view", [None, "something else"])
def test_request_preprocessor_refuses_extracts_without_a_view(view) -> None:
    with pytest.raises(ValueError, match="custom_extractors"):
        list(RequestPreprocessor().process(_extracts(view)))


def test_the_two_preprocessors_have_distinct_names() -> None:
    """TFMA shares computations by preprocessor name: the views must not be confused."""
    assert CandidatesPreprocessor().name != RequestPreprocessor().name
