"""Row-aligned values: every feature layout TFMA produces, one entry per candidate."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.api import types

from lightrank.components.eval_extractors import view_plan
from lightrank.components.row_values import as_rows, flat_values, is_rows
from lightrank.models.metrics.specs import light_ranking_metrics_specs


def _rows(value) -> list[list]:
    return [np.asarray(row).tolist() for row in value]


def test_a_ragged_value_becomes_one_row_per_candidate():
    ragged = types.RaggedTensorValue(values=np.array([1, 2, 3]), nested_row_splits=[np.array([0, 2, 2, 3])])
    rows = as_rows(ragged, 3)
    assert is_rows(rows) and _rows(rows) == [[1, 2], [], [3]]
    assert flat_values(rows).tolist() == [1, 2, 3]


def test_sparse_and_dense_layouts_agree():
    varlen = types.VarLenTensorValue(
        values=np.array([5, 6, 7]), indices=np.array([[0, 0], [2, 0], [2, 1]]), dense_shape=np.array([3, 2])
    )
    assert _rows(as_rows(varlen, 3)) == [[5], [], [6, 7]]
    dense = as_rows(np.array([[5], [6]]), 2)
    assert dense.shape == (2, 1) and not is_rows(dense)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            types.RaggedTensorValue(
                values=np.zeros(2), nested_row_splits=[np.array([0, 1]), np.array([0, 2])]
            ),
            "2 ragged dimensions",
        ),
        (
            types.SparseTensorValue(
                values=np.zeros(1), indices=np.array([[0, 0, 0]]), dense_shape=np.array([1, 1, 1])
            ),
            "rank 3",
        ),
        (object(), "not a feature layout"),
    ],
)
def test_a_layout_the_views_cannot_index_is_named(value, message):
    with pytest.raises(TypeError, match=message):
        as_rows(value, 1)


def test_the_views_carry_only_what_metrics_and_slices_read():
    config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="label.top3", example_weight_key="meta.weight")],
        slicing_specs=[tfma.SlicingSpec(feature_keys=["candidate.source"])],
        metrics_specs=light_ranking_metrics_specs("meta.trace_id", "meta.heavy_score"),
    )
    plan = view_plan(config)
    # Labels and weights reach the metrics through TFMA's own extracts, not as features.
    assert plan.candidate_features == {"meta.trace_id", "meta.heavy_score"}
    assert plan.slice_features == {"candidate.source"}
