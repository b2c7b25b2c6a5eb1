"""TFDV statistics over every input file, and the few facts the role guesses need beyond them.

Each file is first checked as the pipeline's preflight checks it (`record_scan.scan_file`:
every CRC, a sample parsed as `tf.Example`, a gzip file's end), so a bad file is named before
any statistics. The records are then decoded in batches and fed to TFDV's own in-memory
statistics generators, one accumulator for all files: the statistics are those
`tfdv.generate_statistics_from_tfrecord` computes, over several globs at once, without starting
a Beam pipeline (0.4 s instead of 1.8 s for 20,000 examples), and memory stays flat.

TFDV counts distinct values of strings only; the request key is an INT whose number of
distinct values (requests) is worth saying, and a label is binary or soft, so distinct numeric
values are counted here too, up to `DISTINCT_LIMIT`.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lightrank.errors import shorten
from lightrank.pipeline.io import compression
from lightrank.pipeline.record_scan import InputDataError, scan_file
from lightrank.pipeline.schema_infer import SchemaInferError
from lightrank.pipeline.schema_infer.sources import DataSource

if TYPE_CHECKING:
    import pyarrow as pa
    from tensorflow_metadata.proto.v0 import statistics_pb2

#: Distinct numeric values counted per feature; beyond it a feature has "many".
DISTINCT_LIMIT = 10_000
#: Records decoded and fed to the generators at once.
RECORDS_PER_BATCH = 4096


@dataclasses.dataclass(frozen=True)
class FeatureFacts:
    """What the statistics say about one feature, in the terms the schema and the guesses use.

    Attributes:
        name: The feature name.
        kind: `INT`, `FLOAT` or `BYTES` (the schema type).
        examples: Examples in the whole data.
        present: Examples that carry the feature (possibly with zero values).
        min_values, max_values: Fewest and most values in an example that carries it.
        avg_values: Mean number of values where present.
        minimum, maximum: Smallest and largest numeric value (None for BYTES or no values);
            infinities included, NaN excluded.
        nan: Numeric values that are NaN.
        distinct: Distinct values (TFDV's count for BYTES); None when more than `DISTINCT_LIMIT`
            numeric values were seen.
        binary: A numeric feature whose every value is 0 or 1.
    """

    name: str
    kind: str
    examples: int
    present: int
    min_values: int
    max_values: int
    avg_values: float
    minimum: float | None
    maximum: float | None
    nan: int
    distinct: int | None
    binary: bool

    @property
    def fraction(self) -> float:
        """Share of the examples that carry the feature."""
        return self.present / self.examples if self.examples else 0.0

    @property
    def always_present(self) -> bool:
        """Every example carries the feature."""
        return self.present == self.examples

    @property
    def scalar(self) -> bool:
        """Exactly one value wherever the feature is present."""
        return self.min_values == 1 and self.max_values == 1

    @property
    def numeric(self) -> bool:
        """INT or FLOAT."""
        return self.kind in ("INT", "FLOAT")

    @property
    def in_unit_interval(self) -> bool:
        """Numeric with at least one value, every value in [0, 1] (what a label must hold)."""
        return (
            self.minimum is not None and self.maximum is not None and 0 <= self.minimum <= self.maximum <= 1
        )

    def describe(self) -> str:
        """`INT in [1000, 1239], always present, 240 distinct values`, `FLOAT 0/1, in 75.0% of examples`."""
        parts = [self.kind]
        if self.numeric and self.minimum is not None and self.maximum is not None:
            parts[0] += " 0/1" if self.binary else f" in [{self.minimum:g}, {self.maximum:g}]"
        parts.append("always present" if self.always_present else f"in {self.fraction:.1%} of examples")
        if not self.scalar:
            parts.append(f"{self.min_values}-{self.max_values} values")
        if self.kind != "FLOAT":
            many = self.distinct is None
            parts.append(f"more than {DISTINCT_LIMIT:,}" if many else f"{self.distinct:,}")
            parts[-1] += " distinct values"
        return ", ".join(parts)


@dataclasses.dataclass(frozen=True)
class DataStats:
    """The statistics of all the input data.

    Attributes:
        statistics: TFDV's statistics, one data set over all files.
        examples: Examples read.
        examples_by_source: Examples per `DataSource`, in the order given.
        features: Facts per typed feature, by name (sorted).
    """

    statistics: statistics_pb2.DatasetFeatureStatisticsList
    examples: int
    examples_by_source: tuple[int, ...]
    features: Mapping[str, FeatureFacts]


class _ValueTracker:
    """Per-feature kinds (one per column, as the pipeline requires) and distinct numeric values."""

    def __init__(self) -> None:
        self.kinds: dict[str, tuple[str, str]] = {}  # name -> (kind, first file)
        self.values: dict[str, set[float] | None] = {}
        self.binary: dict[str, bool] = {}

    def add(self, batch: pa.RecordBatch, path: str) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            value_type = column.type.value_type
            if pa.types.is_integer(value_type):
                kind = "INT"
            elif pa.types.is_floating(value_type):
                kind = "FLOAT"
            elif pa.types.is_binary(value_type) or pa.types.is_large_binary(value_type):
                kind = "BYTES"
            else:
                continue  # null: the feature is empty in every record of this batch
            first_kind, first_path = self.kinds.setdefault(name, (kind, path))
            if kind != first_kind:
                raise SchemaInferError(
                    f"{path}: feature {shorten(name, 100)!r} holds {kind} values, but {first_kind} in "
                    f"{first_path}; a column must keep one type"
                )
            if kind == "BYTES" or self.values.get(name, set()) is None:
                continue
            unique = pc.unique(column.flatten()).to_numpy(zero_copy_only=False)
            self.binary[name] = self.binary.get(name, True) and bool(np.isin(unique, (0, 1)).all())
            seen = self.values.setdefault(name, set())
            seen.update(unique.tolist())
            if len(seen) > DISTINCT_LIMIT:
                self.values[name] = None

    def distinct(self, name: str) -> int | None:
        seen = self.values.get(name)
        return None if seen is None else len(seen)


def _record_batches(path: str, decoder: Any) -> Iterator[pa.RecordBatch]:
    import tensorflow as tf

    records = tf.data.TFRecordDataset(path, compression_type=compression(path))
    read = 0
    for batch in records.batch(RECORDS_PER_BATCH).as_numpy_iterator():
        try:
            yield decoder.DecodeBatch(list(batch))
        except RuntimeError as error:  # the decoder's DATA_LOSS / INVALID_ARGUMENT
            raise InputDataError(
                f"{path}: a record among {read:,}-{read + len(batch) - 1:,} is not a tf.train.Example "
                f"with one type per feature ({shorten(error, 160)})"
            ) from error
        read += len(batch)


def _facts(
    feature: statistics_pb2.FeatureNameStatistics, examples: int, tracker: _ValueTracker
) -> FeatureFacts:
    from tensorflow_metadata.proto.v0 import statistics_pb2

    name = feature.path.step[0] if feature.path.step else feature.name
    kind = {
        statistics_pb2.FeatureNameStatistics.INT: "INT",
        statistics_pb2.FeatureNameStatistics.FLOAT: "FLOAT",
    }
    numeric = feature.WhichOneof("stats") == "num_stats"
    if numeric:
        num = feature.num_stats
        common, has_values = num.common_stats, num.common_stats.tot_num_values > 0
        nan = num.histograms[0].num_nan if num.histograms else 0
        minimum, maximum = (num.min, num.max) if has_values else (None, None)
        distinct = tracker.distinct(name)
    else:
        strings = feature.string_stats if feature.HasField("string_stats") else feature.bytes_stats
        common, nan, minimum, maximum = strings.common_stats, 0, None, None
        distinct = strings.unique
    return FeatureFacts(
        name=name,
        kind=kind.get(feature.type, "BYTES"),
        examples=examples,
        present=int(common.num_non_missing),
        min_values=int(common.min_num_values),
        max_values=int(common.max_num_values),
        avg_values=float(common.avg_num_values),
        minimum=None if minimum is None or math.isnan(minimum) else float(minimum),
        maximum=None if maximum is None or math.isnan(maximum) else float(maximum),
        nan=int(nan),
        distinct=distinct,
        binary=numeric and tracker.binary.get(name, False),
    )


def compute_statistics(sources: Sequence[DataSource]) -> DataStats:
    """TFDV statistics over every file of every source, one data set.

    Raises:
        InputDataError: A file is not a readable (gzipped) TFRecord file of `tf.Example`;
            names the file.
        SchemaInferError: A feature changes type between files, or no file holds an example.
    """
    import tensorflow_data_validation as tfdv
    from tensorflow_data_validation.statistics import stats_impl
    from tfx_bsl.coders.example_coder import ExamplesToRecordBatchDecoder

    decoder = ExamplesToRecordBatchDecoder()
    generators = stats_impl.get_generators(tfdv.StatsOptions(), in_memory=True)
    accumulators = [generator.create_accumulator() for generator in generators]
    tracker = _ValueTracker()
    counts = []
    with warnings.catch_warnings():
        # Means and variances of features that carry Inf are NaN; data may carry Inf on purpose.
        warnings.simplefilter("ignore", RuntimeWarning)
        for source in sources:
            count = 0
            for path in source.files:
                scan_file(path)
                for batch in _record_batches(path, decoder):
                    tracker.add(batch, path)
                    accumulators = [
                        g.add_input(a, batch) for g, a in zip(generators, accumulators, strict=True)
                    ]
                    count += batch.num_rows
            counts.append(count)
    examples = sum(counts)
    if not examples:
        files = sum(len(source.files) for source in sources)
        raise SchemaInferError(
            f"no examples: the {files} file{'s' if files != 1 else ''} of "
            f"--data {shorten(', '.join(source.label for source in sources))} hold no record"
        )
    statistics = stats_impl.extract_statistics_output(accumulators, generators)
    features = (_facts(f, examples, tracker) for f in statistics.datasets[0].features)
    return DataStats(
        statistics=statistics,
        examples=examples,
        examples_by_source=tuple(counts),
        features={facts.name: facts for facts in sorted(features, key=lambda f: f.name)},
    )
