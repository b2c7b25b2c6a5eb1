"""Helpers for end-to-end runs: a fast config and a quiet runner."""

from __future__ import annotations

import io
from pathlib import Path

from lightrank.pipeline.config import SAMPLE_CONFIG, PipelineConfig, load_config
from lightrank.pipeline.local_runner import run_local


def tiny_overrides(workdir: Path, data_path: str) -> list[str]:
    """The `--set` values that point the sample config at `workdir`, with a training budget of seconds."""
    return [
        f"root={workdir}/root",
        f"serving_dir={workdir}/serving",
        f"metadata.sqlite={workdir}/metadata.db",
        f"data.path={data_path}",
        "model.training.max_steps=40",
        "model.training.eval_every_steps=20",
        "model.training.batch_size=64",
        "evaluation.thresholds={auc_unweighted: {lower_bound: 0.0}}",
    ]


def tiny_config(workdir: Path, data_path: str, *overrides: str) -> PipelineConfig:
    """The sample config pointed at `workdir`, with a training budget of seconds."""
    return load_config(SAMPLE_CONFIG, [*tiny_overrides(workdir, data_path), *overrides])


def run(config: PipelineConfig, workdir: Path) -> str:
    """Runs the pipeline, returning what the progress display printed."""
    console = io.StringIO()
    run_local(config, console=console)
    return console.getvalue()


def write_doctored_data(data_dir: str, out: Path) -> str:
    """A copy of the data whose `candidate.source` leaves the schema's domain: a schema anomaly.

    Values the preflight can judge record by record (types, the request key, non-finite
    weights) stop the run before any component; a value outside a feature's domain is the
    kind only TFDV's statistics see, so it reaches the ExampleValidator and the anomaly gate.
    """
    import glob
    import os

    import tensorflow as tf

    out.mkdir()
    files = sorted(glob.glob(os.path.join(data_dir, "*")))
    with tf.io.TFRecordWriter(str(out / "part-0.tfrecord.gz"), options="GZIP") as writer:
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator():
            example = tf.train.Example.FromString(record)
            feature = example.features.feature["candidate.source"]
            feature.Clear()
            feature.bytes_list.value.append(b"carrier_pigeon")
            writer.write(example.SerializeToString())
    return str(out)
