"""One `lightrank run` per pipeline and ML Metadata store at a time.

Two local runs on one store both pushed into the same serving version and recorded each
other's models in their lineage (docs/reliability.md). A run therefore takes an exclusive `fcntl.flock`
on a lock file before its first component and holds it until it ends, on every exit path:

- SQLite store: `<metadata.sqlite>.lock`, next to the store, so every checkout and every
  config that names the same store file shares the lock.
- MySQL store: no Python MySQL driver is in `requirements.lock` (ml-metadata talks to MySQL in
  C++), so MySQL's `GET_LOCK` is out of reach; the lock file is `<root>/.lightrank-run-<name>.lock`
  (in the temp directory when the root is remote). It only guards runs on **this machine**.

The file records its holder (pid, host, start time, run id, log) as JSON, so a refused run can
say who holds it. A process that dies holds no flock any more (the kernel drops it), so a lock
left by a dead process is simply taken over; the stale holder record is reported as a note.
`lock_state` probes the lock without taking it for long, which `lightrank runs` uses to tell a
live run from an abandoned one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import errno
import fcntl
import json
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable, Iterator

from lightrank.errors import UserError
from lightrank.models.paths import is_remote
from lightrank.pipeline.config import MetadataConfig

#: How long a refused non-blocking attempt keeps retrying: `lock_state` probes hold a shared
#: lock for microseconds, which must not make a starting run give up.
_PROBE_GRACE_SECONDS = 0.5


class RunLockedError(UserError):
    """Another run of the pipeline holds the store's run lock (printed as one line, exit 2)."""


@dataclasses.dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) a run lock, as recorded in the lock file."""

    pid: int
    host: str
    since: str
    pipeline: str
    run_id: str | None = None
    log: str | None = None

    def describe(self) -> str:
        """`pid N on host H since T, log L`: enough to find the process and its output."""
        return f"pid {self.pid} on host {self.host} since {self.since}, log {self.log or 'not recorded'}"

    def alive(self) -> bool | None:
        """Whether the holder's process exists (None when it ran on another host: unknowable here)."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


@dataclasses.dataclass(frozen=True)
class LockState:
    """What a probe of a run lock found.

    Attributes:
        held: Whether a process holds the lock now.
        holder: The recorded holder while held (None if the record is not readable yet).
    """

    held: bool
    holder: LockHolder | None


def lock_path(metadata: MetadataConfig, pipeline_name: str, root: str) -> str:
    """The lock file of a pipeline's runs on a store (see the module docstring for why there)."""
    if metadata.sqlite is not None:
        return os.path.abspath(metadata.sqlite) + ".lock"
    safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", pipeline_name)
    if is_remote(root):
        assert metadata.mysql is not None
        mysql = metadata.mysql
        where = re.sub(r"[^A-Za-z0-9._-]", "_", f"{mysql.host}_{mysql.port}_{mysql.database}")
        return os.path.join(tempfile.gettempdir(), f"lightrank-run-{where}-{safe_name}.lock")
    return os.path.join(os.path.abspath(root), f".lightrank-run-{safe_name}.lock")


def _read_holder(fd: int) -> LockHolder | None:
    """The holder recorded in an open lock file, or None when it is empty or not ours."""
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    try:
        data = json.loads(b"".join(chunks).decode() or "null")
        return LockHolder(**data) if isinstance(data, dict) else None
    except (ValueError, TypeError):
        return None


def read_holder(path: str) -> LockHolder | None:
    """The holder recorded in the lock file at `path` (None if missing, empty or unreadable)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return _read_holder(fd)
    finally:
        os.close(fd)


def lock_state(path: str) -> LockState | None:
    """Probes the lock with a brief shared flock: held or free, and by whom (None: no lock file).

    A shared lock conflicts only with a run's exclusive one and is released at once; a run
    starting in that instant retries for `_PROBE_GRACE_SECONDS` instead of giving up.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            return LockState(held=True, holder=_read_holder(fd))
        fcntl.flock(fd, fcntl.LOCK_UN)
        return LockState(held=False, holder=None)
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True


@contextlib.contextmanager
def run_lock(
    path: str,
    *,
    pipeline: str,
    run_id: str | None = None,
    log_file: str | None = None,
    wait: bool = False,
    note: Callable[[str], None] | None = None,
    poll_seconds: float = 0.1,
) -> Iterator[LockHolder]:
    """Holds the run lock for the block; released (and its record cleared) on every exit path.

    Args:
        path: The lock file (`lock_path`); created if missing, never deleted (deleting a
            flocked file lets two processes lock two different files of one name).
        pipeline: Named in the refusal.
        run_id: Recorded, so that `lightrank runs` can tell this run's executions from others'.
        log_file: Recorded, so that a refused run can point at the holder's output.
        wait: Wait for the holder to finish instead of refusing at once.
        note: Receives one line when this run waits, or takes over a dead holder's record.
        poll_seconds: How often a waiting run tries again.

    Yields:
        This run's holder record, as written to the lock file.

    Raises:
        RunLockedError: Another process holds the lock and `wait` is false.
    """
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + _PROBE_GRACE_SECONDS
        told = False
        while not _try_lock(fd):
            holder = _read_holder(fd)
            if wait:
                if not told and note is not None and holder is not None:
                    note(f"waiting for the run that holds {path} ({holder.describe()})")
                    told = True
            elif holder is not None or time.monotonic() > deadline:
                who = f" ({holder.describe()})" if holder else ""
                raise RunLockedError(
                    f"another run of pipeline '{holder.pipeline if holder else pipeline}' holds {path}{who}; "
                    "wait for it or pass --wait"
                )
            time.sleep(poll_seconds)
        stale = _read_holder(fd)
        if stale is not None and note is not None:
            gone = "no longer runs" if stale.alive() is False else "released no lock"
            run = f"its run {stale.run_id}" if stale.run_id else "its run"
            note(
                f"note: took over the run lock {path} from {stale.describe()}, which {gone}; "
                f"{run} shows as abandoned unless it recorded an end"
            )
        holder = LockHolder(
            pid=os.getpid(),
            host=socket.gethostname(),
            since=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            pipeline=pipeline,
            run_id=run_id,
            log=log_file,
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(dataclasses.asdict(holder)).encode(), 0)
        os.fsync(fd)
        try:
            yield holder
        finally:
            os.ftruncate(fd, 0)  # a clean release leaves no holder, so a record left behind means a dead one
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
