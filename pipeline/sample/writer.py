"""Write the sample data set: sharded GZIP TFRecords of tf.Examples, atomically.

Requests are generated chunk by chunk (`chunk.CHUNK_REQUESTS` at a time), so
memory stays flat however many requests are asked for. Request `r` goes to shard
`r % shards`, whole and contiguous, so every shard holds complete candidate sets.
Everything is written into a hidden temporary sibling of `out_dir` and renamed
into place only when complete: a crash or Ctrl-C never leaves a half-written data
set where the pipeline would read it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator

import numpy as np
import tensorflow as tf
from tfx_bsl.coders.example_coder import RecordBatchToExamplesEncoder
from tqdm import tqdm

from lightrank.pipeline.sample.chunk import CHUNK_REQUESTS, generate_chunk
from lightrank.pipeline.sample.encoding import Columns, encode_examples
from lightrank.pipeline.sample.population import build_population

#: Requests `make run` generates: about 100k examples at the ~233 mean candidates per request.
DEFAULT_REQUESTS = 430
MAX_SEED = 2**32


@dataclasses.dataclass(frozen=True)
class SampleDataSummary:
    """What `write_sample_data` wrote.

    Attributes:
        out_dir: The data set directory (absolute).
        files: The shard files, in shard order (absolute paths).
        requests: Requests (groups) written.
        candidates: Examples written.
        seconds: Wall time of the whole call.
    """

    out_dir: str
    files: tuple[str, ...]
    requests: int
    candidates: int
    seconds: float


def shard_file_name(shard: int, shards: int) -> str:
    """`part-00000-of-00004.tfrecord.gz`-style name of one shard."""
    return f"part-{shard:05d}-of-{shards:05d}.tfrecord.gz"


def _is_occupied(path: str) -> bool:
    return os.path.lexists(path) and (not os.path.isdir(path) or bool(os.listdir(path)))


def _publish(staging: str, out_dir: str, overwrite: bool) -> None:
    """Rename the finished `staging` directory to `out_dir`, replacing it only if `overwrite`."""
    if not _is_occupied(out_dir):
        if os.path.isdir(out_dir):
            os.rmdir(out_dir)  # an empty directory: nothing to preserve
        os.rename(staging, out_dir)
        return
    if not overwrite:
        raise FileExistsError(f"{out_dir} exists and is not empty (pass overwrite=True to replace it)")
    graveyard = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.old-", dir=os.path.dirname(out_dir))
    previous = os.path.join(graveyard, "previous")
    os.rename(out_dir, previous)
    try:
        os.rename(staging, out_dir)
    except BaseException:
        os.rename(previous, out_dir)
        raise
    shutil.rmtree(graveyard, ignore_errors=True)


@contextlib.contextmanager
def staged_directory(out_dir: str, overwrite: bool) -> Iterator[str]:
    """A fresh sibling of `out_dir` to write into, renamed over it when the block succeeds.

    Readers never see a half-written data set: the block writes into a hidden staging
    directory next to `out_dir`, which `_publish` renames into place (keeping the old one
    until the rename succeeded); on any error the staging directory is removed.

    Raises:
        FileExistsError: `out_dir` exists and is not empty and `overwrite` is False; raised
            before anything is written.
    """
    target = os.path.abspath(out_dir)
    if _is_occupied(target) and not overwrite:
        raise FileExistsError(f"{target} exists and is not empty (pass overwrite=True to replace it)")
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.tmp-", dir=parent)
    os.chmod(staging, 0o755)  # mkdtemp's 0700 would survive the rename and lock out other readers
    try:
        yield staging
        _publish(staging, target, overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_chunk(
    writers: list[tf.io.TFRecordWriter],
    encoder: RecordBatchToExamplesEncoder,
    columns: Columns,
    sizes: np.ndarray,
    first_request: int,
) -> None:
    examples = encode_examples(columns, encoder)
    ends = np.cumsum(sizes).tolist()
    start = 0
    for offset, end in enumerate(ends):
        writer = writers[(first_request + offset) % len(writers)]
        for example in examples[start:end]:
            writer.write(example)
        start = end


def _write_shards(
    staging: str, requests: int, seed: int, shards: int, show_progress: bool
) -> tuple[list[str], int]:
    population = build_population(seed)
    encoder = RecordBatchToExamplesEncoder()
    paths = [os.path.join(staging, shard_file_name(shard, shards)) for shard in range(shards)]
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    writers = [tf.io.TFRecordWriter(path, options=options) for path in paths]
    candidates = 0
    try:
        with tqdm(
            total=requests, unit="req", desc="sample data", file=sys.stderr, disable=not show_progress
        ) as bar:
            for chunk_index in range((requests + CHUNK_REQUESTS - 1) // CHUNK_REQUESTS):
                first_request = chunk_index * CHUNK_REQUESTS
                keep = min(CHUNK_REQUESTS, requests - first_request)
                columns, sizes = generate_chunk(population, seed, chunk_index, keep)
                _write_chunk(writers, encoder, columns, sizes, first_request)
                candidates += columns.num_rows
                bar.update(keep)
                bar.set_postfix_str(f"examples={candidates:,}", refresh=False)
    finally:
        for writer in writers:
            writer.close()
    return paths, candidates


def write_sample_data(
    out_dir: str,
    *,
    requests: int,
    seed: int = 0,
    shards: int = 4,
    show_progress: bool = True,
    overwrite: bool = False,
) -> SampleDataSummary:
    """Generate `requests` push requests and write them as sharded GZIP TFRecords.

    The same `(requests, seed, shards)` always gives byte-identical files, and the
    first k requests of a data set do not depend on `requests` or `shards`.

    Args:
        out_dir: Target directory (local path). Must be absent or empty unless `overwrite`.
        requests: Requests to generate (each with 20 to 1,000 candidates, median about 200).
        seed: Seed in [0, 2**32); it fixes the population and every chunk's random stream.
        shards: Output files; request `r` goes to shard `r % shards` (shards may be empty).
        show_progress: Show a tqdm bar on stderr.
        overwrite: Replace a non-empty `out_dir`, only once the new data is complete.

    Returns:
        A summary with the absolute shard paths and the counts written.

    Raises:
        FileExistsError: `out_dir` exists, is not empty, and `overwrite` is False. Raised before
            any work, and the directory is left untouched.
        ValueError: `requests` or `shards` below 1, or `seed` outside [0, 2**32).
    """
    started = time.perf_counter()
    if requests < 1 or shards < 1:
        raise ValueError(f"requests and shards must be >= 1, got requests={requests}, shards={shards}")
    if not 0 <= seed < MAX_SEED:
        raise ValueError(f"seed must lie in [0, 2**32), got {seed}")
    target = os.path.abspath(out_dir)
    with staged_directory(target, overwrite) as staging:
        paths, candidates = _write_shards(staging, requests, seed, shards, show_progress)
    files = tuple(os.path.join(target, os.path.basename(path)) for path in paths)
    return SampleDataSummary(
        out_dir=target,
        files=files,
        requests=requests,
        candidates=candidates,
        seconds=time.perf_counter() - started,
    )
