"""An SQLite write cut short by SIGKILL, made on purpose: what a run killed inside ML Metadata leaves.

The writer runs in its own process, changes more pages than its one-page cache holds (so
SQLite writes some of them to the database file, the journal holding their old contents)
and dies without committing or closing: `<store>-journal` is then a hot journal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

_WRITER = """
import os, signal, sqlite3, sys
connection = sqlite3.connect(sys.argv[1])
connection.execute("PRAGMA cache_size = 1")
connection.execute("BEGIN IMMEDIATE")
connection.execute("CREATE TABLE half_written (text TEXT)")
for i in range(5000):
    connection.execute("INSERT INTO half_written VALUES (?)", ("x" * 200,))
os.kill(os.getpid(), signal.SIGKILL)
"""


def leave_hot_journal(store: str) -> None:
    """Kills a writer of the SQLite file `store` in the middle of a transaction.

    Raises:
        AssertionError: The writer did not die by SIGKILL or left no journal.
    """
    process = subprocess.run([sys.executable, "-c", _WRITER, store], capture_output=True, text=True)
    assert process.returncode == -signal.SIGKILL, process.stderr
    journal = f"{store}-journal"
    assert os.path.isfile(journal) and os.path.getsize(journal) > 0, "the writer left no journal"
