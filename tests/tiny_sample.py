"""The tiny sample data of the end-to-end and fault tests (the `tiny_data` fixture, tests/conftest.py)."""

from __future__ import annotations

#: Small enough for seconds per component, large enough for both splits and every source.
TINY_REQUESTS = 24
#: The generator's seed and file count for the tiny data.
TINY_SEED, TINY_SHARDS = 7, 2


def write_tiny_sample(out: str) -> str:
    """Writes the tiny sample (about 5,000 candidates in 2 gzipped files) to `out`."""
    from lightrank.pipeline.sample import write_sample_data

    write_sample_data(out, requests=TINY_REQUESTS, seed=TINY_SEED, shards=TINY_SHARDS, show_progress=False)
    return out
