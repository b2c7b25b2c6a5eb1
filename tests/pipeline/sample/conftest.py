"""Shared sample data sets for the generator tests: generated once per module, kept tiny."""

from __future__ import annotations

import pathlib

import pytest

from lightrank.pipeline.sample import SampleDataSummary, write_sample_data

SMALL_REQUESTS = 48
SMALL_SEED = 7
SMALL_SHARDS = 3


@pytest.fixture(scope="module")
def small_data_set(tmp_path_factory: pytest.TempPathFactory) -> SampleDataSummary:
    """48 requests (~11k examples) in 3 shards, seed 7."""
    out_dir = tmp_path_factory.mktemp("sample") / "data"
    return write_sample_data(
        str(out_dir), requests=SMALL_REQUESTS, seed=SMALL_SEED, shards=SMALL_SHARDS, show_progress=False
    )


@pytest.fixture()
def data_root(tmp_path: pathlib.Path) -> pathlib.Path:
    """A fresh parent directory for data sets written by one test."""
    return tmp_path
