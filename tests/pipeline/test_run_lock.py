"""The run lock: one run per pipeline and store, a named holder, waiting, dead holders taken over."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from lightrank.errors import UserError
from lightrank.pipeline.commands.run import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    RunTerminated,
    default_log_file,
    sigterm_as_interrupt,
)
from lightrank.pipeline.config import MetadataConfig
from lightrank.pipeline.run_lock import (
    RunLockedError,
    lock_path,
    lock_state,
    read_holder,
    run_lock,
)


def test_a_second_acquisition_refuses_at_once_naming_the_holder(tmp_path):
    path = str(tmp_path / "metadata.db.lock")
    with run_lock(path, pipeline="p", run_id="run-a", log_file="/logs/a.log") as holder:
        started = time.monotonic()
        with pytest.raises(RunLockedError) as refused, run_lock(path, pipeline="p", run_id="run-b"):
            pass
        assert time.monotonic() - started < 1.0
    message = str(refused.value)
    assert isinstance(refused.value, UserError) and "\n" not in message
    assert message == (
        f"another run of pipeline 'p' holds {path} (pid {os.getpid()} on host {socket.gethostname()} "
        f"since {holder.since}, log /logs/a.log); wait for it or pass --wait"
    )


def test_the_holder_is_recorded_while_held_and_cleared_on_release(tmp_path):
    path = str(tmp_path / "x.lock")
    assert lock_state(path) is None  # no lock file: nothing is known
    with run_lock(path, pipeline="p", run_id="run-a", log_file="/l.log"):
        state = lock_state(path)
        assert state is not None and state.held and state.holder.run_id == "run-a"
        assert read_holder(path).pid == os.getpid()
    state = lock_state(path)
    assert state is not None and not state.held and read_holder(path) is None
    assert os.path.exists(path)  # never deleted: a deleted flocked file would split the lock


def test_the_lock_is_released_when_the_block_raises(tmp_path):
    path = str(tmp_path / "x.lock")
    with pytest.raises(KeyboardInterrupt), run_lock(path, pipeline="p"):
        raise KeyboardInterrupt
    with run_lock(path, pipeline="p"):
        pass


def test_wait_waits_until_the_holder_releases(tmp_path):
    path = str(tmp_path / "x.lock")
    notes: list[str] = []
    released = threading.Event()
    first = run_lock(path, pipeline="p", run_id="run-a")
    first.__enter__()

    def release_later() -> None:
        time.sleep(0.3)
        released.set()
        first.__exit__(None, None, None)

    thread = threading.Thread(target=release_later)
    started = time.monotonic()
    thread.start()
    with run_lock(path, pipeline="p", run_id="run-b", wait=True, note=notes.append, poll_seconds=0.02):
        assert released.is_set() and time.monotonic() - started >= 0.3
        assert read_holder(path).run_id == "run-b"
    thread.join()
    assert len(notes) == 1
    assert notes[0].startswith(f"waiting for the run that holds {path} (pid {os.getpid()}")


def test_a_lock_file_left_by_a_dead_process_is_taken_over_with_a_note(tmp_path):
    path = str(tmp_path / "x.lock")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with open(path, "w") as f:  # what a killed run leaves: its record, but no flock
        record = {"pid": dead.pid, "host": socket.gethostname(), "since": "T", "pipeline": "p"}
        json.dump({**record, "run_id": "run-old"}, f)
    notes: list[str] = []
    with run_lock(path, pipeline="p", run_id="run-new", note=notes.append):
        assert read_holder(path).run_id == "run-new"
    assert len(notes) == 1
    assert f"from pid {dead.pid} on host {socket.gethostname()}" in notes[0]
    assert "no longer runs" in notes[0] and "run-old shows as abandoned" in notes[0]


def test_the_lock_file_sits_next_to_a_sqlite_store_or_under_the_root_for_mysql(tmp_path):
    sqlite = MetadataConfig(sqlite=str(tmp_path / "m.db"))
    assert lock_path(sqlite, "p", "/root") == str(tmp_path / "m.db.lock")
    mysql = MetadataConfig(mysql={"host": "h", "database": "d", "user": "u"})
    assert lock_path(mysql, "my pipe", str(tmp_path)) == str(tmp_path / ".lightrank-run-my_pipe.lock")
    assert lock_path(mysql, "p", "gs://bucket/root").endswith("lightrank-run-h_3306_d-p.lock")


def test_log_files_are_unique_per_run():
    import datetime

    now = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901)
    assert default_log_file("/r", now, 42) == "/r/logs/run-20260102-030405-678901-42.log"
    assert default_log_file("/r", now, 42) != default_log_file("/r", now, 43)


def test_sigterm_becomes_an_interrupt_in_the_main_thread_and_the_handler_is_restored():
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(RunTerminated), sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
    assert signal.getsignal(signal.SIGTERM) is previous
    assert issubclass(RunTerminated, KeyboardInterrupt)
    assert (EXIT_INTERRUPTED, EXIT_TERMINATED) == (130, 143)
