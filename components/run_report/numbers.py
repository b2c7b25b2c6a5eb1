"""One way to print a metric everywhere: the report, `lineage`, `runs` and `compare` agree to the digit."""

from __future__ import annotations

import math

#: How a value undefined on its slice (NaN) is shown, in every view.
NOT_AVAILABLE = "n/a"


def format_number(value: float | None) -> str:
    """Counts with thousands separators, other values to four decimals, NaN as `n/a`, None as empty.

    NaN is a value that is undefined on its slice (`lightrank.pipeline.summary.undefined_as_nan`), printed
    as `lightrank eval`'s table prints it.
    """
    if value is None:
        return ""
    if math.isnan(value):
        return NOT_AVAILABLE
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:,.0f}" if abs(value) >= 1000 or float(value).is_integer() else f"{value:.4f}"
