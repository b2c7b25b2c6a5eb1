"""Bad data and bad settings stop `lightrank` with exit 2 and one short line naming the culprit.

Each fault sits past the first records (the old preflight parsed only eight per file) and
outside the sample the preflight parses whole, so it is found by the check of every record;
each test checks that nothing was written where the run would write.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import tensorflow as tf
from e2e_support import tiny_overrides

from lightrank.cli import main

pytestmark = pytest.mark.faults

#: The CLI's error line is one line; with file path and feature it stays well under this.
SHORT = 400
#: Index of the doctored record: far past the eight the old preflight parsed, and not one of the
#: records the preflight samples (every 4th from 768 on, in a file of about 2,500 records).
BAD_RECORD = 1001


def _doctor(tiny_data: str, out: Path, change: Callable[[int, tf.train.Example], bytes | None]) -> Path:
    """A copy of the first tiny file with `change` applied to each record (its index, the Example)."""
    out.mkdir()
    source = sorted(glob.glob(os.path.join(tiny_data, "*")))[0]
    with tf.io.TFRecordWriter(str(out / "part-0.tfrecord.gz"), options="GZIP") as writer:
        for index, record in enumerate(tf.data.TFRecordDataset(source, compression_type="GZIP")):
            example = tf.train.Example.FromString(record.numpy())
            changed = change(index, example)
            writer.write(changed if changed is not None else example.SerializeToString())
    return out


def _run(workdir: Path, data: Path | str, capfd: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    overrides = [*tiny_overrides(workdir, str(data)), *extra]
    code = main(
        ["run", "--log-file", str(workdir / "run.log"), *[a for v in overrides for a in ("--set", v)]]
    )
    return code, capfd.readouterr().err


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("lightrank: error:")]
    assert len(lines) == 1, err[-2000:]
    return lines[0]


def _set(feature: tf.train.Feature, kind: str, value: object) -> None:
    feature.Clear()
    getattr(feature, kind).value.append(value)


def _not_an_example(index: int, example: tf.train.Example) -> bytes | None:
    return b"\xff\xfe not a tf.Example" if index == BAD_RECORD else None


def _type_changes(index: int, example: tf.train.Example) -> None:
    if index == BAD_RECORD:
        _set(example.features.feature["user.num_followings"], "int64_list", 12)


def _unknown_type_changes(index: int, example: tf.train.Example) -> None:
    """A feature the schema does not name, int64 in every record but one (StatisticsGen fails on it)."""
    _set(example.features.feature["extra.flag"], "float_list" if index == BAD_RECORD else "int64_list", 1)


def _key_missing(index: int, example: tf.train.Example) -> None:
    if index == BAD_RECORD:
        del example.features.feature["meta.trace_id"]


def _key_float(index: int, example: tf.train.Example) -> None:
    if index == BAD_RECORD:
        _set(example.features.feature["meta.trace_id"], "float_list", 7.0)


def _nan_weight(index: int, example: tf.train.Example) -> None:
    if index == BAD_RECORD:
        _set(example.features.feature["meta.weight"], "float_list", float("nan"))


def _nan_labels(index: int, example: tf.train.Example) -> None:
    _set(example.features.feature["meta.ranking.weighted_oonc_model_score"], "float_list", float("nan"))


def _huge_continuous(index: int, example: tf.train.Example) -> None:
    if index % 100 == 1:  # 1% of rows
        _set(example.features.feature["user.num_followings"], "float_list", 1e38)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (_not_an_example, rf"record {BAD_RECORD} is not a serialized tf.train.Example"),
        (
            _type_changes,
            rf"record {BAD_RECORD}: feature 'user.num_followings' is a int64_list, but the schema",
        ),
        (
            _unknown_type_changes,
            rf"record {BAD_RECORD}: feature 'extra.flag' is a float_list, but earlier records have "
            "int64_list",
        ),
        (_key_missing, rf"record {BAD_RECORD} has no request key 'meta.trace_id'"),
        (_key_float, rf"record {BAD_RECORD}: request key 'meta.trace_id' is a float_list"),
        (_nan_weight, rf"record {BAD_RECORD}: 'meta.weight' is nan"),
        (_nan_labels, r"record 0: 'meta.ranking.weighted_oonc_model_score' is nan"),
        (_huge_continuous, r"record 1: continuous feature 'user.num_followings' is 1e\+38"),
    ],
    ids=[
        "not-an-example",
        "type-change",
        "unknown-type-change",
        "key-missing",
        "key-float",
        "nan-weight",
        "nan-labels",
        "1e38",
    ],
)
def test_a_bad_record_past_the_head_is_named_before_anything_runs(tmp_path, tiny_data, capfd, change, named):
    import re

    data = _doctor(tiny_data, tmp_path / "data", change)
    code, err = _run(tmp_path, data, capfd)
    line = _error_line(err)
    assert code == 2 and "Traceback" not in err
    assert re.search(r"part-0\.tfrecord\.gz: " + named, line), line
    assert len(line) < SHORT
    assert not (tmp_path / "root").exists() and not (tmp_path / "serving").exists()


@pytest.mark.parametrize(
    "change",
    [_not_an_example, _type_changes, _unknown_type_changes, _key_missing, _key_float, _nan_weight],
    ids=lambda f: f.__name__,
)
def test_the_sample_alone_misses_the_bad_record_that_the_check_of_every_record_names(
    tmp_path, tiny_data, monkeypatch, change
):
    from lightrank.pipeline import record_scan
    from lightrank.pipeline.config import SAMPLE_CONFIG, load_config

    data = _doctor(tiny_data, tmp_path / "data", change)
    (path,) = glob.glob(str(data / "*"))
    expect = record_scan.expectations(load_config(SAMPLE_CONFIG))
    with pytest.raises(record_scan.InputDataError, match=rf"record {BAD_RECORD}\b"):
        record_scan.scan_file(path, expect)
    with monkeypatch.context() as patch:  # the whole-record sample only, as before every record was checked
        patch.setattr(record_scan, "_first_row_at_fault", lambda batch, expect, kinds: (None, None))
        checked = record_scan.scan_file(path, expect)
    assert checked.records > BAD_RECORD > checked.parsed


def test_a_huge_string_value_is_cut_in_the_error(tmp_path, tiny_data, capfd):
    """A 10 MB feature name (a string the data carries) reaches the error cut, and the log stays small.

    The feature changes type between two sampled records (1000 and 1004), so the error quotes it.
    """
    huge = "HEAD" + "x" * 10_000_000 + "TAIL"

    def huge_feature(index: int, example: tf.train.Example) -> None:
        if index == 1000:
            _set(example.features.feature[huge], "bytes_list", b"v")
        elif index == 1004:
            _set(example.features.feature[huge], "int64_list", 1)

    code, err = _run(tmp_path, _doctor(tiny_data, tmp_path / "data", huge_feature), capfd)
    line = _error_line(err)
    assert code == 2 and len(line) < SHORT and len(err) < 10_000
    assert "record 1004: feature 'HEAD" in line and f"[{len(huge)} chars, cut]" in line
    assert "TAIL' is a int64_list, but earlier records have bytes_list" in line
    assert os.path.getsize(tmp_path / "run.log") < 100_000


def test_the_preflight_says_how_much_it_read(tmp_path, tiny_data, capfd):
    from lightrank.pipeline.config import SAMPLE_CONFIG, load_config
    from lightrank.pipeline.preflight import check_inputs
    from lightrank.pipeline.record_scan import expectations

    config = load_config(SAMPLE_CONFIG, tiny_overrides(tmp_path, tiny_data))
    total = check_inputs(config)
    out = capfd.readouterr().out
    assert f"preflight: checked {total} records of 2 files, parsed " in out
    assert f"; every record's {len(expectations(config).kinds)} schema features checked" in out
    assert not (tmp_path / "root").exists()


@pytest.mark.parametrize(("key", "leaf"), [("root", "root"), ("metadata.sqlite", "store/metadata.db")])
def test_a_read_only_root_or_store_directory_is_named_before_any_component_runs(
    tmp_path, tiny_data, capfd, key, leaf
):
    if os.geteuid() == 0:  # root writes through file modes: use a file system that refuses it
        target = f"/sys/lightrank-faults-{leaf}"
    else:
        (tmp_path / "ro").mkdir(mode=0o555)
        target = str(tmp_path / "ro" / leaf)
    code, err = _run(tmp_path, tiny_data, capfd, f"{key}={target}")
    line = _error_line(err)
    assert code == 2 and "Traceback" not in err and len(line) < SHORT
    named = target if key == "root" else os.path.dirname(target)  # the store's directory
    assert f"{key} {named} is not writable" in line, line
    assert not os.path.exists(target) and not (tmp_path / "root").exists()
    assert not (tmp_path / "metadata.db").exists()


def test_a_pipeline_name_with_an_underscore_is_one_line_at_compile(tmp_path, capfd):
    out = tmp_path / "p.json"
    code = main(["compile", "--target", "vertex", "--set", "name=my_pipeline", "--out", str(out)])
    err = capfd.readouterr().err
    line = _error_line(err)
    assert code == 2 and "Traceback" not in err and len(line) < SHORT
    assert "'my_pipeline' is not a valid Vertex AI pipeline name" in line
    assert not out.exists()


def test_a_compile_with_local_paths_warns_once(tmp_path, capfd):
    code = main(["compile", "--target", "vertex", "--out", str(tmp_path / "p.json")])
    warnings = [
        line for line in capfd.readouterr().err.splitlines() if line.startswith("lightrank: warning:")
    ]
    assert code == 0 and len(warnings) == 1 and "lightrank run-spec" in warnings[0]


def test_two_requests_make_data_the_preflight_accepts(tmp_path, capfd):
    from lightrank.pipeline.config import SAMPLE_CONFIG, load_config
    from lightrank.pipeline.preflight import check_inputs

    out = tmp_path / "two"
    assert main(["data", "generate", "--out", str(out), "--requests", "2"]) == 0
    assert "Writing 2 files, not 4" in capfd.readouterr().out
    assert len(os.listdir(out)) == 2
    assert check_inputs(load_config(SAMPLE_CONFIG, tiny_overrides(tmp_path, str(out)))) > 0


def test_eval_on_data_without_the_label_names_label_and_file(tmp_path, tiny_data, capfd):
    from lightrank.models.features import load_schema, resolve_files
    from lightrank.pipeline.config import SAMPLE_CONFIG, load_config
    from lightrank.pipeline.eval.evaluate import EvalInputError
    from lightrank.pipeline.eval.predictions import CandidateColumns, scan_candidates

    def unlabelled(index: int, example: tf.train.Example) -> None:
        if index >= BAD_RECORD:
            del example.features.feature["label.sent"]

    data = _doctor(tiny_data, tmp_path / "data", unlabelled)
    config = load_config(SAMPLE_CONFIG)
    features = resolve_files(config.schema.path, config.schema.feature_spec)
    columns = CandidateColumns.from_features(features, load_schema(config.schema.path))
    files = sorted(glob.glob(str(data / "*")))
    with pytest.raises(EvalInputError) as raised:
        scan_candidates(files, columns, label="label.sent")
    message = str(raised.value)
    assert f"part-0.tfrecord.gz: record {BAD_RECORD} has no value of the label 'label.sent'" in message
    assert len(message) < SHORT


def _another_programs_database(path: Path) -> None:
    import sqlite3

    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.execute("INSERT INTO notes VALUES ('mine')")
    connection.commit()
    connection.close()


@pytest.mark.parametrize("kind", ["garbage", "another-programs-sqlite"])
def test_a_corrupt_or_foreign_metadata_store_is_named_and_left_as_it_is(tmp_path, tiny_data, capfd, kind):
    store = tmp_path / "metadata.db"
    if kind == "garbage":
        store.write_bytes(b"this is not an sqlite database " * 100)
    else:  # ML Metadata would add its tables to it and run
        _another_programs_database(store)
    before = store.read_bytes()
    code, err = _run(tmp_path, tiny_data, capfd)
    line = _error_line(err)
    assert code == 2 and "Traceback" not in err and len(line) < SHORT
    assert f"{store} is not an ML Metadata store" in line and "nothing was run" in line
    assert store.read_bytes() == before  # not "repaired", not truncated, no tables added
    assert not (tmp_path / "root").exists()
