"""Input checks before a run: each bad input gets one message naming the culprit."""

from __future__ import annotations

import gzip
import os

import pytest
import tensorflow as tf

from pipeline.cli import DEFAULT_CONFIG
from pipeline.config import load_config
from pipeline.preflight import InputDataError, check_file, check_inputs


def _example(value: float) -> bytes:
    return tf.train.Example(
        features=tf.train.Features(
            feature={"x": tf.train.Feature(float_list=tf.train.FloatList(value=[value]))}
        )
    ).SerializeToString()


def _write(path: str, records: list[bytes]) -> None:
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for record in records:
            writer.write(record)


def _config(path: str):
    return load_config(DEFAULT_CONFIG, [f"data.path={path}"])


def test_good_files_are_counted(tmp_path):
    _write(str(tmp_path / "a.tfrecord.gz"), [_example(1.0), _example(2.0)])
    _write(str(tmp_path / "b.tfrecord.gz"), [_example(3.0)])
    assert check_inputs(_config(str(tmp_path))) == 3
    assert check_inputs(_config(str(tmp_path / "a*.gz"))) == 2


def test_missing_and_empty_paths(tmp_path):
    with pytest.raises(InputDataError, match=r"data path .*nowhere does not exist"):
        check_inputs(_config(str(tmp_path / "nowhere")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputDataError, match="matches no file"):
        check_inputs(_config(str(tmp_path / "empty")))
    (tmp_path / "empty" / "zero.tfrecord.gz").write_bytes(b"")
    with pytest.raises(InputDataError, match=r"zero.tfrecord.gz is empty"):
        check_inputs(_config(str(tmp_path / "empty")))


def test_a_truncated_file_is_named(tmp_path):
    path = str(tmp_path / "part-0.tfrecord.gz")
    _write(path, [_example(float(i)) for i in range(200)])
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(InputDataError, match=r"part-0.tfrecord.gz is not a readable gzipped TFRecord file"):
        check_file(path)


def test_gzip_of_something_else_is_named(tmp_path):
    path = str(tmp_path / "notes.tfrecord.gz")
    with gzip.open(path, "wb") as f:
        f.write(b"hello, this is not a tfrecord" * 10)
    with pytest.raises(InputDataError, match=r"notes.tfrecord.gz"):
        check_file(path)


def test_records_that_are_not_examples_are_named(tmp_path):
    path = str(tmp_path / "junk.tfrecord.gz")
    _write(path, [b"\xff\xfe not a proto"])
    with pytest.raises(
        InputDataError, match=r"junk.tfrecord.gz: record 0 is not a serialized tf.train.Example"
    ):
        check_file(path)


def test_remote_paths_are_left_to_the_runner():
    assert check_inputs(_config("gs://bucket/data")) == 0
    assert not os.path.exists("gs:")
