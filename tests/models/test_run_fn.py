"""The Trainer's `run_fn` on a tiny Transform output: logs, best-weights export, warm starts.

`run_fn` gets a real `FnArgs` filled as the TFX Trainer fills it; the Transform output is
written by `tiny_transform` with the project's `preprocessing_fn`.
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs
from tiny_transform import RAW_SPEC as SPEC
from tiny_transform import serialize_example, tiny_row, transformed_records, write_gz, write_transform_graph

from lightrank.models import trainer
from lightrank.models.baseline.model import logistic_regression
from lightrank.models.deepnorm.config import DeepNormConfig, TrainingConfig
from lightrank.models.deepnorm.model import deepnorm_light_ranker
from lightrank.models.export import FEATURE_LIST_FILE, KERAS_WEIGHTS_DIR, SETTINGS_FILE
from lightrank.models.features import CONTINUOUS, SPARSE_IDS, ResolvedFeatures
from lightrank.models.training import loop

BITS = 6
TASK = "HeavyRankPosition"
MISSING = -1.23456789
#: The base model's continuous features; the runs here drop u.age and add u.opens.
OLD_CONTINUOUS = ("u.age", "c.likes")
CONTINUOUS_FEATURES = ("c.likes", "u.opens")
#: The base model learnt its z-score statistics at the original's momentum; the runs use 0.99.
OLD_DEEPNORM = DeepNormConfig(input_size_bits=BITS, sparse_embedding_size=4, dense_embedding_size=8)
DEEPNORM = DeepNormConfig(input_size_bits=BITS, sparse_embedding_size=4, dense_embedding_size=8,
                          momentum=0.99, use_missing_sub_branch=True)  # fmt: skip
WARM_START_TRAINING = TrainingConfig(optimizer="adagrad", learning_rate=0.05, batch_size=64, max_steps=2)


def _features(continuous: tuple[str, ...]) -> ResolvedFeatures:
    return ResolvedFeatures(
        continuous=continuous,
        sparse=("c.source", "u.id"),
        int_sparse=("u.id",),
        request_key="meta.key",
        example_weight="meta.weight",
        heavy_score="meta.score",
        labels={TASK: "label.top3"},
        missing_value=MISSING,
        slice_buckets={},
    )


def _transform(work: str, rows: list[dict[str, object]]) -> dict[str, str]:
    """A Transform output in TFX's layout: the graph and the transformed train / eval splits."""
    graph_dir = os.path.join(work, "transform_graph")
    transform_output = write_transform_graph(rows, SPEC, _features(CONTINUOUS_FEATURES), BITS, graph_dir)
    records = transformed_records(rows, SPEC, transform_output)
    train_file = os.path.join(work, "Split-train", "part-0.gz")
    eval_file = os.path.join(work, "Split-eval", "part-0.gz")
    write_gz(train_file, records[:240])
    write_gz(eval_file, records[240:])
    return {"graph": graph_dir, "train": train_file, "eval": eval_file}


def _fn_args(work: str, transform: dict[str, str], custom: dict, base_model: str | None = None) -> FnArgs:
    """The arguments the TFX Trainer passes: the splits, the graph, the output dirs, the base model."""
    os.makedirs(os.path.join(work, "model_run"), exist_ok=True)
    return FnArgs(
        working_dir=work,
        train_files=[transform["train"]],
        eval_files=[transform["eval"]],
        train_steps=custom["training"]["max_steps"],
        transform_output=transform["graph"],
        transform_graph_path=transform["graph"],
        serving_model_dir=os.path.join(work, "Format-Serving"),
        model_run_dir=os.path.join(work, "model_run"),
        base_model=base_model,
        custom_config=custom,
    )


def _custom(kind: str, training_config: TrainingConfig) -> dict:
    """`custom_config` as `lightrank.models.settings.model_custom_config` writes it."""
    return {
        "features": _features(CONTINUOUS_FEATURES).to_dict(),
        "kind": kind,
        "task": TASK,
        "preset": "default",
        "deepnorm": DEEPNORM.model_dump(mode="json"),
        "training": training_config.model_dump(mode="json"),
        "input_size_bits": BITS,
        "max_steps": training_config.max_steps,
    }


