"""`lightrank run` interrupted, and run twice at once on one store, in processes (docs/reliability.md)."""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from e2e_support import tiny_overrides

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

#: The Trainer budget of the run that is cancelled: long enough that it is still running.
SLOW = "model.training.max_steps=100000"


def _argv(command: str, workdir: Path, data: str, *extra: str) -> list[str]:
    sets = [arg for value in [*tiny_overrides(workdir, data), *extra] for arg in ("--set", value)]
    return [sys.executable, "-m", "lightrank.cli", command, *sets]


class _Lines:
    """A process's stdout read line by line in a thread, so the test can wait for a line with a timeout."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 240) -> str:
        while True:
            line = self._queue.get(timeout=timeout)
            if line is None:
                raise AssertionError(f"the run ended before printing {text!r}: {self.seen}")
            self.seen.append(line)
            if text in line:
                return line


def _start(workdir: Path, data: str) -> tuple[subprocess.Popen, _Lines]:
    process = subprocess.Popen(
        _argv("run", workdir, data, SLOW), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    return process, _Lines(process)


def _runs(workdir: Path, data: str) -> list[dict]:
    done = subprocess.run(_argv("runs", workdir, data), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [*_argv("runs", workdir, data), "--json"], capture_output=True, text=True, timeout=120
    )
    return json.loads(done.stdout)


def test_ctrl_c_ends_the_run_with_one_line_and_records_it_as_cancelled(tmp_path, tiny_data):
    process, lines = _start(tmp_path, tiny_data)
    try:
        lines.wait_for("running ...")  # the first component's line
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
    log = next(line for line in lines.seen if line.startswith("Full log: ")).removeprefix("Full log: ")
    assert process.returncode == 130, err
    assert err == f"lightrank: run cancelled (Ctrl-C); the run is recorded as cancelled; full log: {log}\n"
    assert "Traceback" in Path(log).read_text()  # the traceback went to the log
    [run] = _runs(tmp_path, tiny_data)
    assert run["status"] == "cancelled" and run["ended"] is not None
    assert Path(f"{tmp_path}/metadata.db.lock").read_text() == ""  # released, no holder left


def test_a_second_run_on_the_same_store_stops_naming_the_first_which_sigterm_cancels(tmp_path, tiny_data):
    first, lines = _start(tmp_path, tiny_data)
    try:
        lines.wait_for("running ...")
        second = subprocess.run(
            _argv("run", tmp_path, tiny_data), capture_output=True, text=True, timeout=240
        )
        assert first.poll() is None, "the first run ended before the second one tried"
        first.send_signal(signal.SIGTERM)
        _, first_err = first.communicate(timeout=180)
    finally:
        if first.poll() is None:
            first.kill()
    first_log = next(line for line in lines.seen if line.startswith("Full log: ")).removeprefix("Full log: ")
    lock = f"{tmp_path}/metadata.db.lock"
    assert second.returncode == 2, second.stderr
    assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
    holder = f"(pid {first.pid} on host {socket.gethostname()} since "
    assert second.stderr.startswith(
        f"lightrank: error: another run of pipeline 'lightrank-sample' holds {lock} "
    )
    assert holder in second.stderr
    assert second.stderr.endswith(f", log {first_log}); wait for it or pass --wait\n")
    second_log = next(line for line in second.stdout.splitlines() if line.startswith("Full log: "))
    assert second_log != f"Full log: {first_log}"  # each run its own log

    assert first.returncode == 143, first_err
    assert first_err.startswith("lightrank: run cancelled (SIGTERM); the run is recorded as cancelled")
    [run] = _runs(tmp_path, tiny_data)  # the refused run recorded nothing
    assert run["status"] == "cancelled"
