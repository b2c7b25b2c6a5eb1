"""The spans a run read, as `SpanExampleGen` recorded them on its Examples artifact.

`lightrank runs` and `lightrank lineage` show them, so "which days trained this model" is
answered from ML Metadata alone (docs/own_data.md, Spans).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lightrank.components.spans import SPANS_PROPERTY


def spans_read(properties: Mapping[str, Any]) -> dict[str, list[int]] | None:
    """The spans by split from an Examples artifact's (custom) properties; None if not recorded."""
    value = properties.get(SPANS_PROPERTY)
    if not value:
        return None
    try:
        spans = json.loads(value)
    except (TypeError, ValueError):
        return None
    return {str(split): [int(span) for span in read] for split, read in spans.items()}


def _ranges(spans: list[int]) -> str:
    """`1-3, 5`: consecutive spans as ranges."""
    parts, start = [], None
    for index, span in enumerate(spans):
        if start is None:
            start = span
        if index + 1 == len(spans) or spans[index + 1] != span + 1:
            parts.append(str(start) if start == span else f"{start}-{span}")
            start = None
    return ", ".join(parts)


def describe_spans(spans: Mapping[str, list[int]]) -> str:
    """`train 20-26, eval 27` (or `20-27` when the splits are hashed from one input)."""
    if set(spans) == {"single_split"}:
        return _ranges(sorted(spans["single_split"]))
    return "; ".join(f"{split} {_ranges(sorted(read))}" for split, read in spans.items())
