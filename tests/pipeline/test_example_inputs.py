"""The `data` section: its validation, what ExampleGen is given for it, and the preflight of its files."""

from __future__ import annotations

import datetime
import io
import os

import pytest
import tensorflow as tf

from lightrank.components.spans import SpanError
from lightrank.errors import ConfigError
from lightrank.pipeline.config import SAMPLE_CONFIG, from_dict, load_config
from lightrank.pipeline.example_inputs import SINGLE_SPLIT, plan_inputs, split_files
from lightrank.pipeline.preflight import check_inputs
from lightrank.pipeline.record_scan import InputDataError


def _config(data: dict, **top):
    values = load_config(SAMPLE_CONFIG).model_dump(mode="json")
    return from_dict({**values, **top, "data": data}, source="own.yaml")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"splits": {"train": "a/*"}}, "data.splits needs 'train' and 'eval'; missing: eval"),
        ({"path": "a", "splits": {"train": "a", "eval": "b"}}, "exactly one of 'path'"),
        ({"splits": {"train": "a", "eval": "b"}, "eval_buckets": 2}, "data.eval_buckets hashes data.path"),
        ({"splits": {"train": "a", "eval": "b", "Test": "c"}}, "split name 'Test'"),
        ({"path": "a/*.gz", "spans": {"latest": 2}}, "no data pattern has {SPAN}"),
        ({"path": "a/{SPAN}/*", "spans": {"latest": 2, "start": 1}}, "either 'latest: N' or both"),
        ({"path": "a/{SPAN}/*", "spans": {"start": 5, "end": 1}}, "start 5 is after end 1"),
        ({"path": "a/{SPAN}/*", "spans": {"latest": 1, "eval": "newest"}}, "needs two spans or more"),
        ({"splits": {"train": "a/{SPAN}/*", "eval": "b/{SPAN}/*"}, "spans": {"latest": 3, "eval": "newest"}},
         "newest needs data.path"),
        ({"splits": {"train": "a/{SPAN}/*", "eval": "b/*"}}, "either every split's glob names its span"),
        ({"path": "a/{YYYY}{MM}/*"}, "a date span needs all of"),
    ],
)  # fmt: skip
def test_a_bad_data_section_is_one_line_naming_the_key_and_file(data, needle):
    with pytest.raises(ConfigError, match=r"own\.yaml") as error:
        _config(data)
    assert needle in str(error.value)


def test_named_splits_are_read_as_they_are_from_their_common_folder():
    config = _config(
        {
            "splits": {
                "eval": "/d/catalog/eval/*.gz",
                "test": "/d/catalog/test",
                "train": "/d/catalog/train/*.gz",
            }
        }
    )
    inputs = plan_inputs(config.data)
    assert inputs.input_base == "/d/catalog" and not inputs.hashed and inputs.span_settings is None
    # train and eval first (ExampleGen writes the splits in this order), a directory stands for its files
    assert inputs.patterns == {"train": "train/*.gz", "eval": "eval/*.gz", "test": "test/*"}
    assert [s.name for s in inputs.input_config().splits] == ["train", "eval", "test"]
    assert not inputs.output_config("rk", 4, 1).split_config.splits
    assert config.data.split_names == ["train", "eval", "test"]


def test_one_path_is_hashed_on_the_request_key_as_before():
    inputs = plan_inputs(load_config(SAMPLE_CONFIG).data)
    assert inputs.input_base == os.path.abspath("data/sample") and inputs.patterns == {SINGLE_SPLIT: "*"}
    output = inputs.output_config("meta.trace_id", 4, 1).split_config
    assert output.partition_feature_name == "meta.trace_id"
    assert [(s.name, s.hash_buckets) for s in output.splits] == [("train", 4), ("eval", 1)]


