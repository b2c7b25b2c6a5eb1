"""One way to print a metric everywhere: the report, `lineage`, `runs` and `compare` agree to the digit."""

from __future__ import annotations

import math


def format_number(value: float | None) -> str:
    """Counts with thousands separators, other values to four decimals, NaN as `nan`, None as empty."""
    if value is None:
        return ""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:,.0f}" if abs(value) >= 1000 or float(value).is_integer() else f"{value:.4f}"
