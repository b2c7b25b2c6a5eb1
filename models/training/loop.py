"""The light ranker's training loop, independent of TFX (docs/model.md, Training).

A custom loop rather than `model.fit`, because the original's behaviour is easier to
state directly: plain constant-rate updates through a *legacy* Keras optimizer (their
sparse `IndexedSlices` path touches only the embedding rows in the batch, ~15x faster
than tf-keras 2.16's new optimizers on the 2**18 x 50 table), optional variable
filtering by regex, an evaluation on the whole eval set every `eval_every_steps`
(unweighted RCE via `lightrank.models.metrics.formulas`, loss, AUC, logged to TensorBoard), early
stopping on that RCE (or on NRCE, `TrainingConfig.early_stop_metric`), and at the end the *best*
weights restored in place.

Datasets yield `(features, label [B, 1] float32, meta_weight [B, 1] float32)` with
`features = {"continuous": [B, G], "sparse_ids": SparseTensor [B, None]}`, already
batched (by `TrainingConfig.batch_size`). Seed TF (`tf.keras.utils.set_random_seed`)
before building the model for reproducible initial weights; `train` re-seeds with
`TrainingConfig.seed` for the dropout draws.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import time
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from lightrank.models.deepnorm.config import DeepNormConfig, TrainingConfig
from lightrank.models.training.early_stopping import EarlyStopping
from lightrank.models.training.steps import make_train_loop, make_train_step
from lightrank.models.training.validation import evaluate, inference_function

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Metrics of one full pass over the evaluation data.

    Attributes:
        step: Training steps done when evaluated.
        train_loss: Mean training loss over the steps since the previous evaluation.
        loss: Evaluation loss, defined as the training loss (record-weighted if configured).
        rce: Unweighted RCE in percent (NaN if the eval labels hold one class).
        nrce: Unweighted NRCE in percent: the RCE of the predictions rescaled to the eval split's
            positive rate, which a prior shift between train and eval does not push down.
        auc: Unweighted exact ROC AUC, labels binarised as `label != 0` (as twml's AUC).
    """

    step: int
    train_loss: float
    loss: float
    rce: float
    nrce: float
    auc: float


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """Outcome of `train`.

    Attributes:
        history: Every evaluation, in order.
        best_step: Step of the best evaluation (the weights now in the model); None if every RCE was NaN,
            in which case the model keeps its final weights.
        best_rce: Unweighted RCE at `best_step` (NaN when `best_step` is None).
        best_value: The early-stopping metric (`TrainingConfig.early_stop_metric`) at `best_step`:
            the value the best evaluation was chosen by (NaN when `best_step` is None).
        steps: Training steps run.
        steps_per_sec: Training throughput, evaluation time excluded.
        examples_per_sec: Same, in examples.
        stop_reason: "early_stop", "max_steps" or "data_exhausted".
    """

    history: tuple[Evaluation, ...]
    best_step: int | None
    best_rce: float
    best_value: float
    steps: int
    steps_per_sec: float
    examples_per_sec: float
    stop_reason: str


def make_optimizer(config: TrainingConfig) -> tf.keras.optimizers.legacy.Optimizer:
    """The configured legacy optimizer at a constant learning rate (SGD has no momentum, as TF1's)."""
    optimizers = {
        "sgd": tf.keras.optimizers.legacy.SGD,
        "adagrad": tf.keras.optimizers.legacy.Adagrad,
        "adam": tf.keras.optimizers.legacy.Adam,
    }
    return optimizers[config.optimizer](learning_rate=config.learning_rate)


def select_trainable_variables(model: tf.keras.Model, regexes: Sequence[str] | None) -> list[tf.Variable]:
    """Trainable variables whose name `re.match`es any regex, case-insensitively (twml `graph_utils`).

    Raises:
        ValueError: If regexes are given but match no trainable variable.
    """
    variables = list(model.trainable_variables)
    if regexes is None:
        return variables
    selected = [v for v in variables if any(re.match(r, v.name, re.IGNORECASE) for r in regexes)]
    if not selected:
        names = [v.name for v in variables]
        raise ValueError(
            f"trainable_regexes={list(regexes)!r} match no trainable variable; names are {names}"
        )
    return selected


#: Most steps one traced loop call runs (a call also ends at the next evaluation or `max_steps`).
MAX_STEPS_PER_CALL = 100


def _steps_to_boundary(step: int, config: TrainingConfig) -> int:
    """Steps from `step` to the next evaluation, `max_steps` or `MAX_STEPS_PER_CALL`, whichever is first."""
    steps = MAX_STEPS_PER_CALL
    if config.eval_every_steps:
        steps = min(steps, config.eval_every_steps - step % config.eval_every_steps)
    if config.max_steps is not None:
        steps = min(steps, config.max_steps - step)
    return max(steps, 1)


def _snapshot(model: tf.keras.Model) -> list[np.ndarray]:
    return [v.numpy() for v in model.variables]


def _restore(model: tf.keras.Model, values: list[np.ndarray]) -> None:
    for variable, value in zip(model.variables, values, strict=True):
        variable.assign(value)


