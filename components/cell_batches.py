"""Candidate cells of many requests merged, so each metric call gets thousands of candidates.

A request holds a few dozen candidates per slice cell, and every cell costs each metric a
Python call per slice it falls in; `CellBatches` merges the cells of a bundle that fall into
the same slices (equal slice values: `signature`) up to `MAX_CELL_CANDIDATES`. Request views
pass unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue
from tensorflow_model_analysis import constants

from lightrank.components.row_values import concatenate, length
from lightrank.models.metrics.views import CANDIDATES, VIEW_KEY

#: The extracts a view carries on, besides features: what TFMA's metrics read.
ROW_KEYS = (constants.LABELS_KEY, constants.EXAMPLE_WEIGHTS_KEY, constants.PREDICTIONS_KEY)
#: Candidates above which `CellBatches` emits a merged cell.
MAX_CELL_CANDIDATES = 4096


def signature(cell: Mapping[str, Any]) -> tuple[Any, ...]:
    """A cell's slice values: cells with equal signatures fall into the same slices."""
    leaves: list[tuple[Any, ...]] = []
    for key in (constants.FEATURES_KEY, constants.TRANSFORMED_FEATURES_KEY):
        for name, value in sorted(cell.get(key, {}).items()):
            if isinstance(value, Mapping):
                leaves.extend((key, name, inner, tuple(v.tolist())) for inner, v in sorted(value.items()))
            else:
                leaves.append((key, name, tuple(value.tolist())))
    return tuple(leaves)


def merge_cells(cells: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Cells with one signature as one cell (their candidates concatenated)."""
    if len(cells) == 1:
        return cells[0]
    merged = dict(cells[0])
    for key in ROW_KEYS:
        if key in merged:
            merged[key] = concatenate([cell[key] for cell in cells])
    return merged


class CellBatches(beam.DoFn):
    """Merges the candidate cells of a bundle that fall into the same slices, up to a size."""

    def __init__(self, max_candidates: int = MAX_CELL_CANDIDATES):
        self._max_candidates = max_candidates
        self._pending: dict[tuple[Any, ...], tuple[list[dict[str, Any]], int]] = {}

    def start_bundle(self) -> None:
        """Starts with no pending cells."""
        self._pending = {}

    def process(self, extracts: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Passes request views on; holds cells until a signature has enough candidates."""
        if extracts.get(VIEW_KEY) != CANDIDATES:
            yield extracts
            return
        key = signature(extracts)
        cells, size = self._pending.get(key, ([], 0))
        cells.append(extracts)
        size += candidate_count(extracts)
        if size >= self._max_candidates:
            self._pending.pop(key, None)
            yield merge_cells(cells)
        else:
            self._pending[key] = (cells, size)

    def finish_bundle(self) -> Iterator[WindowedValue]:
        """Emits every pending cell group."""
        for cells, _ in self._pending.values():
            yield WindowedValue(merge_cells(cells), MIN_TIMESTAMP, [GlobalWindow()])
        self._pending = {}


def candidate_count(extracts: Mapping[str, Any]) -> int:
    """Candidates in a batch, request or cell: its serialized inputs, labels or predictions.

    Raises:
        ValueError: If it holds none of them.
    """
    # Not the example weights: without a weight key TFMA may give one weight for the batch.
    for key in (constants.INPUT_KEY, constants.LABELS_KEY, constants.PREDICTIONS_KEY):
        if extracts.get(key) is not None:
            return length(extracts[key])
    raise ValueError(f"cannot tell the candidates of TFMA extracts with keys {sorted(extracts)}")
