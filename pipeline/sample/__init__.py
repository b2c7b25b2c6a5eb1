"""Synthetic push-notification light-ranking data: users, candidates and a heavy-ranker teacher.

`write_sample_data` is the only entry point the CLI and pipeline need; see
`docs/sample_data.md` for what the data models and how it is derived.
"""

from __future__ import annotations

from lightrank.pipeline.sample.writer import DEFAULT_REQUESTS, SampleDataSummary, write_sample_data

__all__ = ["DEFAULT_REQUESTS", "SampleDataSummary", "write_sample_data"]
