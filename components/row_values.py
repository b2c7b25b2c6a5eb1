"""Row-aligned values: one entry per candidate, whatever layout TFMA gave a feature.

TFMA hands a batch's features as numpy arrays (one row per candidate, when every candidate
holds the same number of values), `VarLenTensorValue` / `SparseTensorValue` (rank 2) or
`RaggedTensorValue` (one ragged dimension) otherwise. The request views index, join and
slice them by candidate, so `as_rows` turns the sparse layouts into object arrays of
per-candidate rows (one Python step per candidate, for those features only) and keeps dense
arrays as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from tensorflow_model_analysis.api import types


def object_rows(value: Any, size: int) -> np.ndarray:
    """One entry per candidate, each a 1-D array of that candidate's values."""
    rows = np.empty(size, dtype=object)
    if isinstance(value, np.ndarray):
        for i in range(size):
            rows[i] = np.asarray(value[i]).reshape(-1)
        return rows
    indices = np.asarray(value.indices).reshape(-1, 2)[:, 0] if len(value.values) else np.zeros(0, np.int64)
    values = np.asarray(value.values)
    order = np.argsort(indices, kind="stable")
    starts = np.searchsorted(indices[order], np.arange(size + 1))
    for i in range(size):
        rows[i] = values[order[starts[i] : starts[i + 1]]]
    return rows


def as_rows(value: Any, size: int) -> Any:
    """`value` with one leading entry per candidate: dense arrays kept, others as object rows.

    Raises:
        TypeError: For a value of no layout TFMA gives a feature of one ragged dimension.
    """
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {key: as_rows(item, size) for key, item in value.items()}
    if isinstance(value, types.RaggedTensorValue):
        if len(value.nested_row_splits) != 1:
            depth = len(value.nested_row_splits)
            raise TypeError(f"a ragged value of {depth} ragged dimensions (1 supported)")
        splits = np.asarray(value.nested_row_splits[0])
        rows = np.empty(size, dtype=object)
        for i in range(size):
            rows[i] = np.asarray(value.values)[splits[i] : splits[i + 1]].reshape(-1)
        return rows
    if hasattr(value, "indices") and hasattr(value, "dense_shape"):  # VarLen / Sparse tensor values
        if np.asarray(value.dense_shape).size > 2:
            raise TypeError(f"a sparse value of rank {np.asarray(value.dense_shape).size} (2 supported)")
        return object_rows(value, size)
    if isinstance(value, np.ndarray) or np.isscalar(value) or isinstance(value, list):
        return np.asarray(value)
    raise TypeError(f"a value of type {type(value).__name__}, not a feature layout TFMA produces")


def take(value: Any, rows: np.ndarray) -> Any:
    """The candidates `rows` of a row-aligned value (nested dicts followed)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {key: take(item, rows) for key, item in value.items()}
    return value[rows]


def is_rows(value: np.ndarray) -> bool:
    """Whether a value is an object array of per-candidate arrays (`as_rows` of a sparse value)."""
    return value.dtype == object and value.ndim == 1 and len(value) > 0 and isinstance(value[0], np.ndarray)


def concatenate(parts: Sequence[Any]) -> Any:
    """Row-aligned values of several partial requests, joined in order.

    A feature that no candidate of one part holds has no column there (TFXIO without a schema
    decodes only the columns a batch has): that part's candidates get no value for it.
    """
    first = parts[0]
    if first is None:
        return None
    if isinstance(first, Mapping):
        keys = dict.fromkeys(key for part in parts for key in part)
        return {
            key: concatenate([part[key] if key in part else _no_values(length(part)) for part in parts])
            for key in keys
        }
    parts = [part for part in parts if len(part)] or [first]
    if len({(part.shape[1:], is_rows(part)) for part in parts}) == 1:
        return np.concatenate(parts)
    return np.concatenate([part if is_rows(part) else object_rows(part, len(part)) for part in parts])


def length(value: Any) -> int:
    """Candidates of a row-aligned value (nested dicts followed); 0 if it holds none."""
    if isinstance(value, Mapping):
        return max((length(item) for item in value.values() if item is not None), default=0)
    return len(value) if value is not None else 0


def _no_values(size: int) -> np.ndarray:
    rows = np.empty(size, dtype=object)
    for i in range(size):
        rows[i] = np.zeros(0)
    return rows


def flat_values(value: np.ndarray) -> np.ndarray:
    """All values of a row-aligned value in one 1-D array (what TFMA's slicer unions)."""
    if is_rows(value):
        return np.concatenate(list(value))
    return value.reshape(-1)
