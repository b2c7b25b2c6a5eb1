"""Input checks that run before a local pipeline starts.

A Beam job that meets an empty directory or a corrupt file fails minutes in,
with a stack trace that rarely names the file. These checks fail in seconds with
one sentence naming the path, and nothing is written to the pipeline root or
ML Metadata.
"""

from __future__ import annotations

import glob
import os
from typing import TYPE_CHECKING

from lightrank.errors import UserError
from lightrank.pipeline.io import compression, is_glob, split_pattern

if TYPE_CHECKING:
    from lightrank.pipeline.config import PipelineConfig

#: How many records of each file are parsed as tf.Example (all are CRC-checked).
PARSED_RECORDS_PER_FILE = 8
#: Records read per step when counting (and CRC-checking) the rest of a file.
COUNTED_RECORDS_PER_BATCH = 4096


class InputDataError(UserError):
    """The configured input data cannot be read as gzipped TFRecords of tf.Example."""


def data_files(data_path: str) -> list[str]:
    """The files a data path (directory or glob) stands for, sorted."""
    if os.path.isfile(data_path):
        raise InputDataError(
            f"data path {data_path} is a file; give its directory or a glob (ImportExampleGen reads "
            "every file of a directory, or those a pattern matches)"
        )
    pattern = os.path.join(*split_pattern(data_path))
    return sorted(path for path in glob.glob(pattern) if os.path.isfile(path))


def _check_request_key(path: str, index: int, example: object, request_key: str) -> None:
    """ExampleGen splits on the request key: it must be there, as one int64 or bytes value.

    Beam's own error for a float key ("Only `bytes_list` and `int64_list` features are
    supported for partition") names neither the feature nor the file.
    """
    feature = example.features.feature.get(request_key)  # type: ignore[attr-defined]
    kind = feature.WhichOneof("kind") if feature is not None else None
    if kind is None:
        raise InputDataError(f"{path}: record {index} has no request key {request_key!r}")
    if kind not in ("int64_list", "bytes_list"):
        raise InputDataError(
            f"{path}: record {index}: request key {request_key!r} is a {kind}; "
            "it must be int64 or bytes (requests are split into train and eval by it)"
        )
    if len(getattr(feature, kind).value) != 1:
        raise InputDataError(
            f"{path}: record {index}: request key {request_key!r} must hold exactly one value, "
            f"got {len(getattr(feature, kind).value)}"
        )


def check_file(path: str, request_key: str | None = None) -> int:
    """Reads a whole TFRecord file, checking CRCs and that records are tf.Examples.

    Args:
        path: The file.
        request_key: If given, the first records must carry it as one int64 or bytes value.

    Returns:
        The number of records.

    Raises:
        InputDataError: Naming the file and what is wrong with it.
    """
    import tensorflow as tf  # keeps this module importable without TensorFlow

    records = tf.data.TFRecordDataset(path, compression_type=compression(path))
    count = parsed = 0
    try:
        for record in records.take(PARSED_RECORDS_PER_FILE).as_numpy_iterator():
            example = tf.train.Example.FromString(record)
            if request_key is not None:
                _check_request_key(path, parsed, example, request_key)
            parsed += 1
        # Every record is read (the reader checks each CRC), in batches: one Python step per
        # record took 96.3 s on 993,833 candidates, batches take 4.7 s (9.2 -> 0.8 s on the sample).
        for batch in records.batch(COUNTED_RECORDS_PER_BATCH).as_numpy_iterator():
            count += len(batch)
    except InputDataError:
        raise
    except tf.errors.OpError as error:
        raise InputDataError(
            f"{path} is not a readable {'gzipped ' if compression(path) else ''}TFRecord file "
            f"(failed after at least {count} records: {error.message.splitlines()[0]})"
        ) from error
    except Exception as error:  # a protobuf DecodeError: TFRecord framing fine, payload not an Example
        raise InputDataError(
            f"{path}: record {parsed} is not a serialized tf.train.Example ({error})"
        ) from error
    if compression(path):
        _check_gzip_end(path, count)
    return count


def _check_gzip_end(path: str, count: int) -> None:
    """TensorFlow's GZIP reader can take a cut-off file for a complete, shorter one.

    Measured here: a file of 200 records without its last 16 bytes reads as 199 records and
    no error; of 30 files cut in half, 8 read to a clean end after 92 or 93 records. A file
    that silently lost candidates must not pass. Python's gzip checks the end-of-stream
    marker and the CRC.
    """
    import gzip
    import zlib

    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(1 << 20):
                pass
    except (EOFError, OSError, zlib.error) as error:
        raise InputDataError(
            f"{path} is not a readable gzipped TFRecord file (its gzip stream is cut short or "
            f"damaged after {count} readable records: {error})"
        ) from error


def check_inputs(config: PipelineConfig, request_key: str | None = None) -> int:
    """Checks a local data path before a run; remote paths are left to the runner.

    Args:
        config: The pipeline config (data path; schema and feature spec).
        request_key: The request key the first records must carry; resolved from the
            config's feature spec when not given.

    Returns:
        The number of candidates found (0 for remote paths, not counted).

    Raises:
        InputDataError: The path is missing, matches no file, a file is empty,
            corrupt, does not hold tf.Examples, or its first records lack a
            usable request key.
    """
    path = config.data.path
    if "://" in path:
        return 0
    base = os.path.dirname(path) if is_glob(path) else path
    if not os.path.exists(base):
        raise InputDataError(
            f"data path {path} does not exist (generate sample data with `lightrank data generate`)"
        )
    files = data_files(path)
    if not files:
        raise InputDataError(f"data path {path} matches no file")
    if request_key is None:
        from lightrank.models.features import resolve_files

        request_key = resolve_files(config.schema.path, config.schema.feature_spec).request_key
    total = 0
    for file in files:
        if os.path.getsize(file) == 0:
            raise InputDataError(f"{file} is empty")
        records = check_file(file, request_key)
        if records == 0:
            raise InputDataError(f"{file} holds no records")
        total += records
    return total


def check_base_model(config: PipelineConfig) -> None:
    """A local `model.warm_start_from` must be an exported model, found before anything runs.

    The Trainer would otherwise warn and train from scratch after Transform, minutes in, and
    the run would look like a warm start in its config. Remote (`gs://`) paths are left to the
    runner.

    Raises:
        InputDataError: The path does not exist or holds no `model_settings.json` (itself or
            in its `Format-Serving` directory, as a Trainer's model artifact has it).
    """
    from lightrank.models.export import SETTINGS_FILE

    path = config.model.warm_start_from
    if not path or "://" in path:
        return
    if not os.path.isdir(path):
        raise InputDataError(f"model.warm_start_from: {path} is not a directory")
    if not any(
        os.path.isfile(os.path.join(d, SETTINGS_FILE)) for d in (path, os.path.join(path, "Format-Serving"))
    ):
        raise InputDataError(
            f"model.warm_start_from: {path} is not a model exported by lightrank (no {SETTINGS_FILE} "
            "in it or in its Format-Serving directory); give a pushed version or a Trainer's model"
        )
