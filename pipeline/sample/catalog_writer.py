"""Write the catalog data set: `train/` and `eval/` folders of GZIP TFRecords, atomically.

The data set is split by time before it is written, as a user's own export would be: the
first requests go to `train/`, the last `catalog.EVAL_FRACTION` to `eval/`, each split sharded
like the sample data (local request `j` of a split goes to that split's shard `j % shards`, whole).
Publishing is the sample writer's: everything is written into a hidden temporary sibling of
`out_dir` and renamed into place only when complete.

Examples are built with the protobuf API and serialized deterministically (map entries sorted
by name). That is about a quarter of the speed of the sample's spliced tfx_bsl encoding, which is
tied to the sample's feature contract; the catalog data set is small by design (about 1 s).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time

import numpy as np
import tensorflow as tf
from tensorflow.core.example import example_pb2
from tqdm import tqdm

from lightrank.pipeline.sample import catalog as cat
from lightrank.pipeline.sample.encoding import Columns
from lightrank.pipeline.sample.features import ValueKind
from lightrank.pipeline.sample.writer import MAX_SEED, shard_file_name, staged_directory

#: Requests of the default catalog data set: about 18k candidates, written in a second or two.
DEFAULT_CATALOG_REQUESTS = 240
SPLITS: tuple[str, str] = ("train", "eval")  # folder names, indexed by catalog.TRAIN / catalog.EVAL
_LIST_FIELDS = {ValueKind.FLOAT: "float_list", ValueKind.INT: "int64_list", ValueKind.BYTES: "bytes_list"}


@dataclasses.dataclass(frozen=True)
class SplitSummary:
    """What was written for one split.

    Attributes:
        files: The split's shard files, in shard order (absolute paths).
        requests: Requests (groups) in the split.
        candidates: Examples in the split.
        clicks: Examples with `clicked` 1.
    """

    files: tuple[str, ...]
    requests: int
    candidates: int
    clicks: int

    @property
    def click_rate(self) -> float:
        """Share of the split's examples that were clicked."""
        return self.clicks / max(self.candidates, 1)


@dataclasses.dataclass(frozen=True)
class CatalogDataSummary:
    """What `write_catalog_data` wrote.

    Attributes:
        out_dir: The data set directory (absolute); it holds `train/` and `eval/`.
        train: The first requests in time.
        eval: The last requests in time.
        seconds: Wall time of the whole call.
    """

    out_dir: str
    train: SplitSummary
    eval: SplitSummary
    seconds: float

    @property
    def requests(self) -> int:
        """Requests in both splits."""
        return self.train.requests + self.eval.requests

    @property
    def candidates(self) -> int:
        """Examples in both splits."""
        return self.train.candidates + self.eval.candidates


def encode_catalog_examples(columns: Columns) -> list[bytes]:
    """Serialize every row of a catalog chunk as a `tf.train.Example`, absent features omitted.

    Args:
        columns: One chunk from `catalog.generate_chunk`.

    Returns:
        One serialized example per row, in row order, in protobuf's deterministic serialization.
    """
    scalars = []
    for name in sorted(cat.FEATURE_KINDS):
        if name in columns.lengths:
            continue
        kind, column = cat.FEATURE_KINDS[name], columns.values[name]
        if kind is ValueKind.BYTES:
            vocabulary = [value.encode() for value in columns.vocabularies[name]]
            values = [vocabulary[code] for code in column.tolist()]
        else:
            values = column.astype(np.float32 if kind is ValueKind.FLOAT else np.int64).tolist()
        present = columns.present[name].tolist() if name in columns.present else None
        scalars.append((name, _LIST_FIELDS[kind], values, present))
    tag_vocabulary = [value.encode() for value in columns.vocabularies[cat.ITEM_TAGS]]
    tags = [tag_vocabulary[code] for code in columns.values[cat.ITEM_TAGS].tolist()]
    tag_ends = np.cumsum(columns.lengths[cat.ITEM_TAGS]).tolist()
    encoded, tag_start = [], 0
    for row in range(columns.num_rows):
        example = example_pb2.Example()
        feature = example.features.feature
        for name, field, values, present in scalars:
            if present is None or present[row]:
                getattr(feature[name], field).value.append(values[row])
        if tag_ends[row] > tag_start:  # no tags: the feature is absent, never present and empty
            feature[cat.ITEM_TAGS].bytes_list.value.extend(tags[tag_start : tag_ends[row]])
        tag_start = tag_ends[row]
        encoded.append(example.SerializeToString(deterministic=True))
    return encoded


