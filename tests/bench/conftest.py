"""The benchmark tests' shared tiny inputs, built once per session (a few seconds)."""

from __future__ import annotations

import pytest
from bench_tiny import build_tiny


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Raw candidates, a Transform output, an exported model and a config for them (`bench_tiny`)."""
    return build_tiny(tmp_path_factory.mktemp("bench"))
