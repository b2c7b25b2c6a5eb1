"""Shared set-up for end-to-end runs: tiny sample data."""

from __future__ import annotations

import pytest

from pipeline.sample import write_sample_data

#: Small enough for seconds per component, large enough for both splits and every source.
TINY_REQUESTS = 24


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("data") / "sample"
    write_sample_data(str(out), requests=TINY_REQUESTS, seed=7, shards=2, show_progress=False)
    return str(out)