def _under(root: str, split: SplitSummary) -> SplitSummary:
    """`split` with its file names (relative to the data set's root) made absolute under `root`."""
    return dataclasses.replace(split, files=tuple(os.path.join(root, name) for name in split.files))


def _write_chunk(
    writers: list[list[tf.io.TFRecordWriter]],
    examples: list[bytes],
    sizes: np.ndarray,
    split_index: np.ndarray,
) -> None:
    """Append each request's examples, whole, to shard `j % shards` of its split (`j`: index in split)."""
    start = 0
    for size, part, local in zip(sizes.tolist(), *(a.tolist() for a in split_index), strict=True):
        writer = writers[part][local % len(writers[part])]
        for example in examples[start : start + size]:
            writer.write(example)
        start += size


def _write_splits(
    staging: str, requests: int, seed: int, shards: int, show_progress: bool
) -> tuple[SplitSummary, SplitSummary]:
    catalog = cat.build_catalog(seed)
    split_requests = cat.split_sizes(requests)
    names = [  # relative to the data set's root: staging now, `out_dir` once published
        [os.path.join(folder, shard_file_name(shard, count)) for shard in range(count)]
        for folder, count in zip(SPLITS, (min(shards, n) for n in split_requests), strict=True)
    ]
    for folder in SPLITS:
        os.mkdir(os.path.join(staging, folder))
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    writers = [[tf.io.TFRecordWriter(os.path.join(staging, n), options=options) for n in ns] for ns in names]
    candidates, clicks = np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64)
    try:
        with tqdm(
            total=requests, unit="req", desc="catalog data", file=sys.stderr, disable=not show_progress
        ) as bar:
            for chunk_index in range((requests + cat.CHUNK_REQUESTS - 1) // cat.CHUNK_REQUESTS):
                columns, sizes, split = cat.generate_chunk(
                    catalog, seed, chunk_index, requests, split_requests[cat.TRAIN]
                )
                number = chunk_index * cat.CHUNK_REQUESTS + np.arange(sizes.size)
                local = number - split * split_requests[cat.TRAIN]
                _write_chunk(writers, encode_catalog_examples(columns), sizes, np.stack([split, local]))
                candidates += np.bincount(split, weights=sizes, minlength=2).astype(np.int64)
                row_split = np.repeat(split, sizes)
                clicks += np.bincount(row_split, weights=columns.values[cat.CLICKED], minlength=2).astype(
                    np.int64
                )
                bar.update(sizes.size)
                bar.set_postfix_str(f"examples={int(candidates.sum()):,}", refresh=False)
    finally:
        for split_writers in writers:
            for writer in split_writers:
                writer.close()
    train, eval_ = (
        SplitSummary(tuple(names[p]), split_requests[p], int(candidates[p]), int(clicks[p]))
        for p in (cat.TRAIN, cat.EVAL)
    )
    return train, eval_


def write_catalog_data(
    out_dir: str,
    *,
    requests: int = DEFAULT_CATALOG_REQUESTS,
    seed: int = 0,
    shards: int = 4,
    show_progress: bool = True,
    overwrite: bool = False,
) -> CatalogDataSummary:
    """Generate `requests` catalog requests and write them, split by time, as GZIP TFRecords.

    The same `(requests, seed, shards)` always gives byte-identical files.

    Args:
        out_dir: Target directory (local path). Must be absent or empty unless `overwrite`.
        requests: Requests to generate, at least 2 (each with 30 to 120 candidates).
        seed: Seed in [0, 2**32); it fixes the catalog and every chunk's random stream.
        shards: Files per split, at most one per request of the split (fewer are written then).
        show_progress: Show a tqdm bar on stderr.
        overwrite: Replace a non-empty `out_dir`, only once the new data is complete.

    Returns:
        A summary with each split's absolute shard paths, counts and clicks.

    Raises:
        FileExistsError: `out_dir` exists, is not empty, and `overwrite` is False. Raised before
            any work, and the directory is left untouched.
        ValueError: `requests` below 2, `shards` below 1, or `seed` outside [0, 2**32).
    """
    started = time.perf_counter()
    cat.split_sizes(requests)  # raises for fewer than 2 requests
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    if not 0 <= seed < MAX_SEED:
        raise ValueError(f"seed must lie in [0, 2**32), got {seed}")
    target = os.path.abspath(out_dir)
    with staged_directory(target, overwrite) as staging:
        train, eval_ = _write_splits(staging, requests, seed, shards, show_progress)
    return CatalogDataSummary(
        out_dir=target,
        train=_under(target, train),
        eval=_under(target, eval_),
        seconds=time.perf_counter() - started,
    )
