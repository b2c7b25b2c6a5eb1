"""The progress bar of `lightrank eval`: candidates scored, candidates per second and time left.

Scoring a day of candidates takes minutes, and TFMA prints nothing while it works. A Beam step
between the reader and TFMA counts the candidates of every record batch as it passes and
appends the count to a tally file; a thread of this process reads the new lines twice a second
and moves a tqdm bar on the terminal. A file, not a variable, because with `--workers` above 1
Beam runs the step in worker processes; appends of one short line are atomic, so workers never
interleave. On Dataflow the workers cannot reach the file: the step then counts nothing.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from typing import Any, TextIO

import apache_beam as beam
from tqdm import tqdm

#: How often the bar reads the tally, in seconds.
POLL_SECONDS = 0.5


class CountCandidates(beam.DoFn):
    """Passes record batches through unchanged, appending their rows to the tally file."""

    def __init__(self, tally: str | None = None):
        """Counts into `tally` (None: counts nothing)."""
        self._tally = tally

    def process(self, batch: Any) -> Iterator[Any]:
        """Counts one Arrow record batch of candidates and yields it."""
        if self._tally and os.path.isdir(os.path.dirname(self._tally)):
            with open(self._tally, "a", encoding="ascii") as tally:
                tally.write(f"{batch.num_rows}\n")
        yield batch


class CandidateProgress:
    """The bar and the tally file it follows (`candidate_progress` opens and closes both)."""

    def __init__(self, bar: tqdm, tally: str):
        self.bar = bar
        self.tally = tally
        self._offset = 0
        self._lock = threading.Lock()

    def poll(self) -> None:
        """Moves the bar by the candidates counted since the last poll."""
        if not os.path.exists(self.tally):
            return
        with self._lock, open(self.tally, encoding="ascii") as tally:
            tally.seek(self._offset)
            text = tally.read()
            complete = text[: text.rfind("\n") + 1]  # a line still being written waits for the next poll
            self._offset += len(complete)
        counted = sum(int(line) for line in complete.split())
        if counted:
            self.bar.update(counted)
            if self.bar.total and self.bar.n >= self.bar.total:  # TFMA's last stages still run: say so
                self.bar.set_description("Scored; combining metrics by slice and request")


@contextlib.contextmanager
def candidate_progress(total: int, stream: TextIO | None) -> Iterator[CandidateProgress]:
    """Shows the bar on `stream` (nothing when None) while the block runs.

    Args:
        total: The candidates to score (counted before, by the input scan), for the time left.
        stream: The terminal; None hides the bar (a log file gets the summary line instead).

    Yields:
        The progress; pass its `tally` to `CountCandidates`.
    """
    with tempfile.TemporaryDirectory(prefix="lightrank-eval-progress-") as directory, tqdm(
        total=total, unit=" candidates", unit_scale=True, file=stream,
        disable=stream is None or not stream.isatty(),
        desc="Scoring", mininterval=POLL_SECONDS, smoothing=0.1,
        # a bar redrawn with carriage returns only helps a terminal; piped output gets the summary line
    ) as bar:  # fmt: skip
        progress = CandidateProgress(bar, os.path.join(directory, "tally"))
        stop = threading.Event()

        def follow() -> None:
            while not stop.wait(POLL_SECONDS):
                progress.poll()

        follower = threading.Thread(target=follow, name="lightrank-eval-progress", daemon=True)
        follower.start()
        try:
            yield progress
        finally:
            stop.set()
            follower.join()
            progress.poll()
