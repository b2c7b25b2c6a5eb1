"""Errors raised by the custom components, importable without TensorFlow or TFX.

The CLI matches on them to print one clear message instead of a traceback, and
must do so without loading TensorFlow just to name an exception class.
"""

from __future__ import annotations


class DataAnomaliesError(RuntimeError):
    """The examples do not match the curated schema; the message lists every anomaly."""
