"""Reading raw candidates for `lightrank eval`: model check, data scan, per-candidate predictions.

Everything here reads the same raw `tf.Example` files TFMA reads, with tf.data:

* `check_serving_model`: the model must honour the contract of `lightrank.models.export` that the
  Evaluator relies on (`serving_default` takes serialized examples as a string `examples`
  input and returns `prediction`). It is checked on the SavedModel proto, in milliseconds,
  so a wrong directory fails before any slow step.
* `scan_candidates`: one pass parsing only the request key and the heavy score. Every
  candidate needs exactly one request key: TFMA 0.47 raises deep inside Beam when some lack
  it and lumps them into one pseudo-request when a whole batch does, so a missing key is
  reported here with its file and record. The pass also counts candidates without a heavy
  score, which the grouped metrics skip, so the report can say how many the data holds.
* `write_predictions`: one row per candidate for offline analysis, the role of the
  original's BigQuery dump, whose `np.savetxt` wrote 64-bit trace ids as float64 and so
  merged distinct requests. Here the request key is an exact int64 (or string)
  column. Batches are streamed into a Parquet file that appears only when complete.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import tensorflow as tf
from google.protobuf import message, text_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_metadata.proto.v0 import schema_pb2

from lightrank.errors import shorten
from lightrank.models.features import ResolvedFeatures
from lightrank.pipeline.eval.outputs import EvalInputError
from lightrank.pipeline.eval_config import PREDICTION_KEY
from lightrank.pipeline.io import compression

SERVING_SIGNATURE = "serving_default"
EXAMPLES_INPUT = "examples"
#: Candidates scored per call of the model (and parsed per tf.data batch).
DEFAULT_BATCH_SIZE = 4096
#: Rows per Parquet row group: large enough for fast scans, small enough for flat memory.
ROW_GROUP_ROWS = 65536
#: Where a Trainer's Model artifact keeps its serving SavedModel.
SERVING_SUBDIR = "Format-Serving"

_TF_TYPES = {schema_pb2.INT: tf.int64, schema_pb2.FLOAT: tf.float32, schema_pb2.BYTES: tf.string}
_ARROW_TYPES = {tf.int64: pa.int64(), tf.float32: pa.float32(), tf.string: pa.string()}


@dataclasses.dataclass(frozen=True)
class CandidateColumns:
    """The raw, non-input columns of a candidate that evaluation reads, with their types.

    Attributes:
        request_key: Groups candidates into requests (must be present exactly once).
        heavy_score: The heavy ranker's score; null in the prediction file when missing.
        labels: Every label of the feature spec, without duplicates.
        weight: The raw record weight.
        dtypes: TensorFlow dtype of each column, from the schema.
    """

    request_key: str
    heavy_score: str
    labels: tuple[str, ...]
    weight: str
    dtypes: Mapping[str, tf.DType]

    @classmethod
    def from_features(cls, features: ResolvedFeatures, schema: schema_pb2.Schema) -> CandidateColumns:
        """Columns and types of a resolved feature spec (which checked they are in the schema)."""
        types = {feature.name: feature.type for feature in schema.feature if feature.type in _TF_TYPES}
        return cls.from_dtypes(features, {name: _TF_TYPES[kind] for name, kind in types.items()})

    @classmethod
    def from_dtypes(cls, features: ResolvedFeatures, dtypes: Mapping[str, tf.DType]) -> CandidateColumns:
        """Columns of resolved features typed by `dtypes`: a model's asset carries them, not a schema.

        Raises:
            EvalInputError: A column is named like the prediction column.
            KeyError: `dtypes` lacks one of the columns.
        """
        labels = tuple(dict.fromkeys(features.labels.values()))
        names = [features.request_key, features.heavy_score, *labels, features.example_weight]
        if PREDICTION_KEY in names:
            raise EvalInputError(f"a feature spec column is named {PREDICTION_KEY!r}, the prediction column")
        return cls(
            request_key=features.request_key,
            heavy_score=features.heavy_score,
            labels=labels,
            weight=features.example_weight,
            dtypes={name: dtypes[name] for name in names},
        )

    @property
    def output_names(self) -> tuple[str, ...]:
        """Column order of the prediction file."""
        names = (self.request_key, PREDICTION_KEY, self.heavy_score, *self.labels, self.weight)
        return tuple(dict.fromkeys(names))

    def arrow_schema(self) -> pa.Schema:
        """The prediction file's schema; the metadata says which column plays which role."""
        fields = [
            pa.field(name, pa.float32() if name == PREDICTION_KEY else _ARROW_TYPES[self.dtypes[name]])
            for name in self.output_names
        ]
        roles = {"request_key": self.request_key, "heavy_score": self.heavy_score, "weight": self.weight}
        return pa.schema(fields, metadata={f"lightrank.{role}": name for role, name in roles.items()})


