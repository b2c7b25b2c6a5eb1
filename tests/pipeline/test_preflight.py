"""Input checks before a run: each bad input gets one message naming the culprit."""

from __future__ import annotations

import gzip
import os

import pytest
import tensorflow as tf

from lightrank.pipeline.config import SAMPLE_CONFIG, load_config
from lightrank.pipeline.preflight import check_inputs
from lightrank.pipeline.record_scan import InputDataError, check_file

REQUEST_KEY = "meta.trace_id"  # the sample feature spec's request key


def _example(value: float, request: tf.train.Feature | None = None) -> bytes:
    feature = {"x": tf.train.Feature(float_list=tf.train.FloatList(value=[value]))}
    feature[REQUEST_KEY] = request or tf.train.Feature(int64_list=tf.train.Int64List(value=[7]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _write(path: str, records: list[bytes]) -> None:
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for record in records:
            writer.write(record)


def _config(path: str):
    return load_config(SAMPLE_CONFIG, [f"data.path={path}"])


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


def test_a_file_cut_where_tensorflow_does_not_notice_is_named(tmp_path):
    # One feature per record: the bytes, and so the cut, are the same in every run.
    def record(value: float) -> bytes:
        feature = {"x": tf.train.Feature(float_list=tf.train.FloatList(value=[value]))}
        return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()

    path = str(tmp_path / "part-0.tfrecord.gz")
    _write(path, [record(float(i)) for i in range(200)])
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:-16])
    # TensorFlow alone reads 199 records and no error ...
    assert sum(1 for _ in tf.data.TFRecordDataset(path, compression_type="GZIP")) == 199
    # ... the check does not let the file pass.
    cut_short = r"part-0.tfrecord.gz is not a readable gzipped TFRecord file \(its gzip stream is cut short"
    with pytest.raises(InputDataError, match=cut_short + r" or damaged after 199 readable records"):
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


def test_the_sample_spec_names_the_request_key_these_tests_use():
    from lightrank.models.features import resolve_files

    config = load_config(SAMPLE_CONFIG)
    assert resolve_files(config.schema.path, config.schema.feature_spec).request_key == REQUEST_KEY


@pytest.mark.parametrize(
    ("request_feature", "message"),
    [
        (
            tf.train.Feature(float_list=tf.train.FloatList(value=[7.0])),
            r"b.tfrecord.gz: record 1: request key 'meta.trace_id' is a float_list; "
            r"it must be int64 or bytes",
        ),
        (
            tf.train.Feature(int64_list=tf.train.Int64List(value=[7, 8])),
            r"b.tfrecord.gz: record 1: request key 'meta.trace_id' must hold exactly one value, got 2",
        ),
    ],
)
def test_a_request_key_that_cannot_split_the_data_is_named(tmp_path, request_feature, message):
    _write(str(tmp_path / "a.tfrecord.gz"), [_example(1.0)])
    _write(str(tmp_path / "b.tfrecord.gz"), [_example(2.0), _example(3.0, request_feature)])
    with pytest.raises(InputDataError, match=message):
        check_inputs(_config(str(tmp_path)))


def test_a_missing_request_key_is_named(tmp_path):
    record = tf.train.Example(
        features=tf.train.Features(feature={"x": tf.train.Feature(float_list=tf.train.FloatList(value=[1]))})
    ).SerializeToString()
    _write(str(tmp_path / "a.tfrecord.gz"), [record])
    with pytest.raises(InputDataError, match=r"a.tfrecord.gz: record 0 has no request key 'meta.trace_id'"):
        check_inputs(_config(str(tmp_path)))


def test_a_single_file_path_says_to_give_its_directory(tmp_path):
    path = tmp_path / "a.tfrecord.gz"
    _write(str(path), [_example(1.0)])
    with pytest.raises(InputDataError, match=r"a.tfrecord.gz is a file; give its directory or a glob"):
        check_inputs(_config(str(path)))


def _export(model_dir) -> None:
    """A minimal complete export: a SavedModel, Keras weights and the settings file."""
    tf.saved_model.save(tf.Module(), str(model_dir))
    (model_dir / "keras").mkdir()
    (model_dir / "keras" / "weights.index").write_bytes(b"")
    (model_dir / "model_settings.json").write_text('{"kind": "deepnorm"}')


def test_a_warm_start_model_that_is_not_an_export_is_named(tmp_path):
    from lightrank.pipeline.preflight import check_base_model

    missing = load_config(SAMPLE_CONFIG, [f"model.warm_start_from={tmp_path}/nowhere"])
    with pytest.raises(InputDataError, match=r"model.warm_start_from: .*nowhere is not a directory"):
        check_base_model(missing)
    (tmp_path / "empty").mkdir()
    empty = load_config(SAMPLE_CONFIG, [f"model.warm_start_from={tmp_path}/empty"])
    with pytest.raises(InputDataError, match=r"empty is not a model exported by lightrank"):
        check_base_model(empty)
    (tmp_path / "trainer" / "Format-Serving").mkdir(parents=True)
    _export(tmp_path / "trainer" / "Format-Serving")
    check_base_model(load_config(SAMPLE_CONFIG, [f"model.warm_start_from={tmp_path}/trainer"]))
    check_base_model(load_config(SAMPLE_CONFIG, ["model.warm_start_from=gs://bucket/serving/1"]))


def test_a_half_pushed_version_is_refused_before_any_data_is_read(tmp_path):
    """What a killed push of TFX's own executor left: variables and settings, no saved_model.pb."""
    from lightrank.pipeline.preflight import check_base_model

    version = tmp_path / "serving" / "1700000000"
    version.mkdir(parents=True)
    _export(version)
    check_base_model(load_config(SAMPLE_CONFIG, [f"model.warm_start_from={version}"]))
    (version / "saved_model.pb").unlink()
    half = load_config(SAMPLE_CONFIG, [f"model.warm_start_from={version}"])
    with pytest.raises(InputDataError, match=rf"{version} is an incomplete model: no saved_model.pb"):
        check_base_model(half)


def test_a_warm_start_model_that_does_not_load_is_refused(tmp_path):
    from lightrank.pipeline.preflight import check_base_model

    version = tmp_path / "1700000000"
    version.mkdir()
    _export(version)
    (version / "saved_model.pb").write_bytes(b"truncated")
    config = load_config(SAMPLE_CONFIG, [f"model.warm_start_from={version}"])
    with pytest.raises(
        InputDataError, match=r"1700000000 is an incomplete model: the SavedModel does not load"
    ):
        check_base_model(config)
    (version / "model_settings.json").write_text("[]")
    with pytest.raises(InputDataError, match=r"model_settings.json names no model kind"):
        check_base_model(config)
