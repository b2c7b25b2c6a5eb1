"""`lightrank.errors.shorten`: data values in errors, logs and reports stay short."""

from __future__ import annotations

from tensorflow_metadata.proto.v0 import anomalies_pb2

from lightrank.components.anomaly_gate import describe_anomalies
from lightrank.errors import shorten


def test_short_text_is_unchanged_and_long_text_keeps_head_tail_and_length():
    assert shorten("abc") == "abc"
    text = "HEAD" + "x" * 10_000_000 + "TAIL"
    cut = shorten(text)
    assert len(cut) <= 300 and cut.startswith("HEAD") and cut.endswith("TAIL")
    assert f"[{len(text)} chars, cut]" in cut
    assert all(len(shorten(text, limit)) <= max(limit, 60) for limit in (1, 60, 61, 100, 1000))


def test_an_anomaly_quoting_a_10_mb_value_is_one_short_line():
    anomalies = anomalies_pb2.Anomalies()
    info = anomalies.anomaly_info["'user.country'"]
    info.short_description = "Unexpected string values"
    info.reason.add(description="Examples contain values missing from the schema: " + "Z" * 10_000_000)
    (line,) = describe_anomalies({"train": anomalies})
    assert "user.country" in line and "Unexpected string values" in line and len(line) < 500
