"""Bad-input runs: the e2e helpers (tests/e2e/e2e_support.py) and the same tiny sample data.

pytest puts only a test file's own folder on `sys.path` (rootdir-relative, no packages), so
the e2e folder is added here to import its helpers, as the e2e tests do.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from lightrank.pipeline.sample import write_sample_data

#: As tests/e2e/conftest.py: both splits and every source, in seconds.
TINY_REQUESTS = 24


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> str:
    """24 sample requests (about 5,000 candidates) in 2 files."""
    out = tmp_path_factory.mktemp("data") / "sample"
    write_sample_data(str(out), requests=TINY_REQUESTS, seed=7, shards=2, show_progress=False)
    return str(out)
