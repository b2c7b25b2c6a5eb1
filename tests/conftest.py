"""Test-wide set-up: Keras 2 for TFT/TFMA, before anything imports TensorFlow."""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
