"""The `lightrank eval` progress step: it counts every candidate and passes the batches unchanged."""

from __future__ import annotations

import io

import apache_beam as beam
import pyarrow as pa
from apache_beam.testing.util import assert_that, equal_to

from lightrank.pipeline.eval.progress import CountCandidates, candidate_progress


def _batches() -> list[pa.RecordBatch]:
    return [pa.RecordBatch.from_pydict({"x": list(range(n))}) for n in (3, 5, 2)]


def _run() -> None:
    with beam.Pipeline(
        options=beam.options.pipeline_options.PipelineOptions(["--direct_running_mode=in_memory"])
    ) as p:
        rows = p | beam.Create(_batches()) | beam.ParDo(CountCandidates()) | beam.Map(lambda b: b.num_rows)
        assert_that(rows, equal_to([3, 5, 2]))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_counts_every_candidate_and_says_when_scoring_is_done():
    terminal = _Terminal()
    with candidate_progress(10, terminal) as bar:
        _run()
        assert bar.n == 10
    shown = terminal.getvalue()
    assert "10.0/10.0" in shown and "combining metrics" in shown


def test_without_an_open_bar_the_step_only_passes_batches_through():
    _run()  # no bar: nothing to move, nothing fails
    for stream in (None, io.StringIO()):  # no terminal, or output piped to a file: no bar drawn
        with candidate_progress(10, stream) as bar:
            _run()
            assert bar.disable
        assert stream is None or stream.getvalue() == ""
