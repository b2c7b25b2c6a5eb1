"""Throughput of an exported model's `serving_default` on serialized candidates.

Each thread setting runs in its own Python process: TensorFlow's intra- and inter-op thread
pools can only be sized before TF runs its first op, so "one thread" and "all cores" cannot
share a process. The parent (`run_serving`) starts `python -m lightrank_bench.serving` once per
setting and reads the JSON line the worker prints.

In each process, for every request size: the whole signature (parse, Transform graph, model)
and `tf.io.parse_example` alone with the model's own serving spec (`serving_spec`), so the
table shows how much of a request parsing costs; plus, in the same process and thread
setting, a 1024 x 1024 fp32 matmul (the hardware's GFLOP/s) and the model's FLOPs per
candidate (`flops`), whose quotient is the most candidates per second the model could score.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from lightrank_bench.worker import run_worker

SERVING_BATCH_SIZES = (100, 1_000, 5_000)
#: Features a serving request does not carry (labels, request key, weight, heavy-ranker score).
STRIPPED_PREFIXES = ("label.", "meta.")
RESULT_MARKER = "BENCH_SERVING_RESULT "
MATMUL_SIZE = 1024


@dataclasses.dataclass(frozen=True)
class ServingRow:
    """One request size under one thread setting.

    Attributes:
        batch_size: Candidates per request.
        requests: Timed requests of the whole signature.
        candidates_per_sec: Whole signature, candidates per second.
        p50_ms: Whole signature, median latency per request.
        p99_ms: Whole signature, 99th-percentile latency per request.
        parse_candidates_per_sec: `tf.io.parse_example` alone, candidates per second.
        parse_share: Parsing's share of the mean request time (0..1).
        ceiling_fraction: `candidates_per_sec` over the FLOP ceiling of this thread setting.
    """

    batch_size: int
    requests: int
    candidates_per_sec: float
    p50_ms: float
    p99_ms: float
    parse_candidates_per_sec: float
    parse_share: float
    ceiling_fraction: float


@dataclasses.dataclass(frozen=True)
class ServingResult:
    """Everything one thread setting measured.

    Attributes:
        threads: Intra- and inter-op threads; 0 means TensorFlow's default (all cores).
        matmul_gflops: fp32 1024 x 1024 matmul throughput in this process.
        flops_per_candidate: The model's counted FLOPs per candidate (`flops.count_flops`).
        ids_per_row: Mean hashed sparse ids per candidate of the benchmark data.
        ceiling_candidates_per_sec: `matmul_gflops * 1e9 / flops_per_candidate`.
        rows: One per request size.
        peak_rss_mib: Peak resident memory of the serving process (model loaded, every request
            size served, the matmul measured), from `getrusage`; None if not measured.
    """

    threads: int
    matmul_gflops: float
    flops_per_candidate: float
    ids_per_row: float
    ceiling_candidates_per_sec: float
    rows: tuple[ServingRow, ...]
    peak_rss_mib: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServingResult:
        """Inverse of `dataclasses.asdict` (the worker's JSON line)."""
        rows = tuple(ServingRow(**row) for row in data["rows"])
        return cls(**{**data, "rows": rows})


def read_records(data: str, count: int) -> list[bytes]:
    """`count` serialized records from TFRecord files, in file order, cycled if the files hold fewer.

    Args:
        data: A directory (every file in it) or a glob of (gzipped if `.gz`) TFRecord files.
        count: How many.

    Raises:
        FileNotFoundError: If `data` matches no file or the files hold no record.
    """
    import tensorflow as tf

    pattern = os.path.join(data, "*") if os.path.isdir(data) else data
    files = sorted(path for path in glob.glob(pattern) if os.path.isfile(path))
    records: list[bytes] = []
    for path in files:
        compression = "GZIP" if path.endswith(".gz") else ""
        dataset = tf.data.TFRecordDataset(path, compression_type=compression).take(count - len(records))
        records.extend(record.numpy() for record in dataset)
        if len(records) >= count:
            break
    if not records:
        raise FileNotFoundError(f"no serialized candidates in {data!r}")
    return [records[i % len(records)] for i in range(count)]


def load_candidates(data: str, count: int) -> list[bytes]:
    """`read_records(data, count)` without labels and `meta.*` features: what a serving request holds.

    Raises:
        FileNotFoundError: If `data` matches no file or the files hold no candidate.
    """
    import tensorflow as tf

    records = read_records(data, count)
    stripped: dict[bytes, bytes] = {}  # once per distinct record: a cycled record stays byte-identical
    for record in records:
        if record not in stripped:
            example = tf.train.Example.FromString(record)
            for name in list(example.features.feature):
                if name.startswith(STRIPPED_PREFIXES):
                    del example.features.feature[name]
            stripped[record] = example.SerializeToString()
    return [stripped[record] for record in records]


def time_requests(
    call: Callable[[], Any], seconds: float, min_requests: int = 5, warmup: int = 2
) -> list[float]:
    """Latencies (s) of back-to-back calls for about `seconds` after `warmup` untimed calls."""
    for _ in range(warmup):
        call()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(latencies) < min_requests or time.perf_counter() < deadline:
        started = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - started)
    return latencies


