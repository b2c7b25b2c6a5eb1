"""SpanExampleGen through TFX's LocalDagRunner: the spans it reads, its splits, what MLMD records.

Each test lays out tiny daily folders of tf.Examples, builds the pipeline's own ExampleGen
(`build_example_gen`) from a `data` section, runs it alone and reads the Examples artifact
back from ML Metadata and its files.
"""

from __future__ import annotations

import glob
import json
import os

import pytest
import tensorflow as tf
from ml_metadata.metadata_store import metadata_store
from tfx import v1 as tfx
from tfx.orchestration import metadata

from lightrank.components.span_example_gen import SPANS_PROPERTY
from lightrank.models.features import ResolvedFeatures
from lightrank.pipeline.config import SAMPLE_CONFIG, from_dict, load_config
from lightrank.pipeline.pipeline import build_example_gen
from lightrank.pipeline.runner_settings import LOCAL

REQUESTS_PER_DAY = 12


def _write_day(root: str, day: int, version: int | None = None) -> None:
    """`REQUESTS_PER_DAY` requests of 3 candidates; the `day` feature says which day wrote it."""
    folder = os.path.join(root, f"day={day}") + ("" if version is None else f"/v{version}")
    os.makedirs(folder)
    with tf.io.TFRecordWriter(os.path.join(folder, "part-0.gz"), options="GZIP") as writer:
        for request in range(REQUESTS_PER_DAY):
            for _ in range(3):
                example = tf.train.Example()
                example.features.feature["rk"].int64_list.value.append(day * 1000 + request)
                example.features.feature["day"].int64_list.value.append(day * 10 + (version or 0))
                writer.write(example.SerializeToString())


def _features() -> ResolvedFeatures:
    return ResolvedFeatures(
        continuous=(), sparse=("day",), int_sparse=("day",), request_key="rk", example_weight="w",
        heavy_score="h", labels={"t": "l"}, missing_value=-1.0,
    )  # fmt: skip


def _run(tmp_path, data: dict):
    """Runs the sample config's ExampleGen with this `data` section; returns (artifact, days by split)."""
    values = load_config(SAMPLE_CONFIG, [f"root={tmp_path}/root"]).model_dump(mode="json")
    config = from_dict({**values, "data": data})
    component = build_example_gen(config, _features(), LOCAL)
    connection = metadata.sqlite_metadata_connection_config(str(tmp_path / "m.db"))
    pipeline = tfx.dsl.Pipeline(
        pipeline_name="spans", pipeline_root=str(tmp_path / "root"), components=[component],
        metadata_connection_config=connection,
        beam_pipeline_args=["--direct_running_mode=in_memory", "--direct_num_workers=1"],
    )  # fmt: skip
    tfx.orchestration.LocalDagRunner().run(pipeline)
    [artifact] = metadata_store.MetadataStore(connection).get_artifacts_by_type("Examples")
    days = {}
    for folder in sorted(glob.glob(os.path.join(artifact.uri, "Split-*"))):
        files = glob.glob(os.path.join(folder, "*"))
        records = tf.data.TFRecordDataset(files, compression_type="GZIP")
        values = {
            tf.train.Example.FromString(r.numpy()).features.feature["day"].int64_list.value[0]
            for r in records
        }
        days[os.path.basename(folder)[len("Split-") :]] = sorted(values)
    return artifact, days


def test_a_rolling_window_trains_and_the_newest_day_evaluates(tmp_path):
    for day in (1, 2, 3, 4):
        _write_day(str(tmp_path / "days"), day)
    artifact, days = _run(
        tmp_path, {"path": f"{tmp_path}/days/day={{SPAN}}/*.gz", "spans": {"latest": 3, "eval": "newest"}}
    )
    assert days == {"train": [20, 30], "eval": [40]}  # day 1 is outside the window
    assert artifact.properties["span"].int_value == 4
    assert json.loads(artifact.custom_properties[SPANS_PROPERTY].string_value) == {
        "train": [2, 3],
        "eval": [4],
    }


def test_hashed_spans_split_requests_and_the_highest_version_wins(tmp_path):
    _write_day(str(tmp_path / "days"), 1, version=1)
    _write_day(str(tmp_path / "days"), 1, version=2)
    _write_day(str(tmp_path / "days"), 2, version=1)
    artifact, days = _run(
        tmp_path, {"path": f"{tmp_path}/days/day={{SPAN}}/v{{VERSION}}/*.gz", "spans": {"start": 1, "end": 2}}
    )
    assert set(days) == {"train", "eval"}
    assert sorted(set(days["train"]) | set(days["eval"])) == [12, 21]  # v1 of day 1 is never read
    assert json.loads(artifact.custom_properties[SPANS_PROPERTY].string_value) == {"single_split": [1, 2]}
    assert (artifact.properties["span"].int_value, artifact.properties["version"].int_value) == (2, 1)


def test_named_splits_read_their_own_folders_with_the_same_spans(tmp_path):
    for day in (1, 2):
        _write_day(str(tmp_path / "train"), day)
        _write_day(str(tmp_path / "eval"), day + 10)
    artifact, days = _run(
        tmp_path,
        {"splits": {"train": f"{tmp_path}/train/day={{SPAN}}/*.gz",
                    "eval": f"{tmp_path}/eval/day={{SPAN}}/*.gz"},
         "spans": {"latest": 1}},
    )  # fmt: skip
    assert days == {"train": [20], "eval": [120]}
    assert json.loads(artifact.custom_properties[SPANS_PROPERTY].string_value) == {"train": [2], "eval": [12]}


def test_a_window_with_a_missing_day_fails_naming_it(tmp_path):
    for day in (1, 3):
        _write_day(str(tmp_path / "days"), day)
    with pytest.raises(Exception, match=r"span\(s\) 2 of .*day=\{SPAN\}/\*.gz have no files"):
        _run(tmp_path, {"path": f"{tmp_path}/days/day={{SPAN}}/*.gz", "spans": {"start": 1, "end": 3}})
