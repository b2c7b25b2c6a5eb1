"""Test-wide set-up: Keras 2 for TFT/TFMA, before anything imports TensorFlow; the tiny sample data."""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import pytest  # after the environment above: nothing here may load TensorFlow first
from tiny_sample import write_tiny_sample


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tiny sample data, written once per session, shared by the e2e and fault tests."""
    return write_tiny_sample(str(tmp_path_factory.mktemp("data") / "sample"))
