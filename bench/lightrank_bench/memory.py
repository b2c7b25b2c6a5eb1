"""Peak resident memory of this process over successive windows (one per pipeline component).

LocalDagRunner runs every component in the calling process (Beam's DirectRunner in memory,
one worker), so a component's peak memory is the process's peak while it runs. Linux keeps
that peak as `VmHWM` in `/proc/self/status`, and writing "5" to `/proc/self/clear_refs` resets
it to the current resident size (Linux >= 4.0): a reset at a component's start and a read at
its end give exactly its peak, at no cost while it runs. Where `clear_refs` cannot be written
(an older kernel, a sandbox), a background thread samples `VmRSS` instead (every 50 ms by
default), which can miss a spike shorter than the interval; the method used is reported.

Neither method sees child processes (their memory is their own), so each window also records
the CPU time of the children that finished in it (`getrusage(RUSAGE_CHILDREN)`): a positive
value means the window spawned processes whose memory is not in its peak.

`ComponentPeaks` is the logging handler that opens a window at each component's start.
"""

from __future__ import annotations

import dataclasses
import logging
import resource
import threading

STATUS_FILE = "/proc/self/status"
CLEAR_REFS_FILE = "/proc/self/clear_refs"
#: What `clear_refs` takes to reset the peak resident size ("high water mark").
RESET_PEAK = "5"
SAMPLE_INTERVAL_S = 0.05
KIB_PER_MIB = 1024.0


class MemoryUnavailableError(RuntimeError):
    """The process's resident memory cannot be read (no /proc filesystem: not Linux)."""


def parse_status(text: str) -> dict[str, int]:
    """The `kB` fields of a `/proc/<pid>/status` text, in KiB (e.g. `{"VmRSS": 9264, "VmHWM": 9264}`).

    Fields without a `kB` unit (`Threads`, `Pid`, ...) are left out.
    """
    fields = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            fields[name.strip()] = int(parts[0])
    return fields


def _status_mib(field: str, status_file: str = STATUS_FILE) -> float:
    try:
        with open(status_file) as f:
            fields = parse_status(f.read())
    except OSError as error:
        raise MemoryUnavailableError(f"cannot read {status_file}: {error}") from error
    if field not in fields:
        raise MemoryUnavailableError(f"{status_file} has no {field} field")
    return fields[field] / KIB_PER_MIB


def rss_mib() -> float:
    """This process's current resident memory (`VmRSS`), MiB."""
    return _status_mib("VmRSS")


def peak_mib() -> float:
    """This process's peak resident memory (`VmHWM`) since it started or since `reset_peak`, MiB."""
    return _status_mib("VmHWM")


def reset_peak() -> None:
    """Resets `VmHWM` to the current resident memory.

    Raises:
        OSError: If `/proc/self/clear_refs` cannot be written.
    """
    with open(CLEAR_REFS_FILE, "w") as f:
        f.write(RESET_PEAK)


def can_reset_peak() -> bool:
    """Whether `reset_peak` works here (it resets the peak, which every caller is about to do)."""
    try:
        reset_peak()
    except OSError:
        return False
    return True


def children_peak_mib() -> float:
    """The peak resident memory of the largest child process waited for so far, MiB (0 if none)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / KIB_PER_MIB  # KiB on Linux


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclasses.dataclass(frozen=True)
class Window:
    """What one measurement window saw.

    Attributes:
        start_mib: Resident memory when the window opened.
        peak_mib: Peak resident memory during the window (at least `start_mib`).
        children_cpu_s: CPU seconds of child processes that finished during the window.
    """

    start_mib: float
    peak_mib: float
    children_cpu_s: float


class PeakMeter:
    """Peak resident memory over consecutive windows: each `lap()` closes one and opens the next.

    Attributes:
        method: "clear_refs" (exact: VmHWM reset per window) or "sampling" (VmRSS every
            `interval_s` in a background thread).
        overall_mib: The highest peak of every window closed so far.
    """

    def __init__(self, *, force_sampling: bool = False, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        """Opens the first window.

        Args:
            force_sampling: Sample even where `clear_refs` works (to test the fallback).
            interval_s: Sampling period of the fallback.

        Raises:
            MemoryUnavailableError: If `/proc/self/status` cannot be read.
        """
        self._start = rss_mib()
        self.method = "sampling" if force_sampling or not can_reset_peak() else "clear_refs"
        self.overall_mib = self._start
        self._children = _children_cpu_seconds()
        self._lock = threading.Lock()
        self._sampled = self._start
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.method == "sampling":
            self._thread = threading.Thread(
                target=self._sample, args=(interval_s,), name="peak-rss", daemon=True
            )
            self._thread.start()

    def _sample(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            current = rss_mib()
            with self._lock:
                self._sampled = max(self._sampled, current)

    def lap(self) -> Window:
        """Closes the current window (returning what it saw) and opens the next one."""
        children = _children_cpu_seconds()
        if self.method == "clear_refs":
            peak = peak_mib()
            reset_peak()
            current = rss_mib()
        else:
            current = rss_mib()
            with self._lock:
                peak, self._sampled = max(self._sampled, current), current
        window = Window(self._start, max(peak, self._start), max(0.0, children - self._children))
        self._start, self._children = current, children
        self.overall_mib = max(self.overall_mib, window.peak_mib)
        return window

    def close(self) -> None:
        """Stops the sampling thread, if any."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class ComponentPeaks(logging.Handler):
    """Opens a memory window at each component's start and closes it at its end.

    It listens to the same LocalDagRunner log lines as `lightrank.pipeline.local_runner`'s progress
    display ("Component %s is running." / "... is finished.", logged in the thread that runs
    the components), so the pipeline code needs no hook. Attach it to the "absl" logger.

    Attributes:
        windows: Each finished component's window, by component id.
        running: The component whose window is open, if any.
    """

    def __init__(self, meter: PeakMeter) -> None:
        super().__init__(level=logging.INFO)
        self._meter = meter
        self.windows: dict[str, Window] = {}
        self.running: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Opens a window at "Component X is running." and closes it at "... is finished."."""
        if not isinstance(record.args, tuple) or not record.args:
            return
        if record.msg == "Component %s is running.":
            self._meter.lap()  # the gap since the last component counts towards the overall peak only
            self.running = str(record.args[0])
        elif record.msg == "Component %s is finished." and self.running == str(record.args[0]):
            self.finish()

    def finish(self) -> None:
        """Closes the open component's window (also for a component that raised and never finished)."""
        if self.running is not None:
            self.windows[self.running] = self._meter.lap()
            self.running = None
