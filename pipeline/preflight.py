"""Input checks that run before a local pipeline starts.

A Beam job that meets an empty directory or a corrupt file fails minutes in,
with a stack trace that rarely names the file. These checks fail in seconds with
one sentence naming the path, and nothing is written to the pipeline root or
ML Metadata.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, TextIO

from lightrank.errors import shorten
from lightrank.models.paths import is_remote
from lightrank.pipeline.example_inputs import split_files, static_directory
from lightrank.pipeline.record_scan import InputDataError, expectations, scan_file

if TYPE_CHECKING:
    from lightrank.pipeline.config import PipelineConfig


def check_writable(config: PipelineConfig) -> None:
    """The pipeline root (and a SQLite store's directory) must be writable before anything runs.

    Otherwise the first component fails with a PermissionError traceback from deep inside
    TFX. The nearest existing directory is probed by creating and removing a file, because
    `os.access` says yes to root on a read-only mount. Remote roots are left to the runner.

    Raises:
        InputDataError: Naming the path that cannot be written.
    """
    import tempfile

    targets = [("root", config.root)]
    if config.metadata.sqlite:
        targets.append(("metadata.sqlite", os.path.dirname(config.metadata.sqlite)))
    for key, path in targets:
        if is_remote(path):
            continue
        existing = os.path.abspath(path)
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        try:
            if not os.path.isdir(existing):
                raise NotADirectoryError(f"{existing} is not a directory")
            with tempfile.TemporaryFile(dir=existing, prefix=".lightrank-probe-"):
                pass
        except OSError as error:
            raise InputDataError(
                f"{key} {shorten(path)} is not writable ({error.strerror or error}: {existing}); "
                "nothing was run: choose a writable directory (--set root=... / metadata.sqlite=...)"
            ) from error


def check_store(config: PipelineConfig) -> str | None:
    """An existing SQLite store must be an ML Metadata store before a run writes to it.

    A corrupt or foreign file at `metadata.sqlite` made TFX fail with a C++ error and a
    traceback after the preflight; the read-only commands already name such a file. Another
    program's SQLite database would not fail at all: ML Metadata adds its tables to it. A
    missing or empty file (or an SQLite file without tables) is fine: the run creates the store.

    Called while the run holds the store's run lock, so no other run writes it meanwhile. A
    write that a killed run left unfinished is rolled back first (`journal`), as SQLite does for
    any writer; before that, the READONLY check took such a store for another program's.

    Returns:
        The rolled-back journal's path, for the run's output, or None.

    Raises:
        InputDataError: Naming the file and what is wrong with it; the file is left as it was.
    """
    path = config.metadata.sqlite
    if not path or not os.path.isfile(path) or os.path.getsize(path) == 0:
        return None
    from lightrank.pipeline.metadata.journal import journal_path, roll_back_interrupted_write
    from lightrank.pipeline.metadata.lineage import LineageError, open_read_only

    rolled_back = journal_path(path) if roll_back_interrupted_write(path) else None
    try:
        open_read_only(config.metadata)
    except LineageError as error:
        if "is empty" in str(error):
            tables = _sqlite_tables(path)
            if not tables:
                return rolled_back  # an SQLite file without any table: the run creates ML Metadata's
            raise InputDataError(
                f"{path} is not an ML Metadata store: it is an SQLite database of another program "
                f"(tables: {shorten(', '.join(tables), 120)}); nothing was run and the file is left "
                "as it is: point metadata.sqlite at another file"
            ) from error
        raise InputDataError(
            f"{error}; nothing was run and the file is left as it is: move it away or point "
            "metadata.sqlite at another file"
        ) from error
    return rolled_back


def _sqlite_tables(path: str) -> list[str]:
    """The tables of an SQLite file, read without changing it (read-only URI, no journal written)."""
    import sqlite3
    import urllib.parse

    uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True)
        try:
            return [
                row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
        finally:
            connection.close()
    except sqlite3.Error as error:  # ML Metadata opened it, sqlite3 does not: not a store to write to
        return [f"unreadable: {error}"]


def check_inputs(
    config: PipelineConfig, request_key: str | None = None, *, console: TextIO | None = None
) -> int:
    """Checks a local data path (and that the outputs can be written) before a run.

    Remote data paths are left to the runner. The pipeline root is checked here too, so the
    one preflight every local run already calls stops a read-only root before any component.

    Args:
        config: The pipeline config (data path; schema and feature spec).
        request_key: The request key the sampled records must carry; resolved from the
            config's feature spec when not given.
        console: Where the one line saying how much was read goes (default: stdout, which a
            CLI run sends to its log).

    Returns:
        The number of candidates found (0 for remote paths, not counted).

    Raises:
        InputDataError: The path is missing, matches no file, a file is empty, corrupt,
            does not hold tf.Examples, or a record lacks a usable request key, has a feature
            of the wrong type, a NaN/Inf weight or label, or a continuous value beyond
            `MAX_CONTINUOUS_MAGNITUDE` (every record for the schema's features, a sample for
            the others: `lightrank.pipeline.record_scan`); or the pipeline root is not writable.
    """
    if any(is_remote(pattern) for pattern in config.data.patterns.values()):
        check_writable(config)
        return 0
    files = _input_files(config)
    expect = expectations(config, request_key)
    total = parsed = 0
    for file in files:
        if os.path.getsize(file) == 0:
            raise InputDataError(f"{file} is empty")
        checked = scan_file(file, expect)
        if checked.records == 0:
            raise InputDataError(f"{file} holds no records")
        total += checked.records
        parsed += checked.parsed
    check_writable(config)
    print(
        f"preflight: checked {total} records of {len(files)} file{'s' if len(files) != 1 else ''}, "
        f"parsed {parsed} whole; every record's {len(expect.kinds)} schema features checked",
        file=console or sys.stdout,
        flush=True,
    )
    return total


def _input_files(config: PipelineConfig) -> list[str]:
    """Every local file the run will read, each split's found and none shared by two splits.

    Raises:
        InputDataError: A path does not exist or a split matches no file, or two splits share
            a file (eval data seen in training would flatter every gate).
        SpanError: A span pattern matches no span, or not the spans `data.spans` asks for.
    """
    for name, pattern in config.data.patterns.items():
        if os.path.isfile(pattern):
            raise InputDataError(
                f"data path {shorten(pattern)} is a file; give its directory or a glob (ImportExampleGen "
                "reads every file of a directory, or those a pattern matches)"
            )
        if not os.path.exists(static_directory(pattern)):
            where = "data path" if config.data.splits is None else f"data.splits.{name}"
            raise InputDataError(
                f"{where} {shorten(pattern)} does not exist "
                "(generate sample data with `lightrank data generate`)"
            )
    by_split = split_files(config.data)
    owner: dict[str, str] = {}
    for split, files in by_split.items():
        if not files:
            where = (
                f"data path {shorten(config.data.path or '')}"
                if config.data.splits is None
                else (f"data.splits.{split} {shorten(config.data.patterns[split])}")
            )
            raise InputDataError(f"{where} matches no file")
        for file in files:
            if file in owner and owner[file] != split:
                raise InputDataError(
                    f"{file} is in both the {owner[file]} and the {split} split: a file read for training "
                    "must not be evaluated on; make the split globs disjoint"
                )
            owner[file] = split
    return sorted(owner)


def check_base_model(config: PipelineConfig) -> None:
    """A local `model.warm_start_from` must be a complete, loadable export, found before anything runs.

    The Trainer would otherwise fail, or warn and train from scratch, after Transform, minutes
    in, and the run would look like a warm start in its config. A version that a killed or
    failed push left behind (variables but no `saved_model.pb`, from before pushes were atomic)
    has the settings file but is not a model; loading it here refuses it in seconds. Remote
    (`gs://`) paths are left to the runner.

    Raises:
        InputDataError: The path does not exist; holds no `model_settings.json` (itself or in
            its `Format-Serving` directory, as a Trainer's model artifact has it); or the model
            there is incomplete: no `saved_model.pb`, no Keras weights, settings that are not a
            lightrank model's, or a SavedModel that does not load. Each message names the path.
    """
    import json

    from lightrank.models.export import KERAS_WEIGHTS_DIR, SETTINGS_FILE

    path = config.model.warm_start_from
    if not path or is_remote(path):
        return
    if not os.path.isdir(path):
        raise InputDataError(f"model.warm_start_from: {path} is not a directory")
    found = [
        d
        for d in (path, os.path.join(path, "Format-Serving"))
        if os.path.isfile(os.path.join(d, SETTINGS_FILE))
    ]
    if not found:
        raise InputDataError(
            f"model.warm_start_from: {path} is not a model exported by lightrank (no {SETTINGS_FILE} "
            "in it or in its Format-Serving directory); give a pushed version or a Trainer's model"
        )
    model_dir = found[0]
    incomplete = f"model.warm_start_from: {model_dir} is an incomplete model"
    if not os.path.isfile(os.path.join(model_dir, "saved_model.pb")):
        raise InputDataError(
            f"{incomplete}: no saved_model.pb (a push that was killed or failed half-way?); "
            "give a complete pushed version or a Trainer's model"
        )
    if not os.path.isfile(os.path.join(model_dir, KERAS_WEIGHTS_DIR, "weights.index")):
        raise InputDataError(
            f"{incomplete}: no Keras weights ({KERAS_WEIGHTS_DIR}/weights.index) to start from"
        )
    try:
        with open(os.path.join(model_dir, SETTINGS_FILE)) as f:
            settings = json.load(f)
    except (OSError, ValueError) as error:
        raise InputDataError(f"{incomplete}: {SETTINGS_FILE} does not read as JSON: {error}") from error
    if not isinstance(settings, dict) or "kind" not in settings:
        raise InputDataError(f"{incomplete}: its {SETTINGS_FILE} names no model kind")
    import tensorflow as tf

    try:
        tf.saved_model.load(model_dir)
    except Exception as error:  # whatever the loader raises, the model cannot be started from
        raise InputDataError(
            f"{incomplete}: the SavedModel does not load: {type(error).__name__}: {error}"
        ) from error
