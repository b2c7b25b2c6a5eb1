"""Paths of candidate data: local or remote, a directory or a glob, gzipped or not.

One home for the rules every reader of the data follows, so the preflight, the pipeline's
ExampleGen input, `lightrank eval` and the prediction writer agree on what a data path means:
a directory stands for every file in it, a path whose last part has a glob character is a
pattern, and the TFRecord codec is chosen from the `.gz` extension, as Beam chooses it.
"""

from __future__ import annotations

import datetime
import os

from lightrank.models.paths import is_remote

#: The characters that make the last part of a path a glob pattern.
GLOB_CHARACTERS = "*?["


def is_glob(path: str) -> bool:
    """True when the last part of `path` is a pattern (`data/*.gz`), not a directory."""
    return any(ch in os.path.basename(path) for ch in GLOB_CHARACTERS)


def isdir(path: str) -> bool:
    """`os.path.isdir`, also for remote paths (through TensorFlow's file system)."""
    if is_remote(path):
        import tensorflow as tf

        return tf.io.gfile.isdir(path)
    return os.path.isdir(path)


def split_pattern(data_path: str) -> tuple[str, str]:
    """A data path as (directory, file pattern): a glob is split at its last part, a directory gets `*`."""
    if is_glob(data_path):
        return os.path.dirname(data_path), os.path.basename(data_path)
    return data_path.rstrip("/"), "*"


def compression(path: str) -> str:
    """The TFRecord codec of a file, as Beam (so ImportExampleGen and TFMA) picks it: from `.gz`."""
    return "GZIP" if path.endswith(".gz") else ""


def utc_from_millis(milliseconds: int) -> datetime.datetime:
    """An ML Metadata timestamp (milliseconds since the epoch) as an aware UTC datetime."""
    return datetime.datetime.fromtimestamp(milliseconds / 1000.0, tz=datetime.timezone.utc)