def resolve_model_dir(path: str) -> str:
    """A SavedModel directory; a Trainer's Model artifact resolves to its `Format-Serving`."""
    nested = os.path.join(path, SERVING_SUBDIR)
    if not _saved_model_file(path) and _saved_model_file(nested):
        return nested
    return path


def _saved_model_file(path: str) -> str | None:
    for name in ("saved_model.pb", "saved_model.pbtxt"):
        if tf.io.gfile.exists(os.path.join(path, name)):
            return os.path.join(path, name)
    return None


def _signatures(model_dir: str) -> Mapping[str, Any]:
    """The signature defs of a SavedModel's serving graph, read from its proto."""
    if not tf.io.gfile.isdir(model_dir):
        raise EvalInputError(f"model {model_dir} is not a directory")
    path = _saved_model_file(model_dir)
    if path is None:
        raise EvalInputError(
            f"model {model_dir} is not a SavedModel (no saved_model.pb); pass an exported model, "
            "e.g. a pushed version under serving_dir"
        )
    saved_model = saved_model_pb2.SavedModel()
    try:
        content = tf.io.gfile.GFile(path, "rb").read()
        if path.endswith(".pbtxt"):
            text_format.Parse(content.decode(), saved_model)
        else:
            saved_model.ParseFromString(content)
    except (message.DecodeError, text_format.ParseError, UnicodeDecodeError) as error:
        raise EvalInputError(
            f"model {model_dir}: {os.path.basename(path)} is corrupt ({shorten(error)})"
        ) from error
    graphs = [g for g in saved_model.meta_graphs if "serve" in g.meta_info_def.tags]
    graphs = graphs or list(saved_model.meta_graphs)
    return graphs[0].signature_def if graphs else {}


def check_serving_model(model_dir: str, preprocessing_signatures: Sequence[str] = ()) -> None:
    """Checks that `model_dir` is a SavedModel with the serving contract of `lightrank.models.export`.

    Args:
        model_dir: The directory to check.
        preprocessing_signatures: Further signatures the EvalConfig calls on serialized
            examples (`ModelSpec.preprocessing_function_names`, e.g. for slices on
            transformed features); a model exported before they existed lacks them.

    Raises:
        EvalInputError: Naming the directory and what is missing.
    """
    signatures = _signatures(model_dir)
    for name in (SERVING_SIGNATURE, *preprocessing_signatures):
        if name not in signatures:
            named = sorted(key for key in signatures if not key.startswith("__"))  # not TF's init op
            needed = "" if name == SERVING_SIGNATURE else ", which the config's evaluation.slices need"
            raise EvalInputError(f"model {model_dir} has no '{name}' signature{needed} (it has {named})")
        inputs = {key: tf.dtypes.as_dtype(info.dtype) for key, info in signatures[name].inputs.items()}
        if inputs != {EXAMPLES_INPUT: tf.string}:
            shown = {key: dtype.name for key, dtype in inputs.items()}
            raise EvalInputError(
                f"model {model_dir}: '{name}' must take one string input '{EXAMPLES_INPUT}' "
                f"(serialized tf.Examples), but takes {shown}"
            )
    outputs = signatures[SERVING_SIGNATURE].outputs
    if PREDICTION_KEY not in outputs:
        raise EvalInputError(
            f"model {model_dir}: '{SERVING_SIGNATURE}' returns {sorted(outputs)}, not '{PREDICTION_KEY}'"
        )


