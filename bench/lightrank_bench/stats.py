"""Percentiles and throughput of timed requests.

Percentiles interpolate linearly between order statistics (numpy's default "linear"
method), so p50 of an even count is the mean of the middle two: with a few hundred
requests per measurement p99 is then an interpolated tail value, not the maximum.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0..100) of `values`, linearly interpolated.

    Raises:
        ValueError: If `values` is empty or `q` is outside [0, 100].
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q={q!r} is invalid: expected a percentile in [0, 100]")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def per_second(items: float, seconds: float) -> float:
    """Items per second; NaN for a zero or negative duration rather than a division error."""
    return items / seconds if seconds > 0 else math.nan


@dataclasses.dataclass(frozen=True)
class RequestStats:
    """Throughput and latency of repeated requests of one size.

    Attributes:
        batch_size: Candidates per request.
        requests: Timed requests (warm-up excluded).
        candidates_per_sec: Candidates scored per second of request time.
        p50_ms: Median latency per request.
        p99_ms: 99th-percentile latency per request.
    """

    batch_size: int
    requests: int
    candidates_per_sec: float
    p50_ms: float
    p99_ms: float


def summarize(batch_size: int, latencies_s: Sequence[float]) -> RequestStats:
    """Summarises per-request latencies (seconds) of requests of `batch_size` candidates.

    Raises:
        ValueError: If there are no latencies.
    """
    if not latencies_s:
        raise ValueError("no timed requests to summarise")
    return RequestStats(
        batch_size=batch_size,
        requests=len(latencies_s),
        candidates_per_sec=per_second(batch_size * len(latencies_s), math.fsum(latencies_s)),
        p50_ms=1000.0 * percentile(latencies_s, 50.0),
        p99_ms=1000.0 * percentile(latencies_s, 99.0),
    )
