"""The `lightrank eval` progress step: it counts every candidate, in this process or in workers."""

from __future__ import annotations

import io
import operator

import apache_beam as beam
import pyarrow as pa
from apache_beam.testing.util import assert_that, equal_to

from lightrank.pipeline.eval.progress import CountCandidates, candidate_progress


def _batches() -> list[pa.RecordBatch]:
    return [pa.RecordBatch.from_pydict({"x": list(range(n))}) for n in (3, 5, 2)]


def _run(tally: str | None = None, *mode: str) -> None:
    options = beam.options.pipeline_options.PipelineOptions(list(mode or ["--direct_running_mode=in_memory"]))
    with beam.Pipeline(options=options) as p:
        batches = p | beam.Create(_batches()) | beam.ParDo(CountCandidates(tally))
        # attrgetter, not a lambda of this module: worker processes cannot import test modules
        assert_that(batches | beam.Map(operator.attrgetter("num_rows")), equal_to([3, 5, 2]))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_counts_every_candidate_and_says_when_scoring_is_done():
    terminal = _Terminal()
    with candidate_progress(10, terminal) as progress:
        _run(progress.tally)
    assert progress.bar.n == 10
    shown = terminal.getvalue()
    assert "10.0/10.0" in shown and "combining metrics" in shown


def test_the_bar_counts_candidates_counted_in_worker_processes():
    with candidate_progress(10, _Terminal()) as progress:
        _run(progress.tally, "--direct_running_mode=multi_processing", "--direct_num_workers=2")
    assert progress.bar.n == 10


def test_a_line_still_being_written_waits_for_the_next_poll():
    with candidate_progress(10, _Terminal()) as progress:
        with open(progress.tally, "a", encoding="ascii") as tally:
            tally.write("3\n4")
        progress.poll()
        assert progress.bar.n == 3
        with open(progress.tally, "a", encoding="ascii") as tally:
            tally.write("\n")
        progress.poll()
        assert progress.bar.n == 7


def test_without_a_tally_the_step_only_passes_batches_through():
    _run()  # no tally: nothing to count, nothing fails
    for stream in (None, io.StringIO()):  # no terminal, or output piped to a file: no bar drawn
        with candidate_progress(10, stream) as progress:
            _run(progress.tally)
            assert progress.bar.disable
        assert stream is None or stream.getvalue() == ""
