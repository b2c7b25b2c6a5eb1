"""Shared fixtures for the DeepNorm light ranker tests."""

from __future__ import annotations

import pytest
import tensorflow as tf


@pytest.fixture(autouse=True)
def _fresh_keras_state() -> None:
    """Keeps auto-generated layer names and random draws independent between tests."""
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(1234)
