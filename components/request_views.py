"""Turns TFMA's scored batches into request views and candidate cells, whole arrays at a time.

The metrics read two views of the data (`lightrank.models.metrics.views`): every candidate of a
request (the grouped metrics) and cells of candidates that share every slice value (everything
else). This module builds both from the batches TFMA's extractors have scored, with numpy
indexing instead of TFMA's split into one extract per candidate:

1. `split_batch`: a batch's rows, grouped by request key, become one partial request each,
   holding only what a metric or a slice reads.
2. Beam groups the partials of a request (a request can span batches) and `join_parts`
   concatenates them.
3. `views_of_request` emits one candidate cell per distinct combination of slice values, each
   cell's slice features reduced to one representative candidate's values, so TFMA's slicer
   puts the cell exactly where it would put each of its candidates; and the request view, in
   the union of its cells' slices (TFMA's rule for a query), with its slice keys precomputed.

Values are row-aligned (`lightrank.components.row_values`); `lightrank.components.cell_batches`
merges the cells of many requests afterwards.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from tensorflow_model_analysis import constants
from tensorflow_model_analysis.slicer import slicer_lib as slicer

from lightrank.components.cell_batches import ROW_KEYS, candidate_count
from lightrank.components.row_values import as_rows, concatenate, flat_values, is_rows, object_rows, take
from lightrank.models.metrics.views import CANDIDATES, REQUEST, REQUEST_FEATURES_KEY, REQUEST_ID_KEY, VIEW_KEY

#: Candidates without exactly one request key share this pseudo-request (TFMA's own rule).
NO_REQUEST = ""


def _texts(values: np.ndarray) -> np.ndarray:
    if values.dtype != object:
        return values.astype(str).astype(object)
    return np.array([str(value) for value in values], dtype=object)


def request_keys(value: Any, size: int) -> np.ndarray:
    """Each candidate's request key as text; `NO_REQUEST` unless it has exactly one."""
    keys = np.full(size, NO_REQUEST, dtype=object)
    if value is None:
        return keys
    if not is_rows(value):
        if value.ndim == 1:
            return _texts(value)
        if value.ndim == 2 and value.shape[1] == 1:
            return _texts(value[:, 0])
        value = object_rows(value, size)
    for i, row in enumerate(value):
        if row.size == 1:
            keys[i] = str(row[0])
    return keys


