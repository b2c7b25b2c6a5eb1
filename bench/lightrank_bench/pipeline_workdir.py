"""The directory `lightrank-bench pipeline` works in: its data, its config, its previous outputs.

Generating a million candidates takes minutes, so the data is kept in `<root>/data` with a
manifest of what it is (`<root>/data.json`: beside the data, since the pipeline reads every
file in its data directory) and reused while requests and seed stay the same. Everything a run
writes (pipeline root, serving directory, ML Metadata) is deleted before the next run, so a
directory is only used if it is new, empty or marked as the benchmark's own: a mistyped
`--root` can never delete a real pipeline's outputs.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from lightrank_bench.errors import BenchInputError

if TYPE_CHECKING:
    from lightrank.pipeline.config import PipelineConfig

#: Marks a directory as this benchmark's, the only kind whose outputs it deletes.
MARKER_FILE = ".lightrank-bench-pipeline"
#: What was generated into `<root>/data` (kept beside it: the pipeline reads every file in it).
DATA_MANIFEST = "data.json"
DATA_SHARDS = 4
#: Per-run outputs, replaced by every run.
RUN_OUTPUTS = ("pipeline", "serving", "metadata.db")


class PipelineBenchError(BenchInputError):
    """A `lightrank-bench pipeline` argument (requests, seed, root directory) is unusable."""


def default_root(requests: int) -> str:
    """`runs/bench/pipeline-<requests>`: one directory per size, so each keeps its data."""
    return os.path.join("runs", "bench", f"pipeline-{requests}")


def check_arguments(root: str, requests: int, seed: int) -> None:
    """Checks the benchmark's arguments without changing anything.

    Raises:
        PipelineBenchError: If `requests` is not positive, `seed` is outside [0, 2**32), or
            `root` is a file or a non-empty directory without the marker (never someone's
            real pipeline root: every run deletes its previous outputs).
    """
    if requests < 1:
        raise PipelineBenchError(f"--requests={requests} is invalid: expected a positive number of requests")
    if not 0 <= seed < 2**32:
        raise PipelineBenchError(f"--seed={seed} is invalid: expected an integer in [0, 2**32)")
    if os.path.exists(root) and not os.path.isdir(root):
        raise PipelineBenchError(f"--root {root} is a file: expected a directory for the benchmark")
    if os.path.isdir(root) and os.listdir(root) and not os.path.isfile(os.path.join(root, MARKER_FILE)):
        raise PipelineBenchError(
            f"--root {root} is not empty and not a `lightrank-bench pipeline` directory (no {MARKER_FILE}): "
            "pass a new or empty directory, since each run replaces pipeline/, serving/ and metadata.db in it"
        )


def prepare_root(root: str) -> None:
    """Marks `root` as this benchmark's directory and removes the previous run's outputs.

    Call `check_arguments` first.
    """
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, MARKER_FILE), "w") as f:
        f.write("lightrank-bench pipeline: pipeline/, serving/ and metadata.db are replaced by every run\n")
    for name in RUN_OUTPUTS:
        path = os.path.join(root, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def prepare_data(root: str, requests: int, seed: int, console: TextIO) -> tuple[int, bool]:
    """The sample data of `requests` requests and `seed` in `<root>/data`, generated unless present.

    Returns:
        `(candidates, reused)`.
    """
    data_dir, manifest_path = os.path.join(root, "data"), os.path.join(root, DATA_MANIFEST)
    wanted = {"requests": requests, "seed": seed, "shards": DATA_SHARDS}
    try:
        with open(manifest_path) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        manifest = {}
    files = manifest.get("files", [])
    if {key: manifest.get(key) for key in wanted} == wanted and files and all(map(os.path.isfile, files)):
        console.write(f"Data: {manifest['candidates']:,} candidates of {requests:,} requests in {data_dir} "
                      "(reused)\n")  # fmt: skip
        return int(manifest["candidates"]), True
    from lightrank.pipeline.sample import write_sample_data

    if os.path.exists(manifest_path):
        os.remove(manifest_path)  # stale from here on, until the new data is complete
    summary = write_sample_data(data_dir, requests=requests, seed=seed, shards=DATA_SHARDS,
                                show_progress=False, overwrite=True)  # fmt: skip
    with open(manifest_path, "w") as f:
        json.dump({**wanted, "candidates": summary.candidates, "files": list(summary.files)}, f, indent=1)
    console.write(f"Data: wrote {summary.candidates:,} candidates of {requests:,} requests to {data_dir} "
                  f"in {summary.seconds:.1f} s\n")  # fmt: skip
    return summary.candidates, False


def bench_config(config_path: str, root: str, overrides: Sequence[str] = ()) -> PipelineConfig:
    """The config at `config_path` plus `overrides`, with data, outputs and ML Metadata in `root`.

    ML Metadata is a SQLite file; the cache is off, so every component really runs.

    Raises:
        ConfigError: If the config or an override is invalid.
    """
    from lightrank.pipeline.config import MetadataConfig, load_config

    config = load_config(config_path, list(overrides))
    root = os.path.abspath(root)
    return config.model_copy(
        update={
            "root": os.path.join(root, "pipeline"),
            "serving_dir": os.path.join(root, "serving"),
            "data": config.data.model_copy(update={"path": os.path.join(root, "data")}),
            "metadata": MetadataConfig(sqlite=os.path.join(root, "metadata.db")),
            "enable_cache": False,
        }
    )
