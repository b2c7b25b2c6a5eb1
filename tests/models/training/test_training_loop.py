from __future__ import annotations

import math
import os

import numpy as np
import pytest
import tensorflow as tf

from lightrank.models.deepnorm.config import DeepNormConfig, TrainingConfig
from lightrank.models.deepnorm.model import deepnorm_light_ranker
from lightrank.models.metrics import formulas
from lightrank.models.training import loop, validation
from lightrank.models.training.loop import make_optimizer, select_trainable_variables, train

G = 4
CONFIG = DeepNormConfig(input_size_bits=8, use_missing_sub_branch=True)


def _dataset(n: int, batch: int, seed: int, nan_label_batch: int | None = None) -> tf.data.Dataset:
    """Labels depend on feature 0 and on whether hashed id 3 is present."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, G)).astype(np.float32)
    x[rng.random((n, G)) < 0.1] = CONFIG.missing_value
    has_signal_id = rng.random(n) < 0.5
    ids = [[3] if s else [] for s in has_signal_id]
    ids = [row + list(rng.integers(4, 256, size=rng.integers(0, 4))) for row in ids]
    logit = 2.0 * np.where(x[:, 0] == CONFIG.missing_value, 0.0, x[:, 0]) + 2.0 * has_signal_id - 1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)[:, None]
    if nan_label_batch is not None:
        y[nan_label_batch * batch] = np.nan
    ragged = tf.ragged.constant(ids, dtype=tf.int64)
    meta = rng.integers(0, 10, size=(n, 1)).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices(({"continuous": x, "sparse_ids": ragged}, y, meta))
    return data.batch(batch).map(
        lambda f, label, w: ({**f, "sparse_ids": f["sparse_ids"].to_sparse()}, label, w)
    )


def test_training_on_a_tiny_synthetic_problem_gives_positive_rce(tmp_path: os.PathLike) -> None:
    model = deepnorm_light_ranker(CONFIG, G)
    # Adam: with the original's 0.99999 BN momentum the merge renorm barely rescales for ~1e5 steps,
    # so the deep gated stack passes a tiny signal that SGD / Adagrad need far more steps to amplify.
    config = TrainingConfig(optimizer="adam", learning_rate=0.01, eval_every_steps=50, seed=3)
    result = train(
        model, _dataset(4096, 64, 0).repeat(2), _dataset(1024, 256, 1), config, CONFIG, str(tmp_path)
    )
    assert result.steps == 128 and result.stop_reason == "data_exhausted"
    assert [e.step for e in result.history] == [50, 100, 128]
    assert result.best_rce > 10.0 and result.history[-1].auc > 0.75
    assert result.history[-1].train_loss < result.history[0].train_loss
    assert result.best_rce == max(e.rce for e in result.history)
    assert result.examples_per_sec > 0 and result.steps_per_sec > 0
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(tmp_path))
    # The model now holds the best evaluated weights.
    _, rce, nrce, _ = validation.evaluate(model, _dataset(1024, 256, 1), CONFIG)
    assert rce == pytest.approx(result.best_rce, abs=1e-6)
    best = next(e for e in result.history if e.rce == result.best_rce)
    assert nrce == pytest.approx(best.nrce, abs=1e-6)


def test_an_evaluation_reports_the_nrce_of_its_predictions_beside_the_rce() -> None:
    model = deepnorm_light_ranker(CONFIG, G)
    # Keep about a fifth of the positives (meta weight 0 or 1): a positive rate near 0.1, far from
    # a fresh model's predictions near 0.5, so rescaling them to the rate (NRCE) wins much back.
    data = _dataset(512, 128, 1).map(lambda f, y, w: (f, y * tf.cast(w < 2.0, y.dtype), w))
    loss, rce, nrce, auc = validation.evaluate(model, data, CONFIG)
    labels = np.concatenate([y.numpy().reshape(-1) for _, y, _ in data])
    logits = np.concatenate([model(f, training=False).numpy().reshape(-1) for f, _, _ in data])
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    # abs: the traced inference and this eager call round float32 logits differently
    assert rce == pytest.approx(formulas.rce(labels, p), abs=1e-5)
    assert nrce == pytest.approx(formulas.nrce(labels, p), abs=1e-5)
    # A fresh model's level is off: NRCE is not RCE under another name.
    assert nrce > rce + 10.0 and auc == pytest.approx(validation.roc_auc(labels != 0, p)) and loss > 0


def test_early_stopping_restores_the_best_weights(
    tmp_path: os.PathLike, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = deepnorm_light_ranker(CONFIG, G)
    crafted = iter([1.0, 5.0, 3.0, 4.0, 9.0])
    weights_at: dict[int, list[np.ndarray]] = {}

    def fake_evaluate(model: tf.keras.Model, *args: object) -> tuple[float, float, float, float]:
        weights_at[len(weights_at) + 1] = [v.numpy() for v in model.variables]
        return 0.5, next(crafted), 7.0, 0.6

    monkeypatch.setattr(loop, "evaluate", fake_evaluate)
    config = TrainingConfig(optimizer="sgd", learning_rate=0.1, eval_every_steps=1, early_stop_patience=2)
    result = train(model, _dataset(640, 64, 0), _dataset(64, 64, 1), config, CONFIG, str(tmp_path))
    assert result.stop_reason == "early_stop" and result.steps == 4
    assert [e.rce for e in result.history] == [1.0, 5.0, 3.0, 4.0]
    assert {(e.nrce, e.auc) for e in result.history} == {(7.0, 0.6)}
    assert (result.best_step, result.best_rce) == (2, 5.0)
    for variable, best in zip(model.variables, weights_at[2], strict=True):
        np.testing.assert_array_equal(variable.numpy(), best)
    assert not all(np.array_equal(a, b) for a, b in zip(weights_at[2], weights_at[4], strict=True))


def test_stopping_on_nrce_picks_the_best_nrce_and_reports_the_rce_there(
    tmp_path: os.PathLike, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A drifting level (the sample's seed 2): RCE peaks first and falls while NRCE still rises.
    crafted = iter([(4.0, 5.0), (3.8, 9.0), (-3.7, 14.0), (-27.6, 16.8), (-19.7, 19.3), (-25.8, 18.0),
                    (-37.3, 17.0)])  # fmt: skip
    monkeypatch.setattr(loop, "evaluate", lambda *args: (0.5, *next(crafted), 0.6))
    config = TrainingConfig(optimizer="sgd", learning_rate=0.1, eval_every_steps=1, early_stop_patience=2,
                            early_stop_metric="nrce")  # fmt: skip
    result = train(
        deepnorm_light_ranker(CONFIG, G), _dataset(640, 64, 0), _dataset(64, 64, 1), config, CONFIG, None
    )
    assert result.stop_reason == "early_stop" and result.steps == 7
    # Best at step 5 (NRCE 19.3); `best_rce` is the RCE measured there, not the NRCE.
    assert (result.best_step, result.best_rce, result.best_value) == (5, -19.7, 19.3)
    # On RCE the same sequence stops at step 3 with the first evaluation's weights.
    crafted = iter([(4.0, 5.0), (3.8, 9.0), (-3.7, 14.0)])
    monkeypatch.setattr(loop, "evaluate", lambda *args: (0.5, *next(crafted), 0.6))
    on_rce = config.model_copy(update={"early_stop_metric": "rce"})
    result = train(
        deepnorm_light_ranker(CONFIG, G), _dataset(640, 64, 0), _dataset(64, 64, 1), on_rce, CONFIG, None
    )
    assert (result.steps, result.best_step, result.best_rce, result.best_value) == (3, 1, 4.0, 4.0)


def test_nan_evaluations_do_not_break_best_tracking(
    tmp_path: os.PathLike, monkeypatch: pytest.MonkeyPatch
) -> None:
    crafted = iter([math.nan, 2.0, math.nan])
    monkeypatch.setattr(loop, "evaluate", lambda *args: (0.5, next(crafted), 1.0, 0.5))
    config = TrainingConfig(eval_every_steps=1, max_steps=3)
    result = train(
        deepnorm_light_ranker(CONFIG, G), _dataset(640, 64, 0), _dataset(64, 64, 1), config, CONFIG, None
    )
    assert (result.best_step, result.best_rce, result.stop_reason) == (2, 2.0, "max_steps")

    monkeypatch.setattr(loop, "evaluate", lambda *args: (0.5, math.nan, math.nan, 0.5))
    result = train(
        deepnorm_light_ranker(CONFIG, G), _dataset(640, 64, 0), _dataset(64, 64, 1), config, CONFIG, None
    )
    assert result.best_step is None and math.isnan(result.best_rce) and len(result.history) == 3


def test_non_finite_loss_names_the_step(tmp_path: os.PathLike) -> None:
    model = deepnorm_light_ranker(CONFIG, G)
    train_ds = _dataset(640, 64, 0, nan_label_batch=2)
    with pytest.raises(FloatingPointError, match="training loss is nan at step 3"):
        train(model, train_ds, _dataset(64, 64, 1), TrainingConfig(), CONFIG, str(tmp_path))


def test_final_state_is_evaluated_when_steps_do_not_divide(tmp_path: os.PathLike) -> None:
    config = TrainingConfig(eval_every_steps=4, max_steps=6)
    result = train(
        deepnorm_light_ranker(CONFIG, G), _dataset(640, 64, 0), _dataset(64, 64, 1), config, CONFIG, None
    )
    assert [e.step for e in result.history] == [4, 6] and result.stop_reason == "max_steps"


def test_trainable_regexes_freeze_everything_else(tmp_path: os.PathLike) -> None:
    config = DeepNormConfig(input_size_bits=8, use_missing_sub_branch=True, trainable_regexes=("LOGIT/.*",))
    model = deepnorm_light_ranker(config, G)
    before = {v.name: v.numpy() for v in model.trainable_variables}
    training_config = TrainingConfig(learning_rate=0.5, max_steps=3)
    train(model, _dataset(640, 64, 0), _dataset(64, 64, 1), training_config, config, str(tmp_path))
    changed = {v.name for v in model.trainable_variables if not np.array_equal(v.numpy(), before[v.name])}
    assert changed and all(name.startswith("logit/") for name in changed)
    with pytest.raises(ValueError, match="match no trainable variable"):
        select_trainable_variables(model, ["nothing_like_this"])


def test_empty_training_data_is_an_error(tmp_path: os.PathLike) -> None:
    with pytest.raises(ValueError, match="training dataset is empty"):
        train(deepnorm_light_ranker(CONFIG, G), _dataset(64, 64, 0).take(0), _dataset(64, 64, 1),
              TrainingConfig(), CONFIG, str(tmp_path))  # fmt: skip


@pytest.mark.parametrize(("name", "cls"), [("sgd", "SGD"), ("adagrad", "Adagrad"), ("adam", "Adam")])
def test_optimizers_are_the_legacy_sparse_aware_ones(name: str, cls: str) -> None:
    optimizer = make_optimizer(TrainingConfig(optimizer=name, learning_rate=0.01))
    assert type(optimizer).__name__ == cls
    assert isinstance(optimizer, tf.keras.optimizers.legacy.Optimizer)
    assert optimizer.learning_rate.numpy() == pytest.approx(0.01)


def test_roc_auc_counts_ties_half_and_needs_both_classes() -> None:
    positive = np.array([True, False, True, False, False])
    scores = np.array([0.9, 0.8, 0.4, 0.4, 0.1])
    # Pairs (pos, neg): 0.9 beats all 3; 0.4 beats 0.1, ties 0.4, loses to 0.8 -> (3 + 1.5) / 6.
    assert validation.roc_auc(positive, scores) == pytest.approx(4.5 / 6)
    assert math.isnan(validation.roc_auc(np.array([True, True]), np.array([0.1, 0.2])))


def test_empty_log_dir_is_rejected() -> None:
    with pytest.raises(ValueError, match="log_dir=''"):
        train(
            deepnorm_light_ranker(CONFIG, G),
            _dataset(64, 64, 0),
            _dataset(64, 64, 1),
            TrainingConfig(),
            CONFIG,
            "",
        )
