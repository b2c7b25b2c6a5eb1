"""Tiny benchmark inputs: candidates, a Transform output, an exported model and a config for them.

`tests/bench/conftest.py` builds them once per session (`tiny`); the constants are here so that
tests can build variants of their own.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import tensorflow as tf
import yaml
from tiny_transform import (
    RAW_SPEC,
    TINY_FEATURES,
    serialize_example,
    transformed_records,
    write_transform_graph,
)

from lightrank.models.deepnorm.config import DeepNormConfig
from lightrank.models.deepnorm.model import deepnorm_light_ranker
from lightrank.models.export import export_serving_model
from lightrank.models.features import CONTINUOUS, SPARSE_IDS
from lightrank.pipeline.config import SAMPLE_CONFIG

BITS = 8
FEATURES = dataclasses.replace(TINY_FEATURES, continuous=("u.age", "c.likes"))
SPEC = {name: spec for name, spec in RAW_SPEC.items() if name != "u.opens"}
DEEPNORM = DeepNormConfig(input_size_bits=BITS, sparse_embedding_size=4, dense_embedding_size=8)
#: 300 candidates, 20 per request; the eval split is the last 5 requests.
CANDIDATES, EVAL_FROM = 300, 200

#: The schema and feature spec a pipeline config needs to resolve the tiny candidates' features.
SCHEMA = """\
feature { name: "u.age" type: FLOAT }
feature { name: "c.likes" type: FLOAT }
feature { name: "c.source" type: BYTES }
feature { name: "u.id" type: INT }
feature { name: "meta.key" type: INT }
feature { name: "meta.weight" type: FLOAT }
feature { name: "meta.score" type: FLOAT }
feature { name: "label.top3" type: INT }
"""
FEATURE_SPEC = {
    "request_key": "meta.key",
    "example_weight": "meta.weight",
    "heavy_score": "meta.score",
    "labels": {"HeavyRankPosition": "label.top3"},
    "missing_value": -1.23456789,
    "features": {r"u\..*": "auto", r"c\..*": "auto"},
}


def row(rng: np.random.Generator, i: int) -> dict[str, object]:
    """Candidate `i`: request `i // 20`, label 1 for the first 3 of each request."""
    return {
        "u.age": [float(rng.gamma(2.0, 100.0))],
        "c.likes": [float(rng.poisson(20))] if i % 4 else [],
        "c.source": [rng.choice([b"in", b"oon", b"topic"])],
        "u.id": [int(rng.integers(1, 10**9)), int(rng.integers(1, 10**9))][: 1 + i % 2],
        "meta.key": i // 20,
        "meta.weight": float(i % 20),
        "meta.score": float(rng.uniform()),
        "label.top3": int(i % 20 < 3),
    }


def write_gz(path: str, records: list[bytes]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for record in records:
            writer.write(record)


def write_config(work: Path) -> str:
    """The sample config with the tiny schema and feature spec, a tiny DeepNorm and a store of its own."""
    (work / "schema.pbtxt").write_text(SCHEMA)
    (work / "feature_spec.yaml").write_text(yaml.safe_dump(FEATURE_SPEC))
    config = yaml.safe_load(Path(SAMPLE_CONFIG).read_text())
    config["schema"] = {"path": str(work / "schema.pbtxt"), "feature_spec": str(work / "feature_spec.yaml")}
    config["model"]["deepnorm"] = {"input_size_bits": BITS, "sparse_embedding_size": 4,
                                   "dense_embedding_size": 8}  # fmt: skip
    config["evaluation"]["slices"] = []
    config["metadata"] = {"sqlite": str(work / "metadata.db")}  # none: never the repository's own runs
    path = work / "tiny.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return str(path)


def build_tiny(work: Path) -> dict[str, str]:
    """Raw candidates (with labels), a Transform output in TFX's layout, an exported model, a config.

    Returns:
        Paths: `data` (candidate TFRecords), `transform` (train split: every candidate; eval split:
        the last 5 requests), `examples` (the same splits of raw candidates, as ExampleGen writes
        them), `model` (a SavedModel), `serving` (its directory of versions) and `config` (a
        pipeline config whose features are the candidates').
    """
    rng = np.random.default_rng(0)
    rows = [row(rng, i) for i in range(CANDIDATES)]
    write_gz(str(work / "data" / "part-00000.tfrecord.gz"), [serialize_example(r) for r in rows])
    graph_dir = str(work / "Transform" / "transform_graph" / "3")
    transform_output = write_transform_graph(rows, SPEC, FEATURES, BITS, graph_dir)

    records = transformed_records(rows, SPEC, transform_output)
    examples = work / "Transform" / "transformed_examples" / "3"
    write_gz(str(examples / "Split-train" / "part-0.gz"), records)
    write_gz(str(examples / "Split-eval" / "part-0.gz"), records[EVAL_FROM:])
    # The raw examples that Transform output was computed from, in ExampleGen's layout.
    raw = [serialize_example(r) for r in rows]
    raw_examples = work / "ImportExampleGen" / "examples" / "1"
    write_gz(str(raw_examples / "Split-train" / "part-0.gz"), raw)
    write_gz(str(raw_examples / "Split-eval" / "part-0.gz"), raw[EVAL_FROM:])

    tf.keras.utils.set_random_seed(1)
    model = deepnorm_light_ranker(DEEPNORM, len(FEATURES.continuous))
    model_dir = str(work / "serving" / "1700000000")
    settings = {"kind": "deepnorm", "task": "HeavyRankPosition", "deepnorm": DEEPNORM.model_dump(mode="json")}
    export_serving_model(model, transform_output, FEATURES, (CONTINUOUS, SPARSE_IDS), model_dir, settings)
    return {"data": str(work / "data"), "transform": str(work / "Transform"), "model": model_dir,
            "examples": str(raw_examples), "serving": str(work / "serving"),
            "config": write_config(work)}  # fmt: skip
