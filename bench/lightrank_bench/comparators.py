"""LightGBM and ONNX Runtime scoring the same candidates as our exported model's `serving_default`.

One of the goals in `docs/performance.md` is that the light ranker be faster than the two things
a team would use instead: a gradient-boosted tree model (LightGBM, 200 trees, 31 leaves, trained
on the same features) and the same model run through ONNX Runtime, if it converts. Every system
here scores the candidates `lightrank-bench serving` uses (`serving.load_candidates`), at the same request
sizes, in the same process per thread setting, timed with the same `time_requests`:

- DeepNorm, TensorFlow `serving_default`: serialized candidates in, as `bench serving`.
- DeepNorm, TensorFlow `serving_transformed`: already-transformed tensors (`continuous`,
  `ids`, `row_lengths`) in, the reference for ONNX Runtime on the same inputs.
- DeepNorm, ONNX Runtime (`onnx_model`): `serving_transformed` converted by tf2onnx, on the
  same tensors (the goal's reference figure); and end to end, after the serving featurisation.
- LightGBM (`gbdt`), trained once on the Transform's `continuous` of the same data with the
  model task's label: from an in-memory array (the goal's reference figure) and end to end.
- The serving featurisation alone: end to end is about it plus the in-memory row.

"End to end" starts from the serialized request and featurises it as the export serves it
(`featurizer`: its `serving_features` signature, or the Transform layer for older exports; the
table says which). Set-up (`comparators_setup`) runs once, here; timing runs in a fresh process
per thread setting, as `bench serving` does (TensorFlow's thread pools are sized before its
first op), where TensorFlow gets `threads` intra- and inter-op threads, LightGBM
`num_threads=threads` (0: OpenMP's default, all cores) and ONNX Runtime `threads` intra-op
threads (0: the process's usable cores).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lightrank_bench.comparators_setup import (
    BOOSTER_FILE,
    ONNX_FILE,
    TRAIN_CANDIDATES,
    ComparatorSetup,
    prepare_comparators,
)
from lightrank_bench.comparators_setup import task_label as task_label  # re-exported for the CLI
from lightrank_bench.featurizer import SERVING_FEATURES, TFT_LAYER
from lightrank_bench.worker import run_worker

if TYPE_CHECKING:  # TensorFlow loads only when a benchmark runs, not when the CLI starts.
    import numpy as np
    import tensorflow as tf

RESULT_MARKER = "BENCH_COMPARATORS_RESULT "
#: Packages the comparators table names on top of the serving table's.
EXTRA_PACKAGES = ("lightgbm", "onnxruntime", "tf2onnx")
#: How the end-to-end rows name each `Featurizer.source`.
FEATURIZATIONS = {
    SERVING_FEATURES: "serving featurisation (`serving_features`)",
    TFT_LAYER: "TF parse + Transform layer (`tft_layer`)",
}

SERVING_DEFAULT = "DeepNorm, TensorFlow `serving_default`"
SERVING_TRANSFORMED = "DeepNorm, TensorFlow `serving_transformed`"
ONNX = "DeepNorm, ONNX Runtime"
ONNX_END_TO_END = "DeepNorm, {featurization}, then ONNX Runtime"
LIGHTGBM = "LightGBM"
LIGHTGBM_END_TO_END = "LightGBM, after {featurization}"
FEATURIZE = "{featurization} alone"
SERIALIZED = "serialized candidates"
TRANSFORMED = "transformed tensors"
ARRAY = "`continuous` array"
#: (system, its input) in table order; `{featurization}` is filled in by `systems`.
SYSTEMS = (
    (SERVING_DEFAULT, SERIALIZED),
    (SERVING_TRANSFORMED, TRANSFORMED),
    (ONNX, TRANSFORMED),
    (ONNX_END_TO_END, SERIALIZED),
    (LIGHTGBM, ARRAY),
    (LIGHTGBM_END_TO_END, SERIALIZED),
    (FEATURIZE, SERIALIZED),
)


def system_name(system: str, featurization: str) -> str:
    """A `SYSTEMS` name as rows and the table show it, the end-to-end ones naming the featurisation."""
    return system.format(featurization=FEATURIZATIONS.get(featurization, featurization))


@dataclasses.dataclass(frozen=True)
class ComparatorRow:
    """One system at one request size under one thread setting.

    Attributes:
        system: What scores (`system_name` of one of `SYSTEMS`).
        inputs: What a request hands it (serialized candidates, transformed tensors, an array).
        batch_size: Candidates per request.
        requests: Timed requests.
        candidates_per_sec: Candidates scored per second of request time.
        p50_ms: Median latency per request.
        p99_ms: 99th-percentile latency per request.
    """

    system: str
    inputs: str
    batch_size: int
    requests: int
    candidates_per_sec: float
    p50_ms: float
    p99_ms: float


@dataclasses.dataclass(frozen=True)
class ComparatorsResult:
    """Everything one thread setting measured.

    Attributes:
        threads: The thread setting; 0 means all cores.
        setup: The shared set-up (same for every thread setting).
        rows: One per (request size, system), request sizes outermost.
    """

    threads: int
    setup: ComparatorSetup
    rows: tuple[ComparatorRow, ...]


def measure_comparators(
    model_dir: str, data: str, workdir: str, batch_sizes: Sequence[int], seconds: float, threads: int,
    featurization: str,
) -> tuple[ComparatorRow, ...]:  # fmt: skip
    """Times every system in this process (whose TF thread pools the caller has already sized).

    `featurization` is the set-up's `Featurizer.source`, so every worker featurises alike.
    """
    import lightgbm
    import tensorflow as tf

    from lightrank.models.export import load_settings
    from lightrank_bench.featurizer import featurizer
    from lightrank_bench.gbdt import continuous_matrix
    from lightrank_bench.onnx_model import onnx_feeds, onnx_session
    from lightrank_bench.serving import load_candidates, time_requests
    from lightrank_bench.stats import summarize

    settings, _ = load_settings(model_dir)
    missing_value = float(settings["deepnorm"]["missing_value"])
    loaded = tf.saved_model.load(model_dir)
    serving_default = loaded.signatures["serving_default"]
    serving_transformed = loaded.signatures.get("serving_transformed")  # absent for non-DeepNorm inputs
    features = featurizer(loaded, featurization)
    booster = lightgbm.Booster(model_file=os.path.join(workdir, BOOSTER_FILE))
    onnx_path = os.path.join(workdir, ONNX_FILE)
    session = onnx_session(onnx_path, threads) if os.path.exists(onnx_path) else None
    candidates = load_candidates(data, max(batch_sizes))

    def lightgbm_end_to_end(request: tf.Tensor) -> np.ndarray:
        matrix = continuous_matrix(features.continuous_only(request).numpy(), missing_value)
        return booster.predict(matrix, num_threads=threads)

    def onnx_end_to_end(request: tf.Tensor) -> list[np.ndarray]:
        feeds = onnx_feeds(session, [value.numpy() for value in features.featurize(request)], features.names)
        return session.run(None, feeds)

    rows = []
    for batch_size in batch_sizes:
        request = tf.constant(candidates[:batch_size])
        tensors = features.featurize(request)
        arrays = [value.numpy() for value in tensors]
        matrix = continuous_matrix(arrays[0], missing_value)
        calls: dict[str, Callable[[], Any]] = {
            SERVING_DEFAULT: lambda r=request: serving_default(examples=r),
            LIGHTGBM: lambda m=matrix: booster.predict(m, num_threads=threads),
            LIGHTGBM_END_TO_END: lambda r=request: lightgbm_end_to_end(r),
            FEATURIZE: lambda r=request: features.featurize(r),
        }
        if serving_transformed is not None:
            calls[SERVING_TRANSFORMED] = lambda t=tensors: serving_transformed(
                **dict(zip(features.names, t, strict=True))
            )
        if session is not None:
            feeds = onnx_feeds(session, arrays, features.names)
            calls[ONNX] = lambda f=feeds: session.run(None, f)
            calls[ONNX_END_TO_END] = lambda r=request: onnx_end_to_end(r)
        for system, inputs in SYSTEMS:
            if system in calls:
                stats = summarize(batch_size, time_requests(calls[system], seconds))
                rows.append(
                    ComparatorRow(system_name(system, features.source), inputs, batch_size, stats.requests,
                                  stats.candidates_per_sec, stats.p50_ms, stats.p99_ms)
                )  # fmt: skip
    return tuple(rows)


def _time_in_subprocess(
    model_dir: str, data: str, workdir: str, batch_sizes: Sequence[int], seconds: float, threads: int,
    featurization: str,
) -> tuple[ComparatorRow, ...]:  # fmt: skip
    arguments = ["--model", model_dir, "--data", data, "--workdir", workdir, "--seconds", str(seconds),
                 "--threads", str(threads), "--featurization", featurization,
                 "--batch-sizes", *(str(size) for size in batch_sizes)]  # fmt: skip
    rows = run_worker(__name__, arguments, RESULT_MARKER, f"comparators benchmark worker (threads={threads})")
    return tuple(ComparatorRow(**row) for row in rows)


def run_comparators(
    model_dir: str, data: str, label: str, batch_sizes: Sequence[int], seconds: float,
    thread_settings: Sequence[int], train_candidates: int = TRAIN_CANDIDATES,
) -> list[ComparatorsResult]:  # fmt: skip
    """Sets up once here, then times each thread setting in a fresh process.

    Args:
        model_dir: The exported model (`cli.resolve_serving_model`).
        data: Candidate TFRecords with labels (a directory or a glob).
        label: The raw label column of the model's task.
        batch_sizes: Candidates per request.
        seconds: Timed seconds per system and request size.
        thread_settings: e.g. `[1, 0]`; 0 means all cores.
        train_candidates: LightGBM's training candidates.

    Raises:
        BenchInputError: Bad data or label (see `prepare_comparators`).
        RuntimeError: If a worker fails; its stderr tail is in the message.
    """
    with tempfile.TemporaryDirectory(prefix="lightrank-comparators-") as workdir:
        setup = prepare_comparators(model_dir, data, label, batch_sizes, workdir, train_candidates)
        return [
            ComparatorsResult(threads, setup, _time_in_subprocess(
                model_dir, data, workdir, batch_sizes, seconds, threads, setup.featurization
            ))
            for threads in thread_settings
        ]  # fmt: skip


def _threads(threads: int) -> str:
    return "all cores" if threads == 0 else f"{threads} thread" + ("s" if threads > 1 else "")


def comparators_table(results: Sequence[ComparatorsResult], command: Sequence[str]) -> str:
    """The comparators table: per thread setting and request size, every system, `serving_default` first.

    The last column is each system's candidates/s over `serving_default`'s at the same setting
    and size: below 1.0 our exported model is ahead.
    """
    from lightrank_bench.tables import PACKAGES, header, package_versions

    packages = f"- Packages: {package_versions((*PACKAGES, *EXTRA_PACKAGES))}"
    lines = header("Serving comparators: LightGBM and ONNX Runtime on the same candidates", command)
    lines = [packages if line.startswith("- Packages:") else line for line in lines]
    if results:
        lines += [*results[0].setup.describe(), ""]
    lines += [
        "| threads | batch | system | input | candidates/s | p50 ms | p99 ms | vs `serving_default` |",
        "|---|---:|---|---|---:|---:|---:|---:|",
    ]
    for result in results:
        for batch_size in dict.fromkeys(row.batch_size for row in result.rows):
            rows = {row.system: row for row in result.rows if row.batch_size == batch_size}
            reference = rows.get(SERVING_DEFAULT)
            for system, inputs in SYSTEMS:
                name = system_name(system, result.setup.featurization)
                prefix = f"| {_threads(result.threads)} | {batch_size:,} | {name} | {inputs} "
                row = rows.get(name)
                if row is None:
                    if system in (ONNX, ONNX_END_TO_END) and not result.setup.onnx_converted:
                        lines.append(prefix + "| did not convert | – | – | – |")
                    continue
                ratio = (
                    f"{row.candidates_per_sec / reference.candidates_per_sec:.2f}x" if reference else "n/a"
                )
                lines.append(
                    prefix
                    + f"| {row.candidates_per_sec:,.0f} | {row.p50_ms:.2f} | {row.p99_ms:.2f} | {ratio} |"
                )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Worker entry point: sizes TF's thread pools before TF runs anything, times, prints JSON."""
    parser = argparse.ArgumentParser(description="one thread setting of `lightrank-bench comparators`")
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--featurization", choices=sorted(FEATURIZATIONS), required=True)
    parser.add_argument("--batch-sizes", type=int, nargs="+", required=True)
    args = parser.parse_args(argv)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    rows = measure_comparators(
        args.model, args.data, args.workdir, args.batch_sizes, args.seconds, args.threads, args.featurization
    )
    print(RESULT_MARKER + json.dumps([dataclasses.asdict(row) for row in rows]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