class ViewPlan:
    """What the views keep: the request key, the per-candidate features, the slices."""

    def __init__(
        self,
        request_key: str | None,
        candidate_features: set[str],
        slice_features: set[str],
        slicing_specs: Sequence[Any] = (),
    ):
        """The plan.

        Args:
            request_key: The feature naming each candidate's request; None for no request views.
            candidate_features: Features the request views keep per candidate (the request key
                is always kept).
            slice_features: Features the slicing specs read.
            slicing_specs: The EvalConfig's `tfma.SlicingSpec`s, to slice request views.
        """
        self.request_key = request_key
        self.candidate_features = set(candidate_features) | ({request_key} if request_key else set())
        self.slice_features = set(slice_features)
        self.slice_specs = [slicer.SingleSliceSpec(spec=spec) for spec in slicing_specs]

    def _features(self, features: Any, names: set[str], size: int) -> dict[str, Any]:
        if not isinstance(features, Mapping):
            return {}
        return {name: as_rows(value, size) for name, value in features.items() if name in names}

    def prune(self, extracts: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
        """A batch reduced to what a view keeps, every value with one entry per candidate."""
        size = candidate_count(extracts)
        kept = self.candidate_features | self.slice_features
        pruned: dict[str, Any] = {
            constants.FEATURES_KEY: self._features(extracts.get(constants.FEATURES_KEY), kept, size)
        }
        transformed = extracts.get(constants.TRANSFORMED_FEATURES_KEY)
        if isinstance(transformed, Mapping):  # keyed by model name when there are several
            pruned[constants.TRANSFORMED_FEATURES_KEY] = {
                name: self._features(value, self.slice_features, size)
                if isinstance(value, Mapping)
                else as_rows(value, size)
                for name, value in transformed.items()
                if isinstance(value, Mapping) or name in self.slice_features
            }
        for key in ROW_KEYS:
            if extracts.get(key) is not None:
                pruned[key] = as_rows(extracts[key], size)
        return pruned, size

    def _slice_leaves(self, extracts: Mapping[str, Any]) -> Iterator[tuple[tuple[str, ...], np.ndarray]]:
        """(path, value) of every slice feature, raw and transformed (per model, if nested)."""
        for name, value in extracts[constants.FEATURES_KEY].items():
            if name in self.slice_features:
                yield (constants.FEATURES_KEY, name), value
        for name, value in extracts.get(constants.TRANSFORMED_FEATURES_KEY, {}).items():
            if isinstance(value, Mapping):
                for feature, inner in value.items():
                    yield (constants.TRANSFORMED_FEATURES_KEY, name, feature), inner
            else:
                yield (constants.TRANSFORMED_FEATURES_KEY, name), value

    def cells(self, extracts: Mapping[str, Any], size: int) -> np.ndarray:
        """Each candidate's cell: equal cells have equal values for every slice feature."""
        codes = [np.zeros(size, dtype=np.int64)]
        for _, value in self._slice_leaves(extracts):
            if is_rows(value):
                seen: dict[tuple[Any, ...], int] = {}
                code = np.array([seen.setdefault(tuple(row.tolist()), len(seen)) for row in value])
            else:
                table = value.reshape(size, -1)
                table = table.astype(str) if table.dtype == object else table
                _, code = np.unique(table, axis=0, return_inverse=True)
            codes.append(code.reshape(-1))
        _, cell = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)
        return cell.reshape(-1)

    def split_batch(self, extracts: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        """(request key, partial request) for every request in a scored batch."""
        pruned, size = self.prune(extracts)
        if self.request_key is None:
            yield NO_REQUEST, pruned
            return
        keys = request_keys(pruned[constants.FEATURES_KEY].get(self.request_key), size)
        unique, inverse = np.unique(keys.astype(str), return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(unique) + 1))
        for i, key in enumerate(unique):
            yield str(key), take(pruned, order[bounds[i] : bounds[i + 1]])

    def views_of_request(self, request_id: str, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The request view (when a request key is set) and one candidate cell per slice cell."""
        size = candidate_count(request)
        if not size:
            return
        cell = self.cells(request, size)
        order = np.argsort(cell, kind="stable")
        bounds = np.searchsorted(cell[order], np.arange(cell.max() + 2))
        cells = [
            self._cell(request, order[start:end]) for start, end in itertools.pairwise(bounds) if end > start
        ]
        if self.request_key is not None:
            yield self._request_view(request_id, request, cells)
        yield from cells

    def slice_keys(self, cell: Mapping[str, Any]) -> set[Any]:
        """The slices a candidate cell falls into: TFMA's own slicer on its features."""
        transformed = cell.get(constants.TRANSFORMED_FEATURES_KEY) or {}
        nested = [value for value in transformed.values() if isinstance(value, Mapping)]
        features_dicts = nested or ([transformed] if transformed else [])
        return set(
            slicer.get_slices_for_features_dicts(
                features_dicts, cell[constants.FEATURES_KEY], self.slice_specs
            )
        )

    def _request_view(
        self, request_id: str, request: Mapping[str, Any], cells: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Every candidate of the request, in every slice one of its candidates falls into.

        That is TFMA's rule for a query (the union of its candidates' slice keys). The view
        carries those slice keys and no slice feature: TFMA's slicer, given the features, would
        cross the values of different candidates.
        """
        keys: set[Any] = set()
        for cell in cells:
            keys |= self.slice_keys(cell)
        view: dict[str, Any] = {key: request[key] for key in ROW_KEYS if key in request}
        view[VIEW_KEY] = REQUEST
        view[REQUEST_ID_KEY] = request_id
        view[constants.FEATURES_KEY] = {}
        view[REQUEST_FEATURES_KEY] = {
            name: value
            for name, value in request[constants.FEATURES_KEY].items()
            if name in self.candidate_features
        }
        view[constants.SLICE_KEY_TYPES_KEY] = slicer.slice_keys_to_numpy_array(sorted(keys, key=repr))
        return view

    def _cell(self, request: Mapping[str, Any], rows: np.ndarray) -> dict[str, Any]:
        representative = rows[:1]
        cell: dict[str, Any] = {VIEW_KEY: CANDIDATES}
        cell[constants.FEATURES_KEY] = {
            name: flat_values(value[representative])
            for name, value in request[constants.FEATURES_KEY].items()
            if name in self.slice_features
        }
        transformed = request.get(constants.TRANSFORMED_FEATURES_KEY)
        if transformed is not None:
            cell[constants.TRANSFORMED_FEATURES_KEY] = {
                name: (
                    {feature: flat_values(inner[representative]) for feature, inner in value.items()}
                    if isinstance(value, Mapping)
                    else flat_values(value[representative])
                )
                for name, value in transformed.items()
            }
        for key in ROW_KEYS:
            if key in request:
                cell[key] = take(request[key], rows)
        return cell


def join_parts(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One request from its partial requests (from one batch or several)."""
    return parts[0] if len(parts) == 1 else concatenate(list(parts))
