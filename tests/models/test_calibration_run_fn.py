"""`run_fn` with `model.calibration: platt` on a tiny prior-shifted Transform output.

The eval split's positive rate is about a quarter of train's, so the model as trained
over-predicts there; the exported model must serve `sigmoid(a * logit + b)` with the a and b
recorded in `model_settings.json`, and the training summary must hold RCE and NRCE before and
after calibration.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs
from tiny_transform import RAW_SPEC, serialize_example, transformed_records, write_gz, write_transform_graph

from lightrank.models import trainer
from lightrank.models.deepnorm.config import DeepNormConfig, TrainingConfig
from lightrank.models.deepnorm.model import deepnorm_light_ranker
from lightrank.models.export import KERAS_WEIGHTS_DIR, SETTINGS_FILE
from lightrank.models.features import CONTINUOUS, SPARSE_IDS, ResolvedFeatures
from lightrank.models.training.validation import roc_auc

BITS = 6
TASK = "HeavyRankPosition"
FEATURES = ResolvedFeatures(
    continuous=("u.age", "c.likes"),
    sparse=("c.source", "u.id"),
    int_sparse=("u.id",),
    request_key="meta.key",
    example_weight="meta.weight",
    heavy_score="meta.score",
    labels={TASK: "label.top3"},
    missing_value=-1.23456789,
    slice_buckets={},
)
DEEPNORM = DeepNormConfig(input_size_bits=BITS, sparse_embedding_size=4, dense_embedding_size=8,
                          momentum=0.99, use_missing_sub_branch=True, task=TASK)  # fmt: skip
TRAINING = TrainingConfig(optimizer="adam", learning_rate=0.05, batch_size=32, eval_every_steps=20,
                          max_steps=40, seed=1)  # fmt: skip
TRAIN_ROWS, EVAL_ROWS = 480, 400


def _row(rng: np.random.Generator, i: int, shift: float) -> dict[str, object]:
    likes = float(rng.poisson(20))
    rate = (0.6 if likes > 20 else 0.15) * shift
    return {
        "u.age": [float(rng.gamma(2.0, 100.0))],
        "u.opens": [],
        "c.likes": [likes],
        "c.source": [rng.choice([b"in", b"oon", b"topic"])],
        "u.id": [int(rng.integers(1, 40))],
        "meta.key": i // 20,
        "meta.weight": float(i % 20),
        "meta.score": float(rng.uniform()),
        "label.top3": int(rng.uniform() < rate),
    }


@pytest.fixture(scope="module")
def calibrated_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    rng = np.random.default_rng(0)
    train_rows = [_row(rng, i, 1.0) for i in range(TRAIN_ROWS)]
    eval_rows = [_row(rng, TRAIN_ROWS + i, 0.25) for i in range(EVAL_ROWS)]  # the prior shift
    work = str(tmp_path_factory.mktemp("calibrated"))
    graph = os.path.join(work, "transform_graph")
    transform_output = write_transform_graph(train_rows, RAW_SPEC, FEATURES, BITS, graph)
    records = transformed_records(train_rows + eval_rows, RAW_SPEC, transform_output)
    train_file = os.path.join(work, "Split-train", "part-0.gz")
    eval_file = os.path.join(work, "Split-eval", "part-0.gz")
    write_gz(train_file, records[:TRAIN_ROWS])
    write_gz(eval_file, records[TRAIN_ROWS:])
    os.makedirs(os.path.join(work, "model_run"))
    custom = {
        "features": FEATURES.to_dict(),
        "kind": "deepnorm",
        "task": TASK,
        "preset": "default",
        "deepnorm": DEEPNORM.model_dump(mode="json"),
        "training": TRAINING.model_dump(mode="json"),
        "input_size_bits": BITS,
        "max_steps": TRAINING.max_steps,
        "calibration": "platt",
    }
    fn_args = FnArgs(
        working_dir=work,
        train_files=[train_file],
        eval_files=[eval_file],
        train_steps=TRAINING.max_steps,
        transform_output=graph,
        transform_graph_path=graph,
        serving_model_dir=os.path.join(work, "Format-Serving"),
        model_run_dir=os.path.join(work, "model_run"),
        base_model=None,
        custom_config=custom,
    )
    trainer.run_fn(fn_args)
    return {"fn_args": fn_args, "graph": graph, "eval_rows": eval_rows}


def _keras_logits(export_dir: str, graph: str, rows: list[dict[str, object]]) -> np.ndarray:
    """The exported Keras weights' raw logits on raw rows, through the Transform graph."""
    model = deepnorm_light_ranker(DEEPNORM, len(FEATURES.continuous))
    model.load_weights(os.path.join(export_dir, KERAS_WEIGHTS_DIR, "weights")).expect_partial()
    raw = tf.io.parse_example(tf.constant([serialize_example(row) for row in rows]), RAW_SPEC)
    transformed = tft.TFTransformOutput(graph).transform_raw_features(raw)
    inputs = {CONTINUOUS: transformed[CONTINUOUS], SPARSE_IDS: transformed[SPARSE_IDS]}
    return model(inputs, training=False).numpy().reshape(-1).astype(np.float64)


