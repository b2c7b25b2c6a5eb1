"""Where `lightrank eval` writes: the output directory, its log, and files that appear whole.

The output directory is planned and checked before anything runs (`EvalOutputs.plan`); the
log is written straight to `<out>/eval.log`, so the path printed at the start is the one
that holds the log at the end. The results appear only once everything succeeded: TFMA
writes into a hidden staging directory inside `<out>` whose entries are renamed into place at
the end (`publish`), and the JSON is renamed into place. After a user error `discard` removes
the log and every directory the plan found missing, so nothing is left that was not there
before; after an unexpected failure the log stays for the error line to point at.

This module imports nothing heavy: the CLI imports it to build its parser.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import tempfile
from collections.abc import Mapping
from typing import Any

from lightrank.errors import UserError

#: The JSON's file name inside `--out` when `--json` is not given.
DEFAULT_JSON_NAME = "metrics.json"
#: The log's file name inside `--out`.
LOG_NAME = "eval.log"


class EvalInputError(UserError):
    """An input of `lightrank eval` (model, data, output path) that cannot be used as given."""


def _first_missing(path: str) -> str | None:
    """The topmost directory on the way to `path` that does not exist yet (None if `path` exists)."""
    missing = None
    while not os.path.exists(path):
        missing, path = path, os.path.dirname(path)
    return missing


@dataclasses.dataclass(frozen=True)
class EvalOutputs:
    """Where the results go; checked before anything runs.

    Attributes:
        out_dir: TFMA's output, the log and (by default) the JSON.
        json_path: Every scalar metric by slice.
        predictions_path: One row per candidate, if asked for.
        created_from: The topmost directory of `out_dir`'s path that did not exist when
            planned (`out_dir` itself or a parent); None if `out_dir` existed (empty).
    """

    out_dir: str
    json_path: str
    predictions_path: str | None = None
    created_from: str | None = None

    @classmethod
    def plan(cls, out: str | None, json_path: str | None, predictions: str | None, model: str) -> EvalOutputs:
        """Absolute output paths; `out` defaults to `eval/<model name>-<time>` in the current dir.

        The JSON goes to `json_path`, or to `<out>/metrics.json` when it is None.

        Raises:
            EvalInputError: `--out` exists and is not an empty directory, or the directory of
                `--json` / `--predictions` does not exist (and is not `--out` itself).
        """
        if out is None:
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            out = os.path.join("eval", f"{os.path.basename(os.path.normpath(model))}-{stamp}")
        out = os.path.abspath(out)
        if os.path.exists(out) and not (os.path.isdir(out) and not os.listdir(out)):
            raise EvalInputError(f"--out {out} already exists; choose a new directory")
        for flag, path in (("--json", json_path), ("--predictions", predictions)):
            directory = os.path.dirname(os.path.abspath(path)) if path else ""
            if path is not None and directory != out and not os.path.isdir(directory):
                raise EvalInputError(f"{flag} {path}: directory {directory} does not exist")
        return cls(
            out_dir=out,
            json_path=os.path.abspath(json_path) if json_path else os.path.join(out, DEFAULT_JSON_NAME),
            predictions_path=os.path.abspath(predictions) if predictions else None,
            created_from=_first_missing(out),
        )

    @property
    def log_path(self) -> str:
        """`<out>/eval.log`: where the log is written from the start."""
        return os.path.join(self.out_dir, LOG_NAME)

    def staged(self, path: str, staging: str) -> str:
        """Where to write `path` before the staging directory's entries move into `out_dir`."""
        if os.path.dirname(path) == self.out_dir:
            return os.path.join(staging, os.path.basename(path))
        return path

    def staging_dir(self) -> str:
        """A new hidden directory inside `out_dir` (created if needed), renamed from at the end."""
        os.makedirs(self.out_dir, exist_ok=True)
        return tempfile.mkdtemp(prefix=".staging-", dir=self.out_dir)

    def publish(self, staging: str) -> None:
        """Moves every entry of `staging` into `out_dir` (renames: same file system) and removes it."""
        for name in sorted(os.listdir(staging)):
            os.replace(os.path.join(staging, name), os.path.join(self.out_dir, name))
        os.rmdir(staging)

    def discard(self) -> None:
        """Removes the log and the directories the plan found missing, if nothing else is in them.

        What existed before (an empty `--out`, its parents) stays; a directory something
        else wrote into meanwhile stays too.
        """
        if os.path.isfile(self.log_path):
            os.remove(self.log_path)
        if self.created_from is None:
            return
        path = self.out_dir
        while True:
            try:
                os.rmdir(path)
            except OSError:  # not empty (or already gone): keep it and its parents
                return
            if path == self.created_from:
                return
            path = os.path.dirname(path)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {key: _json_safe(item) for key, item in value.items()}
    return value


def write_json(path: str, content: Mapping[str, Any]) -> None:
    """Writes strict JSON (NaN as null) under a temporary name, then renames it into place."""
    handle, temporary = tempfile.mkstemp(prefix=".metrics-", suffix=".json.tmp", dir=os.path.dirname(path))
    try:
        with os.fdopen(handle, "w") as f:
            json.dump(_json_safe(content), f, indent=1, sort_keys=True, allow_nan=False)
        os.replace(temporary, path)
    except BaseException:
        os.remove(temporary)
        raise