@pytest.fixture(scope="module")
def transform(tmp_path_factory: pytest.TempPathFactory) -> dict:
    rng = np.random.default_rng(0)
    rows = [tiny_row(rng, i) for i in range(320)]
    return {"rows": rows, **_transform(str(tmp_path_factory.mktemp("transform")), rows)}


@pytest.fixture(scope="module")
def trained(transform: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A DeepNorm run whose crafted evaluations make step 4 (of 6) the best, and every evaluated state."""
    config = TrainingConfig(optimizer="adam", learning_rate=0.05, batch_size=32, eval_every_steps=2,
                            max_steps=6, seed=1)  # fmt: skip
    fn_args = _fn_args(str(tmp_path_factory.mktemp("trained")), transform, _custom("deepnorm", config))
    crafted = iter([1.0, 5.0, 3.0])
    weights_at: list[list[np.ndarray]] = []

    def fake_evaluate(model: tf.keras.Model, *args: object) -> tuple[float, float, float, float]:
        weights_at.append([v.numpy() for v in model.variables])
        rce = next(crafted)
        return 0.5, rce, rce + 2.0, 0.6

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loop, "evaluate", fake_evaluate)
        trainer.run_fn(fn_args)
    return {"fn_args": fn_args, "weights_at": weights_at}


def _model_with(values: list[np.ndarray]) -> tf.keras.Model:
    model = deepnorm_light_ranker(DEEPNORM, len(CONTINUOUS_FEATURES))
    for variable, value in zip(model.variables, values, strict=True):
        variable.assign(value)
    return model


def _keras_probabilities(
    model: tf.keras.Model, transform_dir: str, rows: list[dict[str, object]]
) -> np.ndarray:
    raw = tf.io.parse_example(tf.constant([serialize_example(row) for row in rows]), SPEC)
    transformed = tft.TFTransformOutput(transform_dir).transform_raw_features(raw)
    logits = model({CONTINUOUS: transformed[CONTINUOUS], SPARSE_IDS: transformed[SPARSE_IDS]}, training=False)
    return tf.sigmoid(logits).numpy()


def test_run_fn_logs_to_tensorboard_and_records_every_evaluation(trained):
    fn_args = trained["fn_args"]
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(fn_args.model_run_dir))
    with open(os.path.join(fn_args.model_run_dir, trainer.TRAINING_SUMMARY_FILE)) as f:
        summary = json.load(f)
    assert [(e["step"], e["rce"]) for e in summary["history"]] == [(2, 1.0), (4, 5.0), (6, 3.0)]
    assert [e["nrce"] for e in summary["history"]] == [3.0, 7.0, 5.0]
    assert (summary["best_step"], summary["best_rce_unweighted"], summary["steps"]) == (4, 5.0, 6)
    assert summary["early_stop_metric"] == "rce"  # what chose step 4, for the report and `lineage`
    with open(os.path.join(fn_args.serving_model_dir, FEATURE_LIST_FILE)) as f:
        assert json.load(f) == list(CONTINUOUS_FEATURES)


def test_run_fn_exports_the_best_weights_not_the_last(trained, transform):
    fn_args, rows = trained["fn_args"], transform["rows"][240:]
    best, last = trained["weights_at"][1], trained["weights_at"][2]
    assert not all(np.array_equal(a, b) for a, b in zip(best, last, strict=True))
    exported = deepnorm_light_ranker(DEEPNORM, len(CONTINUOUS_FEATURES))
    exported.load_weights(os.path.join(fn_args.serving_model_dir, KERAS_WEIGHTS_DIR, "weights"))
    for variable, value in zip(exported.variables, best, strict=True):
        np.testing.assert_array_equal(variable.numpy(), value, err_msg=variable.name)

    serve = tf.saved_model.load(fn_args.serving_model_dir).signatures["serving_default"]
    served = serve(examples=tf.constant([serialize_example(r, with_labels=False) for r in rows]))
    expected_best = _keras_probabilities(_model_with(best), transform["graph"], rows)
    expected_last = _keras_probabilities(_model_with(last), transform["graph"], rows)
    np.testing.assert_allclose(served["prediction"].numpy(), expected_best, rtol=1e-5, atol=1e-6)
    assert np.abs(expected_last - expected_best).max() > 1e-3  # the last state scores differently


def _write_base(directory: str, kind: str, model: tf.keras.Model) -> str:
    """What a warm start reads from the base model's export: settings, feature list, Keras weights."""
    model.save_weights(os.path.join(directory, KERAS_WEIGHTS_DIR, "weights"))
    with open(os.path.join(directory, SETTINGS_FILE), "w") as f:
        json.dump({"kind": kind, "task": TASK, "deepnorm": OLD_DEEPNORM.model_dump(mode="json")}, f)
    with open(os.path.join(directory, FEATURE_LIST_FILE), "w") as f:
        json.dump(list(OLD_CONTINUOUS), f)
    return directory


class _WarmStartedError(Exception):
    """Ends `run_fn` right after its warm start: training and export are the other tests' business."""


def _warm_start_through_run_fn(
    kind: str, base_dir: str, transform: dict, work: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, np.ndarray], str]:
    """Runs `run_fn` with `base_model` set; returns the model's variables as training would start."""
    started: dict[str, np.ndarray] = {}

    def stop_at_train(model: tf.keras.Model, *args: object, **kwargs: object) -> None:
        started.update({v.name.removesuffix(":0"): v.numpy() for v in model.variables})
        raise _WarmStartedError

    monkeypatch.setattr(trainer, "train", stop_at_train)
    # The resolver hands over the Model artifact's root; run_fn looks inside Format-Serving too.
    fn_args = _fn_args(work, transform, _custom(kind, WARM_START_TRAINING), os.path.dirname(base_dir))
    with pytest.raises(_WarmStartedError):
        trainer.run_fn(fn_args)
    return started, fn_args.base_model