def test_span_patterns_reach_the_driver_as_wildcards_and_the_executor_as_they_are():
    spans = {"start": datetime.date(2026, 12, 1), "end": "2026-12-07", "eval": "newest"}
    config = _config({"path": "gs://b/days/dt={YYYY}-{MM}-{DD}/*.gz", "spans": spans})
    inputs = plan_inputs(config.data)
    assert inputs.input_base == "gs://b/days" and not inputs.hashed
    assert [(s.name, s.pattern) for s in inputs.input_config().splits] == [
        ("train", "dt=*-*-*/*.gz"),
        ("eval", "dt=*-*-*/*.gz"),
    ]
    assert inputs.span_settings == {
        "patterns": {"train": "dt={YYYY}-{MM}-{DD}/*.gz", "eval": "dt={YYYY}-{MM}-{DD}/*.gz"},
        "spans": {"start": "2026-12-01", "end": "2026-12-07"},
        "route": "newest_evaluates",
    }
    assert inputs.custom_config().custom_config.type_url.endswith("google.protobuf.Struct")


def test_the_digest_of_a_config_without_the_new_keys_is_unchanged():
    sample = load_config(SAMPLE_CONFIG)
    assert "splits" in sample.model_dump()["data"]
    hashed_again = _config({"path": sample.data.path, "train_buckets": 4, "eval_buckets": 1})
    assert hashed_again.digest() == sample.digest()
    assert _config({"splits": {"train": "a/*", "eval": "b/*"}}).digest() != sample.digest()


def _write(path: str, requests: range) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for request in requests:
            example = tf.train.Example()
            example.features.feature["meta.trace_id"].int64_list.value.append(request + 1)
            writer.write(example.SerializeToString())


def test_the_preflight_reads_every_split_and_refuses_a_shared_file(tmp_path):
    _write(f"{tmp_path}/train/a.gz", range(5))
    _write(f"{tmp_path}/eval/b.gz", range(5, 7))
    splits = {"train": f"{tmp_path}/train/*.gz", "eval": f"{tmp_path}/eval/*.gz"}
    config = _config({"splits": splits}, root=f"{tmp_path}/root")
    assert split_files(config.data) == {
        "train": [f"{tmp_path}/train/a.gz"],
        "eval": [f"{tmp_path}/eval/b.gz"],
    }
    assert check_inputs(config, "meta.trace_id", console=io.StringIO()) == 7
    shared = _config({"splits": {**splits, "eval": f"{tmp_path}/*/*.gz"}}, root=f"{tmp_path}/root")
    with pytest.raises(InputDataError, match=r"train/a.gz is in both the train and the eval split"):
        check_inputs(shared, "meta.trace_id")
    empty = _config({"splits": {**splits, "eval": f"{tmp_path}/eval/*.tfrecord"}}, root=f"{tmp_path}/root")
    with pytest.raises(InputDataError, match=r"data.splits.eval .*eval/\*.tfrecord matches no file"):
        check_inputs(empty, "meta.trace_id")
    missing = _config({"splits": {**splits, "eval": f"{tmp_path}/nowhere/*.gz"}}, root=f"{tmp_path}/root")
    with pytest.raises(InputDataError, match=r"data.splits.eval .*nowhere/\*.gz does not exist"):
        check_inputs(missing, "meta.trace_id")


def test_the_preflight_resolves_spans_as_the_run_will(tmp_path):
    for day in (1, 2, 3):
        _write(f"{tmp_path}/days/{day}/part.gz", range(day * 10, day * 10 + 2))
    pattern = f"{tmp_path}/days/{{SPAN}}/*.gz"
    config = _config({"path": pattern, "spans": {"latest": 2, "eval": "newest"}}, root=f"{tmp_path}/root")
    assert split_files(config.data) == {
        "train": [f"{tmp_path}/days/2/part.gz"],
        "eval": [f"{tmp_path}/days/3/part.gz"],
    }
    assert check_inputs(config, "meta.trace_id", console=io.StringIO()) == 4
    with pytest.raises(SpanError, match=r"latest is 4 but only 3 span\(s\) match"):
        check_inputs(
            _config({"path": pattern, "spans": {"latest": 4}}, root=f"{tmp_path}/root"), "meta.trace_id"
        )