def train(
    model: tf.keras.Model,
    train_ds: tf.data.Dataset,
    eval_ds: tf.data.Dataset,
    training_config: TrainingConfig,
    deepnorm_config: DeepNormConfig,
    log_dir: str | None,
) -> TrainResult:
    """Trains `model` (a logit model) in place and leaves the best evaluated weights in it.

    Stops at `max_steps`, when `train_ds` is exhausted, or when early stopping fires; the
    last step is always evaluated, so the best is chosen among all evaluated states.

    Args:
        model: A logit model from `deepnorm_light_ranker`.
        train_ds: Batched `(features, label, meta_weight)`; repeat it for several epochs.
        eval_ds: Batched the same way; evaluated in full at every evaluation.
        training_config: Optimizer, schedule of evaluations, stopping rules, seed.
        deepnorm_config: Loss definition, task name (metric names) and `trainable_regexes`.
        log_dir: TensorBoard directory for the train/eval scalars; None writes no summaries.

    Raises:
        FloatingPointError: If a training loss is NaN or infinite (the model's weights are then
            those after the offending step).
        ValueError: If the training dataset is empty, the regexes match nothing or `log_dir` is "".
    """
    if log_dir == "":
        raise ValueError("log_dir='' is invalid: expected a directory path, or None for no summaries")
    if training_config.seed is not None:
        tf.random.set_seed(training_config.seed)
    variables = select_trainable_variables(model, deepnorm_config.trainable_regexes)
    optimizer = make_optimizer(training_config)
    stopper = EarlyStopping(training_config.early_stop_patience, training_config.early_stop_min_delta)
    metric_name = f"rce_unweighted_{deepnorm_config.task}"
    writer = tf.summary.create_noop_writer() if log_dir is None else tf.summary.create_file_writer(log_dir)
    predict = inference_function(model)

    train_step = make_train_step(model, optimizer, variables, deepnorm_config)
    train_loop = make_train_loop(model, optimizer, variables, deepnorm_config)

    history: list[Evaluation] = []
    best_weights: list[np.ndarray] | None = None
    step = examples = 0
    loss_sum, loss_steps, train_seconds = 0.0, 0, 0.0
    stop_reason = "data_exhausted"

    def run_evaluation() -> bool:
        nonlocal best_weights, loss_sum, loss_steps
        loss, rce, nrce, auc = evaluate(model, eval_ds, deepnorm_config, predict)
        record = Evaluation(step, loss_sum / max(loss_steps, 1), loss, rce, nrce, auc)
        history.append(record)
        loss_sum, loss_steps = 0.0, 0
        with writer.as_default(step=step):
            tf.summary.scalar("train/loss", record.train_loss)
            tf.summary.scalar("train/steps_per_sec", step / max(train_seconds, 1e-9))
            tf.summary.scalar("eval/loss", loss)
            tf.summary.scalar(f"eval/{metric_name}", rce)
            tf.summary.scalar(f"eval/nrce_unweighted_{deepnorm_config.task}", nrce)
            tf.summary.scalar(f"eval/roc_auc_unweighted_{deepnorm_config.task}", auc)
        writer.flush()
        decision = stopper.update(step, nrce if training_config.early_stop_metric == "nrce" else rce)
        if decision.improved:
            best_weights = _snapshot(model)
        suffix = " (best)" if decision.improved else ""
        logger.info(
            "step %d: loss %.5f %s %.4f nrce %.4f auc %.4f%s", step, loss, metric_name, rce, nrce, auc, suffix
        )
        return decision.stop

    iterator = iter(train_ds)
    while True:
        started = time.perf_counter()
        if step == 0:  # one plain step first: it creates the optimizer's slots
            try:
                features, label, meta_weight = next(iterator)
            except StopIteration:
                break
            loss_value = float(train_step(features, label, meta_weight))
            ran, chunk_loss, chunk_examples, finite = (
                1,
                loss_value,
                int(label.shape[0]),
                math.isfinite(loss_value),
            )
        else:
            outcome = train_loop(iterator, tf.constant(_steps_to_boundary(step, training_config), tf.int64))
            ran, chunk_loss, chunk_examples = int(outcome[0]), float(outcome[1]), int(outcome[2])
            finite = bool(outcome[3])
        train_seconds += time.perf_counter() - started
        if ran == 0:  # the iterator was exhausted
            break
        step += ran
        examples += chunk_examples
        if not finite:
            raise FloatingPointError(
                f"training loss is {chunk_loss} at step {step}; check that batch's labels and meta.weight "
                "and the learning rate"
            )
        loss_sum, loss_steps = loss_sum + chunk_loss, loss_steps + ran
        if (
            training_config.eval_every_steps
            and step % training_config.eval_every_steps == 0
            and run_evaluation()
        ):
            stop_reason = "early_stop"
            break
        if training_config.max_steps is not None and step >= training_config.max_steps:
            stop_reason = "max_steps"
            break
    if step == 0:
        raise ValueError("the training dataset is empty")
    if not history or history[-1].step != step:
        run_evaluation()
    if best_weights is not None and stopper.best_step != step:
        _restore(model, best_weights)
    writer.close()
    seconds = max(train_seconds, 1e-9)
    return TrainResult(
        history=tuple(history),
        best_step=stopper.best_step,
        best_rce=next((e.rce for e in history if e.step == stopper.best_step), math.nan),
        best_value=stopper.best_value,
        steps=step,
        steps_per_sec=step / seconds,
        examples_per_sec=examples / seconds,
        stop_reason=stop_reason,
    )
