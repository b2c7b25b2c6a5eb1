"""Columnar chunk -> serialized `tf.train.Example`s: tfx_bsl for values, numpy for layout.

Two properties of the data contract rule out handing the whole chunk to
`RecordBatchToExamplesEncoder` at once:

- Determinism. The encoder fills a protobuf map, and protobuf's C++ map iterates in
  a per-instance randomized order, so the same rows serialize to different bytes
  from run to run.
- "Missing means absent". A null list becomes a *present but empty* feature,
  which `tf.io.parse_example` with a `FixedLenFeature` rejects.

So each feature is encoded on its own (one-entry examples, whose bytes are
unique), for the rows that carry it only. A serialized Example is
`0x0A <varint len> <Features>` and `Features` is just its map entries one after
another, so stripping each one-entry example's header and splicing the entries
of a row back together in sorted-key order, under a fresh header, gives exactly
protobuf's *deterministic* serialization of the full example. The splicing is
vectorised byte-index arithmetic over the chunk.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
from tfx_bsl.coders import example_coder

from lightrank.pipeline.sample.features import FEATURE_KINDS, ValueKind

_ARROW_VALUE_TYPES = {
    ValueKind.FLOAT: pa.float32(),
    ValueKind.INT: pa.int64(),
    ValueKind.BYTES: pa.large_binary(),
}
_NUMPY_VALUE_TYPES = {ValueKind.FLOAT: np.float32, ValueKind.INT: np.int64}
_EXAMPLE_FEATURES_TAG = 0x0A  # field 1 (Example.features), wire type 2 (length-delimited)


@dataclasses.dataclass(frozen=True)
class Columns:
    """Row-aligned features of one chunk, with presence information for optional ones.

    Attributes:
        num_rows: Examples in the chunk.
        values: Every feature of `FEATURE_KINDS`. Scalar features hold one value per
            row (any value where absent); multi-valued features hold the flat values
            of present rows; BYTES features hold int codes into `vocabularies`.
        present: Optional scalar features -> bool per row. Features not listed are
            always present.
        lengths: Multi-valued features -> value count per row; 0 means absent.
        vocabularies: BYTES features -> the strings their codes index.
    """

    num_rows: int
    values: dict[str, np.ndarray]
    present: dict[str, np.ndarray]
    lengths: dict[str, np.ndarray]
    vocabularies: dict[str, tuple[str, ...]]

    def is_present(self, name: str) -> np.ndarray:
        """Bool per row: does the example carry `name`?"""
        if name in self.lengths:
            return self.lengths[name] > 0
        if name in self.present:
            return self.present[name]
        return np.ones(self.num_rows, dtype=bool)


def _arrow_list(columns: Columns, name: str) -> pa.LargeListArray:
    kind = FEATURE_KINDS[name]
    values = columns.values[name]
    if kind is ValueKind.BYTES:
        vocabulary = pa.array([v.encode() for v in columns.vocabularies[name]], type=pa.large_binary())
        flat = vocabulary.take(pa.array(values.astype(np.int64)))
    else:
        flat = pa.array(values.astype(_NUMPY_VALUE_TYPES[kind], copy=False), type=_ARROW_VALUE_TYPES[kind])
    lengths = columns.lengths.get(name)
    if lengths is None:
        if len(values) != columns.num_rows:
            raise ValueError(f"{name}: {len(values)} values for {columns.num_rows} rows")
        offsets = np.arange(columns.num_rows + 1, dtype=np.int64)
    else:
        if int(lengths.sum()) != len(values):
            raise ValueError(f"{name}: lengths sum to {int(lengths.sum())}, {len(values)} values given")
        offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    return pa.LargeListArray.from_arrays(pa.array(offsets), flat)


def _gather_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Indices of the byte ranges `[start, start + length)`, concatenated in order."""
    ends = np.cumsum(lengths)
    return np.repeat(starts - (ends - lengths), lengths) + np.arange(int(ends[-1]) if ends.size else 0)


def _varint_size(values: np.ndarray) -> np.ndarray:
    return 1 + sum((values >= (1 << (7 * k))).astype(np.int64) for k in range(1, 5))


def _map_entries(encoded: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Strip the `0x0A <varint>` header of one-entry examples: (entry bytes, entry length per row)."""
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    buffer = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    starts = np.cumsum(lengths) - lengths
    header = np.full(lengths.size, 2, dtype=np.int64)
    continues = buffer[starts + 1] >= 0x80
    while continues.any():
        header += continues
        continues &= buffer[np.minimum(starts + header - 1, buffer.size - 1)] >= 0x80
    return buffer[_gather_ranges(starts + header, lengths - header)], lengths - header


def encode_examples(
    columns: Columns, encoder: example_coder.RecordBatchToExamplesEncoder | None = None
) -> list[bytes]:
    """Serialize every row of `columns` as a `tf.train.Example`, absent features omitted.

    Args:
        columns: One chunk; must hold exactly the features of `FEATURE_KINDS`.
        encoder: A reusable tfx_bsl encoder (a fresh one if None).

    Returns:
        One serialized example per row, in row order; the bytes are protobuf's deterministic
        serialization (map entries sorted by feature name).
    """
    encoder = encoder or example_coder.RecordBatchToExamplesEncoder()
    if set(columns.values) != set(FEATURE_KINDS):
        raise ValueError(f"column set mismatch: {sorted(set(columns.values) ^ set(FEATURE_KINDS))}")
    n = columns.num_rows
    entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    total = np.zeros(n, dtype=np.int64)
    for name in sorted(FEATURE_KINDS):
        rows = np.flatnonzero(columns.is_present(name))
        if rows.size == 0:
            continue
        array = _arrow_list(columns, name)
        if rows.size < n:
            array = array.take(pa.array(rows))
        entry_bytes, entry_lengths = _map_entries(encoder.encode(pa.RecordBatch.from_arrays([array], [name])))
        entries.append((rows, entry_bytes, entry_lengths))
        total[rows] += entry_lengths
    header = 1 + _varint_size(total)
    row_lengths = header + total
    row_ends = np.cumsum(row_lengths)
    row_starts = row_ends - row_lengths
    out = np.empty(int(row_ends[-1]) if n else 0, dtype=np.uint8)
    out[row_starts] = _EXAMPLE_FEATURES_TAG
    remaining, position = total.copy(), row_starts + 1
    for _ in range(int(header.max(initial=1)) - 1):
        active = position < row_starts + header
        more = remaining >= 0x80
        out[position[active]] = ((remaining & 0x7F) | np.where(more, 0x80, 0))[active]
        remaining >>= 7
        position += 1
    cursor = row_starts + header
    for rows, entry_bytes, entry_lengths in entries:
        out[_gather_ranges(cursor[rows], entry_lengths)] = entry_bytes
        cursor[rows] += entry_lengths
    data = out.tobytes()
    return [data[start:end] for start, end in zip(row_starts.tolist(), row_ends.tolist(), strict=True)]
