"""The progress bar of `lightrank eval`: candidates scored, candidates per second and time left.

Scoring a day of candidates takes minutes, and TFMA prints nothing while it works. A Beam step
between the reader and TFMA counts the candidates of every record batch as it passes; with
the in-memory DirectRunner (the default) it runs in this process and moves a tqdm bar on the
terminal. Where the step runs in other processes (Beam's multi-processing mode, Dataflow) it
finds no bar and does nothing, so the counts never cost a pickled bar or a lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TextIO

import apache_beam as beam
from tqdm import tqdm

#: The bar the counting step moves, set only while `candidate_progress` is open.
_BAR: tqdm | None = None


class CountCandidates(beam.DoFn):
    """Passes record batches through unchanged, adding their rows to the open bar."""

    def process(self, batch: Any) -> Iterator[Any]:
        """Counts one Arrow record batch of candidates and yields it."""
        if _BAR is not None:
            _BAR.update(batch.num_rows)
            if _BAR.total and _BAR.n >= _BAR.total:  # TFMA's last stages still run: say so
                _BAR.set_description("Scored; combining metrics by slice and request")
        yield batch


@contextlib.contextmanager
def candidate_progress(total: int, stream: TextIO | None) -> Iterator[tqdm]:
    """Shows the bar on `stream` (nothing when None) while the block runs.

    Args:
        total: The candidates to score (counted before, by the input scan), for the time left.
        stream: The terminal; None hides the bar (a log file gets the summary line instead).
    """
    global _BAR
    with tqdm(
        total=total, unit=" candidates", unit_scale=True, file=stream,
        disable=stream is None or not stream.isatty(),
        desc="Scoring", mininterval=0.5, smoothing=0.1,
        # a bar redrawn with carriage returns only helps a terminal; piped output gets the summary line
    ) as bar:  # fmt: skip
        _BAR = bar
        try:
            yield bar
        finally:
            _BAR = None