def test_run_fn_records_platt_with_the_model_and_its_effect_in_the_summary(calibrated_run):
    fn_args = calibrated_run["fn_args"]
    with open(os.path.join(fn_args.serving_model_dir, SETTINGS_FILE)) as f:
        recorded = json.load(f)["calibration"]
    with open(os.path.join(fn_args.model_run_dir, trainer.TRAINING_SUMMARY_FILE)) as f:
        summary = json.load(f)
    assert recorded == summary["calibration"]
    assert recorded["method"] == "platt" and recorded["applied"] and recorded["fitted_on"] == "eval"
    assert recorded["a"] > 0.0 and recorded["b"] < 0.0  # the eval split's odds are lower
    assert recorded["examples"] == EVAL_ROWS
    before, after = recorded["before"], recorded["after"]
    assert summary["best_eval"] == before  # NRCE beside RCE for the weights as trained
    assert after["rce_unweighted"] > before["rce_unweighted"]
    assert after["auc_unweighted"] == pytest.approx(before["auc_unweighted"], abs=1e-12)
    assert after["predicted_ctr_unweighted"] == pytest.approx(after["ctr_unweighted"], rel=1e-6)
    assert before["nrce_unweighted"] is not None and after["nrce_unweighted"] is not None


def test_the_exported_model_serves_sigmoid_of_a_logit_plus_b(calibrated_run):
    fn_args, rows = calibrated_run["fn_args"], calibrated_run["eval_rows"]
    with open(os.path.join(fn_args.serving_model_dir, SETTINGS_FILE)) as f:
        recorded = json.load(f)["calibration"]
    a, b = recorded["a"], recorded["b"]
    logits = _keras_logits(fn_args.serving_model_dir, calibrated_run["graph"], rows)
    loaded = tf.saved_model.load(fn_args.serving_model_dir)
    examples = tf.constant([serialize_example(row, with_labels=False) for row in rows])
    served = loaded.signatures["serving_default"](examples=examples)["prediction"].numpy().reshape(-1)
    expected = 1.0 / (1.0 + np.exp(-(a * logits + b)))
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-6)
    assert np.abs(served - 1.0 / (1.0 + np.exp(-logits))).max() > 1e-3  # not the raw sigmoid
    # The two-step path (featurise, then score the transformed inputs) is calibrated alike.
    inputs = loaded.signatures["serving_features"](examples=examples)
    two_step = loaded.signatures["serving_transformed"](**inputs)["prediction"].numpy().reshape(-1)
    np.testing.assert_allclose(two_step, served, rtol=1e-6, atol=1e-7)
    # Calibration is monotone: the served ranking is the logits' ranking, the AUC the same.
    labels = np.array([row["label.top3"] for row in rows]) != 0
    assert roc_auc(labels, served) == pytest.approx(roc_auc(labels, logits), abs=1e-12)