def matmul_gflops(seconds: float, size: int = MATMUL_SIZE) -> float:
    """fp32 `size x size` matmul GFLOP/s (2 * size**3 FLOPs each), from the median call."""
    import tensorflow as tf

    from lightrank_bench.stats import percentile

    a = tf.random.stateless_uniform([size, size], seed=[1, 2])
    b = tf.random.stateless_uniform([size, size], seed=[3, 4])
    matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    latencies = time_requests(lambda: matmul().numpy(), seconds)
    return 2.0 * size**3 / percentile(latencies, 50.0) / 1e9


def exported_model_flops(model_dir: str, ids_per_row: float) -> float:
    """FLOPs per candidate of an exported model, counted on the Keras model its settings rebuild."""
    from lightrank.models.baseline.model import logistic_regression
    from lightrank.models.deepnorm.config import DeepNormConfig
    from lightrank.models.deepnorm.model import deepnorm_light_ranker
    from lightrank.models.export import load_settings, read_model_asset
    from lightrank_bench.flops import count_flops

    settings, feature_list = load_settings(model_dir)
    config = DeepNormConfig.model_validate(settings["deepnorm"])
    if settings["kind"] == "logistic":
        model = logistic_regression(len(feature_list), config.input_size_bits, config.missing_value)
    else:
        asset = read_model_asset(model_dir)  # per-feature bags need the sparse feature names
        features = asset.features if asset else None
        sparse = features.sparse if features else ()
        sides = (features.user_sparse, features.candidate_sparse) if features else ((), ())
        model = deepnorm_light_ranker(config, len(feature_list), sparse, sides)
    return count_flops(model, ids_per_row).total


def measure_serving(
    model_dir: str, data: str, batch_sizes: Sequence[int], seconds: float, threads: int
) -> ServingResult:
    """Measures in this process (whose thread pools the caller has already sized)."""
    import tensorflow as tf

    from lightrank.models.export import load_settings
    from lightrank_bench.serving_spec import serving_feature_spec
    from lightrank_bench.stats import summarize

    loaded = tf.saved_model.load(model_dir)  # kept alive: the signature does not own the variables
    signature = loaded.signatures["serving_default"]
    spec = serving_feature_spec(signature)
    parse_all = tf.function(lambda serialized: tf.io.parse_example(serialized, spec))

    # The parse-only timing returns one scalar, as the signature returns one tensor: handing
    # dozens of sparse tensors back to Python would time the Python side, not parsing.
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def parse(serialized: tf.Tensor) -> tf.Tensor:
        parsed = tf.io.parse_example(serialized, spec)
        return tf.add_n([tf.size(value.values if isinstance(value, tf.SparseTensor) else value)
                         for value in parsed.values()])  # fmt: skip

    candidates = load_candidates(data, max(batch_sizes))
    _, continuous = load_settings(model_dir)
    parsed = parse_all(tf.constant(candidates))
    sparse_values = sum(int(tf.size(parsed[name].values)) for name in spec if name not in set(continuous))
    ids_per_row = sparse_values / len(candidates)
    flops = exported_model_flops(model_dir, ids_per_row)
    gflops = matmul_gflops(min(seconds, 2.0))
    ceiling = gflops * 1e9 / flops
    rows = []
    for batch_size in batch_sizes:
        request = tf.constant(candidates[:batch_size])
        served = summarize(batch_size, time_requests(lambda r=request: signature(examples=r), seconds))
        parsed_only = summarize(batch_size, time_requests(lambda r=request: parse(r), seconds / 2))
        rows.append(
            ServingRow(
                batch_size=batch_size,
                requests=served.requests,
                candidates_per_sec=served.candidates_per_sec,
                p50_ms=served.p50_ms,
                p99_ms=served.p99_ms,
                parse_candidates_per_sec=parsed_only.candidates_per_sec,
                parse_share=served.candidates_per_sec / parsed_only.candidates_per_sec,
                ceiling_fraction=served.candidates_per_sec / ceiling,
            )
        )
    return ServingResult(threads, gflops, flops, ids_per_row, ceiling, tuple(rows))


def run_serving(
    model_dir: str, data: str, batch_sizes: Sequence[int], seconds: float, threads: int
) -> ServingResult:
    """Runs `measure_serving` in a fresh process with `threads` intra/inter-op threads (0: all cores).

    Raises:
        RuntimeError: If the worker fails; its stderr tail is in the message.
    """
    arguments = ["--model", model_dir, "--data", data, "--seconds", str(seconds), "--threads", str(threads),
                 "--batch-sizes", *(str(size) for size in batch_sizes)]  # fmt: skip
    result = run_worker(__name__, arguments, RESULT_MARKER, f"serving benchmark worker (threads={threads})")
    return ServingResult.from_dict(result)


def main(argv: Sequence[str] | None = None) -> int:
    """Worker entry point: sizes the thread pools before TF runs anything, measures, prints JSON."""
    parser = argparse.ArgumentParser(description="one thread setting of `lightrank-bench serving`")
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--batch-sizes", type=int, nargs="+", required=True)
    args = parser.parse_args(argv)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    result = measure_serving(args.model, args.data, args.batch_sizes, args.seconds, args.threads)
    # Linux reports ru_maxrss in KiB; the worker process did nothing but serve.
    result = dataclasses.replace(
        result, peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    print(RESULT_MARKER + json.dumps(dataclasses.asdict(result)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
