"""A SQLite store's unfinished write, rolled back before the store is read.

A process killed while ML Metadata writes (SIGKILL, the OOM killer, a lost machine) leaves
`<store>-journal` beside the SQLite file: a *hot journal*, the pages as they were before the
write (https://www.sqlite.org/atomiccommit.html#hot_journals). SQLite rolls it back the next
time a connection that may write opens the file. A READONLY connection cannot: it fails with
"attempt to write a readonly database", which ML Metadata reports like an empty store. Every
reader here opens the store READONLY (`lightrank runs`, `lineage`, a run's own preflight), so a
run killed mid-write made the next run refuse the store as "an SQLite database of another
program" (exit 2) until something else opened it for writing.

`roll_back_interrupted_write` lets SQLite itself do the recovery first. SQLite decides under
its own file locks whether the journal is hot: a live writer (which holds a RESERVED lock) is
never rolled back, so this is safe beside a running pipeline. The rollback restores the last
committed state; no committed record changes.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import urllib.parse

#: How long a reader waits for a writer's commit before giving up (SQLite's busy timeout).
_BUSY_SECONDS = 10.0


def journal_path(store: str) -> str:
    """Where SQLite keeps the rollback journal of the database file `store`."""
    return f"{store}-journal"


def has_journal(store: str) -> bool:
    """Whether a non-empty rollback journal lies beside `store` (a write is open or was cut short)."""
    journal = journal_path(store)
    return os.path.isfile(journal) and os.path.getsize(journal) > 0


def roll_back_interrupted_write(store: str) -> bool:
    """Rolls back the write a killed process left in `store`, through SQLite's own recovery.

    Args:
        store: A local SQLite file (ML Metadata's or not).

    Returns:
        Whether a journal was there and is gone now. False when there was none, when a live
        writer owns it (SQLite leaves it alone), or when the file cannot be opened for writing
        here (a read-only mount, not a database): the caller's own open then names the problem.
    """
    if not has_journal(store):
        return False
    uri = f"file:{urllib.parse.quote(os.path.abspath(store))}?mode=rw"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=_BUSY_SECONDS)
        try:
            # Any read takes the SHARED lock, and taking it is when SQLite rolls a hot journal back.
            connection.execute("SELECT count(*) FROM sqlite_master").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as error:
        logging.getLogger(__name__).warning("could not roll back %s: %s", journal_path(store), error)
        return False
    if has_journal(store):
        return False
    logging.getLogger(__name__).warning(
        "rolled back an unfinished write to %s left by a process that was killed", store
    )
    return True