def _parse_spec(columns: CandidateColumns, names: Sequence[str]) -> dict[str, tf.io.RaggedFeature]:
    return {name: tf.io.RaggedFeature(columns.dtypes[name], row_splits_dtype=tf.int64) for name in names}


def _file_batches(
    path: str, columns: CandidateColumns, names: Sequence[str], batch_size: int
) -> Iterator[tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]]:
    """(serialized records, {column: (flat values, row lengths)}) per batch of one file.

    Raises:
        EvalInputError: The file is unreadable or a column has another type than the schema's.
    """
    spec = _parse_spec(columns, names)
    dataset = (
        tf.data.TFRecordDataset(path, compression_type=compression(path))
        .batch(batch_size)
        .map(lambda serialized: (serialized, tf.io.parse_example(serialized, spec)))
        .prefetch(1)
    )
    try:
        for serialized, parsed in dataset:
            yield (
                serialized.numpy(),
                {k: (v.flat_values.numpy(), v.row_lengths().numpy()) for k, v in parsed.items()},
            )
    except tf.errors.InvalidArgumentError as error:
        raise EvalInputError(
            f"{path}: cannot read {list(names)} as the schema's types from its tf.Examples "
            f"({shorten(error.message.splitlines()[0])})"
        ) from error
    except tf.errors.OpError as error:
        raise EvalInputError(
            f"{path} is not a readable {'gzipped ' if compression(path) else ''}TFRecord file "
            f"({shorten(error.message.splitlines()[0])})"
        ) from error


def _check_request_keys(path: str, first_record: int, key: str, lengths: np.ndarray) -> None:
    bad = np.flatnonzero(lengths != 1)
    if bad.size:
        count = int(lengths[bad[0]])
        raise EvalInputError(
            f"{path}: record {first_record + int(bad[0])} has {f'{count} values' if count else 'no value'} "
            f"of the request key {key!r}; every candidate needs exactly one"
        )


