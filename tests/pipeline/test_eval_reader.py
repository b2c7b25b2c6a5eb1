"""`lightrank eval`'s reader gives TFMA the record batches TFXIO's Beam source would."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import tensorflow as tf
from tensorflow_model_analysis import constants
from tfx_bsl.tfxio import tf_example_record

from lightrank.pipeline.eval.reader import CandidateBatches


def _example(i: int) -> bytes:
    feature = {
        "meta.trace_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[i // 3])),
        "candidate.source": tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[b"abc"[i % 3 : i % 3 + 1]])
        ),
    }
    if i % 4:  # a feature some candidates lack, others hold twice
        feature["x"] = tf.train.Feature(float_list=tf.train.FloatList(value=[i / 10] * (1 + i % 2)))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _write(path: Path, records: list[bytes]) -> str:
    with tf.io.TFRecordWriter(str(path), options="GZIP" if path.suffix == ".gz" else "") as writer:
        for record in records:
            writer.write(record)
    return str(path)


def _rows(batches: list[pa.RecordBatch]) -> list[tuple]:
    """Every candidate as (raw record, its decoded values), in a fixed order.

    A feature no candidate of a batch holds has no column in that batch; a column holding None
    for a candidate says the same, so None values are left out.
    """
    rows = []
    for batch in batches:
        table = batch.to_pydict()
        for i in range(batch.num_rows):
            raw = table[constants.ARROW_INPUT_COLUMN][i]
            rows.append(
                (
                    raw,
                    tuple(
                        sorted(
                            (k, repr(v[i]))
                            for k, v in table.items()
                            if k != constants.ARROW_INPUT_COLUMN and v[i] is not None
                        )
                    ),
                )
            )
    return sorted(rows)


#: What `_collect`'s pipeline saw (the in-memory runner calls `_keep` in this process).
_SEEN: list[pa.RecordBatch] = []


def _keep(batch: pa.RecordBatch) -> None:
    _SEEN.append(batch)


def _collect(transform: beam.PTransform) -> list[pa.RecordBatch]:
    _SEEN.clear()
    with beam.Pipeline() as pipeline:
        _ = pipeline | transform | beam.Map(_keep)
    return list(_SEEN)


def test_the_reader_decodes_every_candidate_as_tfxio_does(tmp_path):
    plain = _write(tmp_path / "part-0.tfrecord", [_example(i) for i in range(0, 25)])
    gzipped = _write(tmp_path / "part-1.tfrecord.gz", [_example(i) for i in range(25, 60)])
    ours = _collect(CandidateBatches([plain, gzipped], constants.ARROW_INPUT_COLUMN, batch_size=7))
    assert max(batch.num_rows for batch in ours) == 7
    stock = []
    for pattern in (plain, gzipped):
        tfxio = tf_example_record.TFExampleRecord(
            file_pattern=pattern, raw_record_column_name=constants.ARROW_INPUT_COLUMN
        )
        stock += _collect(tfxio.BeamSource())
    assert len(_rows(ours)) == 60
    assert _rows(ours) == _rows(stock)