def test_run_fn_warm_starts_overlapping_features_from_the_base_model(
    transform, tmp_path, monkeypatch, caplog
):
    base = deepnorm_light_ranker(OLD_DEEPNORM, len(OLD_CONTINUOUS))
    rng = np.random.default_rng(3)
    for variable in base.trainable_variables:
        variable.assign(variable + rng.normal(0.0, 0.1, size=variable.shape).astype(np.float32))
    for _ in range(3):  # z-score statistics learnt at momentum 0.99999: means near 10 and 50
        x = np.stack([rng.normal(10.0, 2.0, 16), rng.normal(50.0, 5.0, 16)], axis=1).astype(np.float32)
        ids = tf.ragged.constant([[1, 2]] * 16, dtype=tf.int64).to_sparse()
        base({CONTINUOUS: x, SPARSE_IDS: ids}, training=True)
    base_dir = _write_base(str(tmp_path / "base" / "Format-Serving"), "deepnorm", base)
    base_values = {v.name.removesuffix(":0"): v.numpy() for v in base.variables}

    with caplog.at_level(logging.INFO, logger="lightrank.models.trainer"):
        started, _ = _warm_start_through_run_fn(
            "deepnorm", base_dir, transform, str(tmp_path / "run"), monkeypatch
        )

    message = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("warm start from"))
    assert "features kept 1, added ['u.opens'], dropped ['u.age']" in message
    assert "not in the previous model ['missing_embedding/" in message  # the base had no missing branch
    # c.likes was column 1 of the base and is column 0 now; u.opens (column 1) starts at mean 0 / var 1.
    assert base_values["zscore/moving_mean"][1] == pytest.approx(50.0, abs=3.0)
    for stat, fill in (("zscore/moving_mean", 0.0), ("zscore/moving_var", 1.0)):
        assert started[stat][0] == base_values[stat][1] and started[stat][1] == fill
        # Learnt at momentum 0.99999 over 3 steps, the shadow now debiases to the same value at 0.99.
        assert started[f"{stat}_local_step"] == 3.0
        assert started[f"{stat}_biased"][0] / (1.0 - 0.99**3) == pytest.approx(
            base_values[stat][1], rel=1e-12
        )
    for name in ("sparse_embedding/embeddings", "continuous_embedding/projection/bias", "logit/gate/kernel"):
        np.testing.assert_array_equal(started[name], base_values[name])
    np.testing.assert_array_equal(
        started["continuous_embedding/projection/kernel"][0],
        base_values["continuous_embedding/projection/kernel"][1],
    )


