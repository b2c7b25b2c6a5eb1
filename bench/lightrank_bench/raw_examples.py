"""The raw Examples a Transform output was computed from, read into per-feature columns.

The fair LightGBM row of the quality table trains on the same raw features the model gets, not
on the Transform's output, so it needs the ExampleGen output the Transform read: its
`Split-train` and `Split-eval` directories. `locate_raw_examples` takes them from `--examples`
if given, else from ML Metadata: the execution that wrote the Transform output's
`transformed_examples/<id>` got them as its `examples` input. That is exact whatever the pipeline
root's history (several ExampleGen outputs, cached runs); guessing from the directory layout is
not. The store is looked for beside the pipeline root (where `make run` and `lightrank-bench
pipeline` put it) and at the config's `metadata.sqlite`.

`read_raw_split` parses every feature as a var-len list with the dtype of the Transform's own raw
feature spec, so absent and multi-valued features read alike, into `RaggedColumn`s.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from lightrank_bench.errors import BenchInputError

#: The ExampleGen split directories the quality table reads.
SPLITS = ("Split-train", "Split-eval")
#: Records per parsing batch: large enough that per-batch overhead does not matter.
READ_BATCH = 4096


@dataclasses.dataclass(frozen=True)
class RaggedColumn:
    """One feature of a split: every row's values, in file order.

    Attributes:
        values: `[V]` all values, row after row (int64, float32 or bytes objects).
        row_splits: `[N + 1]` int64: row `i` holds `values[row_splits[i]:row_splits[i + 1]]`.
    """

    values: np.ndarray
    row_splits: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        """`[N]` number of values of each row (0: the feature is absent)."""
        return np.diff(self.row_splits)

    def take(self, rows: np.ndarray) -> RaggedColumn:
        """The rows where the `[N]` boolean mask `rows` is True, in order."""
        lengths = self.lengths[rows]
        values = self.values[np.repeat(rows, self.lengths)]
        return RaggedColumn(values, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))

    def first(self, fill: Any) -> np.ndarray:
        """`[N]` the first value of each row, `fill` where the row has none.

        The dtype holds both: an INT feature with a NaN fill comes back as float64.
        """
        lengths = self.lengths
        numeric = self.values.dtype != object and isinstance(fill, (int, float))
        dtype = np.result_type(self.values.dtype, fill) if numeric else object
        out = np.full(lengths.size, fill, dtype=dtype)
        present = lengths > 0
        out[present] = self.values[self.row_splits[:-1][present]]
        return out


def examples_in_store(store_path: str, transformed_examples_dir: str) -> str | None:
    """The URI of the `examples` input of the execution that wrote `transformed_examples_dir`, if recorded.

    Args:
        store_path: An ML Metadata SQLite file (opened read-only).
        transformed_examples_dir: The Transform output's `transformed_examples/<id>` directory.
    """
    import ml_metadata as mlmd
    from ml_metadata.proto import metadata_store_pb2

    from lightrank.pipeline.config import MetadataConfig
    from lightrank.pipeline.metadata.graph import quoted
    from lightrank.pipeline.metadata.runs import open_store

    store = open_store(MetadataConfig(sqlite=store_path))
    uri = os.path.abspath(transformed_examples_dir)
    found = store.get_artifacts(list_options=mlmd.ListOptions(filter_query=f"uri = {quoted(uri)}"))
    events = store.get_events_by_artifact_ids([artifact.id for artifact in found]) if found else []
    writers = [event.execution_id for event in events if event.type == metadata_store_pb2.Event.OUTPUT]
    inputs = store.get_events_by_execution_ids(writers[-1:]) if writers else []
    ids = [event.artifact_id for event in inputs if event.type == metadata_store_pb2.Event.INPUT
           and event.path.steps and event.path.steps[0].key == "examples"]  # fmt: skip
    return store.get_artifacts_by_id(ids)[0].uri if ids else None


def _check_examples(path: str, what: str) -> str:
    missing = [split for split in SPLITS if not glob.glob(os.path.join(path, split, "*"))]
    if missing:
        raise BenchInputError(f"{what} {path} has no files in {', '.join(missing)}: expected an ExampleGen "
                              "output (<pipeline root>/ImportExampleGen/examples/<id>)")  # fmt: skip
    return path


def locate_raw_examples(transformed_examples_dir: str, examples: str | None, stores: Iterable[str]) -> str:
    """The ExampleGen output (`Split-train/`, `Split-eval/`) the Transform output was computed from.

    Args:
        transformed_examples_dir: The Transform output's `transformed_examples/<id>` directory.
        examples: `--examples`, if given: used as it is.
        stores: ML Metadata SQLite files to ask, in order; those that do not exist are skipped.

    Raises:
        BenchInputError: If `examples` lacks a split, or no store records the Transform's input.
    """
    if examples is not None:
        return _check_examples(examples, "--examples")
    asked = []
    for store in dict.fromkeys(os.path.abspath(path) for path in stores):
        if os.path.isfile(store):
            asked.append(store)
            uri = examples_in_store(store, transformed_examples_dir)
            if uri is not None:
                return _check_examples(uri, f"the Transform's input (from {store})")
    where = f"ML Metadata ({', '.join(asked)})" if asked else "ML Metadata (no store found)"
    raise BenchInputError(f"{where} does not record which examples {transformed_examples_dir} was computed "
                          "from: pass --examples <pipeline root>/ImportExampleGen/examples/<id>")  # fmt: skip


def read_raw_split(
    files: str | Sequence[str], raw_spec: Mapping[str, Any], names: Sequence[str]
) -> dict[str, RaggedColumn]:
    """The named features of GZIP TFRecord files of tf.Examples, in file order (files sorted by name).

    Args:
        files: A glob, or globs, of the split's files.
        raw_spec: The Transform's raw feature spec (`TFTransformOutput.raw_feature_spec()`): each
            feature's dtype; every feature is read as a var-len list whatever its spec's shape.
        names: The features to read.

    Raises:
        BenchInputError: If no file matches or a name is not in `raw_spec`.
    """
    import tensorflow as tf

    paths = sorted({path for pattern in ([files] if isinstance(files, str) else files)
                    for path in glob.glob(pattern)})  # fmt: skip
    unknown = [name for name in names if name not in raw_spec]
    if not paths or unknown:
        raise BenchInputError(f"cannot read raw examples {files}: " + (
            f"the raw feature spec lacks {unknown}" if unknown else "no file matches"))  # fmt: skip
    spec = {name: tf.io.VarLenFeature(raw_spec[name].dtype) for name in names}
    dataset = tf.data.TFRecordDataset(paths, compression_type="GZIP").batch(READ_BATCH)
    parts: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {name: ([], []) for name in names}
    for records in dataset:
        parsed = tf.io.parse_example(records, spec)
        for name in names:
            sparse = parsed[name]
            batch = int(sparse.dense_shape[0])
            parts[name][0].append(sparse.values.numpy())
            parts[name][1].append(np.bincount(sparse.indices[:, 0].numpy(), minlength=batch))
    if not names or not parts[names[0]][1]:
        raise BenchInputError(f"cannot read raw examples {files}: no features asked for, or no records")
    columns = {}
    for name, (values, lengths) in parts.items():
        splits = np.concatenate([[0], np.cumsum(np.concatenate(lengths))]).astype(np.int64)
        columns[name] = RaggedColumn(np.concatenate(values), splits)
    return columns