def _single(flat: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One value per row and where it is valid (rows with exactly one value)."""
    starts = np.cumsum(lengths) - lengths
    present = lengths == 1
    values = np.zeros(len(lengths), dtype=flat.dtype)
    values[present] = flat[starts[present]]
    return values, present


@dataclasses.dataclass(frozen=True)
class CandidateScan:
    """What one pass over the data found."""

    files: int
    candidates: int
    missing_heavy_score: int


def _check_label(path: str, first_record: int, label: str, lengths: np.ndarray) -> None:
    """TFMA needs the label of every candidate; without it, its combiner fails naming no file.

    Measured: data without the configured label failed with "add_input failed on
    <..._StreamingCombiner object ...> 'labels': None", minutes in.
    """
    bad = np.flatnonzero(lengths != 1)
    if bad.size:
        count = int(lengths[bad[0]])
        raise EvalInputError(
            f"{path}: record {first_record + int(bad[0])} has {f'{count} values' if count else 'no value'} "
            f"of the label {label!r} (the model's task's label, see the feature spec); evaluation needs "
            "exactly one per candidate: give labelled data"
        )


def scan_candidates(
    files: Sequence[str],
    columns: CandidateColumns,
    batch_size: int = DEFAULT_BATCH_SIZE,
    label: str | None = None,
) -> CandidateScan:
    """Counts candidates and missing heavy scores; checks every candidate's request key and label.

    A heavy score is missing unless the candidate has exactly one finite value, the rule of
    the grouped metrics' `num_candidates_missing_heavy_score`.

    Args:
        files: The data files.
        columns: The columns evaluation reads.
        batch_size: Records parsed per step.
        label: The label TFMA evaluates against (one of `columns.labels`); checked if given.

    Raises:
        EvalInputError: A file is unreadable, a request key or the label is absent or repeated
            (naming the file and record), or the files hold no candidate at all.
    """
    names = tuple(dict.fromkeys((columns.request_key, columns.heavy_score, *([label] if label else []))))
    candidates = missing = 0
    for path in files:
        file_rows = 0
        for _, parsed in _file_batches(path, columns, names, batch_size):
            _check_request_keys(path, file_rows, columns.request_key, parsed[columns.request_key][1])
            if label:
                _check_label(path, file_rows, label, parsed[label][1])
            scores, present = _single(*parsed[columns.heavy_score])
            if np.issubdtype(scores.dtype, np.floating):
                present &= np.isfinite(scores)
            missing += int(np.count_nonzero(~present))
            file_rows += len(present)
        candidates += file_rows
    if candidates == 0:
        raise EvalInputError(f"the {len(files)} data file(s) hold no candidates")
    return CandidateScan(files=len(files), candidates=candidates, missing_heavy_score=missing)


def _arrow_column(name: str, values: np.ndarray, present: np.ndarray, dtype: tf.DType) -> pa.Array:
    if dtype != tf.string:
        return pa.array(values, type=_ARROW_TYPES[dtype], mask=~present)
    try:
        texts = [value.decode() if ok else None for value, ok in zip(values, present, strict=True)]
        return pa.array(texts, type=pa.string())
    except UnicodeDecodeError as error:
        raise EvalInputError(f"{name} holds a value that is not UTF-8 text ({shorten(error)})") from error


def candidate_batch(
    columns: CandidateColumns,
    parsed: Mapping[str, tuple[np.ndarray, np.ndarray]],
    predictions: np.ndarray,
) -> pa.RecordBatch:
    """One Parquet batch: the parsed raw columns and the model's predictions.

    Values stay in their parsed types (int64 keys are never cast to float). A column is null
    where a candidate has no single value; the heavy score also where it is not finite.
    """
    arrays = []
    for name in columns.output_names:
        if name == PREDICTION_KEY:
            arrays.append(pa.array(np.asarray(predictions, dtype=np.float32).reshape(-1)))
            continue
        values, present = _single(*parsed[name])
        if name == columns.heavy_score and columns.dtypes[name] == tf.float32:
            present &= np.isfinite(values)
        arrays.append(_arrow_column(name, values, present, columns.dtypes[name]))
    return pa.RecordBatch.from_arrays(arrays, schema=columns.arrow_schema())


def write_predictions(
    model_dir: str,
    files: Sequence[str],
    columns: CandidateColumns,
    out_path: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> int:
    """Scores every candidate with `serving_default` and writes one row each to Parquet.

    The file is written next to `out_path` under a temporary name and renamed when
    complete, so a failure leaves no partial file. Memory holds at most one row group.

    Returns:
        The number of rows written.
    """
    serve = tf.saved_model.load(model_dir).signatures[SERVING_SIGNATURE]
    schema = columns.arrow_schema()
    names = tuple(name for name in columns.output_names if name != PREDICTION_KEY)
    directory = os.path.dirname(os.path.abspath(out_path))
    handle, temporary = tempfile.mkstemp(prefix=".predictions-", suffix=".parquet.tmp", dir=directory)
    os.close(handle)
    rows = 0
    try:
        with pq.ParquetWriter(temporary, schema) as writer:
            pending: list[pa.RecordBatch] = []
            for path in files:
                file_rows = 0
                for serialized, parsed in _file_batches(path, columns, names, batch_size):
                    _check_request_keys(path, file_rows, columns.request_key, parsed[columns.request_key][1])
                    predictions = serve(**{EXAMPLES_INPUT: tf.constant(serialized)})[PREDICTION_KEY]
                    pending.append(candidate_batch(columns, parsed, predictions.numpy()))
                    file_rows += len(serialized)
                    if sum(batch.num_rows for batch in pending) >= ROW_GROUP_ROWS:
                        writer.write_table(pa.Table.from_batches(pending, schema=schema))
                        pending = []
                rows += file_rows
            if pending:
                writer.write_table(pa.Table.from_batches(pending, schema=schema))
        os.replace(temporary, out_path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return rows