def test_run_fn_warm_starts_a_logistic_model_from_the_previous_one(transform, tmp_path, monkeypatch, caplog):
    base = logistic_regression(len(OLD_CONTINUOUS), BITS, MISSING)
    rng = np.random.default_rng(4)
    for variable in base.variables:
        variable.assign(rng.normal(size=variable.shape).astype(np.float32))
    base_dir = _write_base(str(tmp_path / "base" / "Format-Serving"), "logistic", base)

    with caplog.at_level(logging.INFO, logger="lightrank.models.trainer"):
        started, _ = _warm_start_through_run_fn(
            "logistic", base_dir, transform, str(tmp_path / "run"), monkeypatch
        )

    message = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("warm start from"))
    assert "copied ['dense_weights/bias', 'sparse_weights/weights']" in message
    assert "re-indexed by feature ['dense_weights/kernel']; skipped (shape differs) []" in message
    np.testing.assert_array_equal(
        started["sparse_weights/weights"], base.get_layer("sparse_weights").weights_table
    )
    np.testing.assert_array_equal(started["dense_weights/bias"], base.get_layer("dense_weights").bias)
    # Kernel rows: scaled c.likes, u.opens, then their missing indicators; the base's: u.age, c.likes.
    old_kernel = base.get_layer("dense_weights").kernel.numpy()
    np.testing.assert_array_equal(started["dense_weights/kernel"][[0, 2]], old_kernel[[1, 3]])
    np.testing.assert_array_equal(started["dense_weights/kernel"][[1, 3]], 0.0)


def test_a_checkpoint_that_does_not_fill_the_described_model_is_an_error(tmp_path):
    # The settings say DeepNorm, the weights are a logistic model's: most variables would stay unset.
    base_dir = _write_base(str(tmp_path), "deepnorm", logistic_regression(len(OLD_CONTINUOUS), BITS, MISSING))
    model = deepnorm_light_ranker(DEEPNORM, len(CONTINUOUS_FEATURES))
    before = [v.numpy() for v in model.variables]
    with pytest.raises(ValueError, match=f"cannot warm-start from {base_dir}: its weights .* do not match"):
        trainer._warm_start_from(model, "deepnorm", base_dir, _features(CONTINUOUS_FEATURES))
    for variable, value in zip(model.variables, before, strict=True):
        np.testing.assert_array_equal(variable.numpy(), value)


def test_a_complete_checkpoint_restores_strictly(tmp_path):
    old = deepnorm_light_ranker(OLD_DEEPNORM, len(OLD_CONTINUOUS))
    for variable in old.trainable_variables:
        variable.assign(variable + 0.5)
    base_dir = _write_base(str(tmp_path), "deepnorm", old)
    new = deepnorm_light_ranker(OLD_DEEPNORM, len(OLD_CONTINUOUS))
    report = trainer._warm_start_from(new, "deepnorm", base_dir, _features(OLD_CONTINUOUS))
    assert not report.skipped and not report.not_in_old and report.added_features == ()
    for old_variable, new_variable in zip(old.variables, new.variables, strict=True):
        np.testing.assert_array_equal(new_variable.numpy(), old_variable.numpy())


def test_a_base_model_without_settings_is_skipped_with_a_warning(tmp_path, caplog):
    os.makedirs(tmp_path / "Format-Serving")
    with caplog.at_level(logging.WARNING, logger="lightrank.models.trainer"):
        assert trainer._base_model_dir(FnArgs(base_model=str(tmp_path))) is None
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert f"the base model {tmp_path} has no {SETTINGS_FILE}" in record.getMessage()
    assert trainer._base_model_dir(FnArgs(base_model=None)) is None
    assert len(caplog.records) == 1  # no base model at all is not worth a warning


def test_an_imported_pushed_model_is_found_one_level_above_what_tfx_hands_over(tmp_path):
    # TFX passes `<artifact uri>/Format-Serving`; a pushed version is the export itself.
    pushed = tmp_path / "serving" / "1795917291"
    pushed.mkdir(parents=True)
    (pushed / SETTINGS_FILE).write_text("{}")
    handed_over = str(pushed / "Format-Serving")
    assert trainer._base_model_dir(FnArgs(base_model=handed_over)) == str(pushed)
    # A Trainer's model artifact still resolves to its Format-Serving directory.
    trainer_model = tmp_path / "Trainer" / "model" / "7" / "Format-Serving"
    trainer_model.mkdir(parents=True)
    (trainer_model / SETTINGS_FILE).write_text("{}")
    assert trainer._base_model_dir(FnArgs(base_model=str(trainer_model))) == str(trainer_model)
