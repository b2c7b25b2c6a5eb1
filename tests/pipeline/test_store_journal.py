"""A store that a killed writer left mid-transaction is read, and run on, as its last commit.

Before `journal`, a READONLY open failed on such a store, the preflight took it for another
program's SQLite database, and the next `lightrank run` stopped with exit 2 (seen in CI, from
the kill-at-every-component fault test).
"""

from __future__ import annotations

import os
import sqlite3

import ml_metadata as mlmd
import pytest
from killed_writer import leave_hot_journal
from ml_metadata.proto import metadata_store_pb2

from lightrank.pipeline.config import load_config
from lightrank.pipeline.metadata import lineage
from lightrank.pipeline.metadata.journal import has_journal, journal_path, roll_back_interrupted_write
from lightrank.pipeline.metadata.lineage import LineageError, open_read_only
from lightrank.pipeline.metadata.runs import connection_config, open_store, read_only_connection_config
from lightrank.pipeline.preflight import check_store

SAMPLE_CONFIG = "pipeline/configs/sample.yaml"


@pytest.fixture
def store(tmp_path):
    """An ML Metadata store with one committed context, then a writer killed mid-transaction."""
    config = load_config(SAMPLE_CONFIG, [f"metadata.sqlite={tmp_path / 'metadata.db'}", f"root={tmp_path}"])
    writer = mlmd.MetadataStore(connection_config(config.metadata))
    type_id = writer.put_context_type(metadata_store_pb2.ContextType(name="pipeline"))
    writer.put_contexts([metadata_store_pb2.Context(type_id=type_id, name="committed")])
    del writer
    leave_hot_journal(config.metadata.sqlite)
    return config


def _tables(path: str) -> set[str]:
    connection = sqlite3.connect(path)
    try:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        connection.close()


def test_a_read_only_open_cannot_read_past_the_journal(store):
    # The failure the rollback exists for: ML Metadata's READONLY mode, as every reader opens it.
    with pytest.raises(RuntimeError, match="readonly database"):
        mlmd.MetadataStore(read_only_connection_config(store.metadata))


def test_readers_see_the_last_commit_and_the_journal_is_gone(store):
    contexts = open_store(store.metadata).get_contexts()
    assert [c.name for c in contexts] == ["committed"]
    assert not has_journal(store.metadata.sqlite)
    assert "half_written" not in _tables(store.metadata.sqlite)  # the cut write is undone


def test_the_run_preflight_rolls_it_back_and_says_so(store):
    assert check_store(store) == journal_path(store.metadata.sqlite)
    assert check_store(store) is None  # nothing left the second time
    assert [c.name for c in open_read_only(store.metadata).get_contexts()] == ["committed"]


def test_a_live_writers_transaction_is_left_alone(tmp_path):
    path = str(tmp_path / "live.db")
    live = sqlite3.connect(path, isolation_level=None)
    live.execute("CREATE TABLE notes (text TEXT)")
    live.execute("BEGIN IMMEDIATE")
    live.execute("INSERT INTO notes VALUES ('not yet committed')")
    assert has_journal(path)  # the journal of a write that is still going on
    assert roll_back_interrupted_write(path) is False
    live.execute("COMMIT")
    live.close()
    rows = sqlite3.connect(path).execute("SELECT text FROM notes").fetchall()
    assert rows == [("not yet committed",)]


def test_a_journal_that_cannot_be_rolled_back_here_is_named(store, monkeypatch):
    # As on a read-only mount: nothing rolls it back, and the reader says what is there.
    monkeypatch.setattr("lightrank.pipeline.metadata.runs.roll_back_interrupted_write", lambda path: False)
    with pytest.raises(LineageError) as raised:
        open_read_only(store.metadata)
    message = str(raised.value)
    assert "holds an unfinished write" in message and journal_path(store.metadata.sqlite) in message
    assert os.path.isfile(journal_path(store.metadata.sqlite))
    assert lineage.has_journal(store.metadata.sqlite)
