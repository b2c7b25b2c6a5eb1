"""Traced training steps: one step, and a loop of many steps in one call.

Why a loop: at the original batch size of 32 a step's arithmetic takes about as long as
Python's per-step work around it (pulling the batch through the eager iterator, dispatching
the traced step, reading the loss back). `make_train_loop` runs up to `num_steps` steps
inside one traced `tf.while_loop`, pulling batches from the iterator in the graph, so that
overhead is paid once per call instead of once per step (Keras' `steps_per_execution`).

The loop stops early when the iterator is exhausted or a loss is not finite, and reports how
many steps it ran, so the caller still knows the exact step a NaN appeared at. Both functions
are traced without autograph: the control flow is explicit, and converting the Keras
internals would cost ~20 s of tracing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

from lightrank.models.deepnorm.config import DeepNormConfig
from lightrank.models.deepnorm.loss import deepnorm_loss

#: `(steps run, sum of their losses, examples seen, every loss finite)` of one loop call.
LoopOutcome = tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]


def _apply_step(
    model: tf.keras.Model,
    optimizer: tf.keras.optimizers.legacy.Optimizer,
    variables: list[tf.Variable],
    config: DeepNormConfig,
    features: dict[str, tf.Tensor],
    label: tf.Tensor,
    meta_weight: tf.Tensor,
) -> tf.Tensor:
    with tf.GradientTape() as tape:
        logits = model(features, training=True)
        loss = deepnorm_loss(label, logits, meta_weight, config)
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
    return loss


def make_train_step(
    model: tf.keras.Model,
    optimizer: tf.keras.optimizers.legacy.Optimizer,
    variables: Sequence[tf.Variable],
    config: DeepNormConfig,
) -> Callable[[dict[str, tf.Tensor], tf.Tensor, tf.Tensor], tf.Tensor]:
    """A traced step `(features, label, meta_weight) -> loss` that applies one update.

    The first step must run through this function: it creates the optimizer's slot variables,
    which cannot be created inside the loop's `tf.while_loop`.
    """
    variables = list(variables)

    @tf.function(reduce_retracing=True, autograph=False)
    def train_step(features: dict[str, tf.Tensor], label: tf.Tensor, meta_weight: tf.Tensor) -> tf.Tensor:
        return _apply_step(model, optimizer, variables, config, features, label, meta_weight)

    return train_step


def make_train_loop(
    model: tf.keras.Model,
    optimizer: tf.keras.optimizers.legacy.Optimizer,
    variables: Sequence[tf.Variable],
    config: DeepNormConfig,
) -> Callable[[tf.data.Iterator, tf.Tensor], LoopOutcome]:
    """A traced `(iterator, num_steps) -> LoopOutcome` running up to `num_steps` steps.

    It stops before `num_steps` when the iterator runs out, and right after a step whose loss
    is not finite (that step's update is applied, as in the single-step path).
    """
    variables = list(variables)

    @tf.function(reduce_retracing=True, autograph=False)
    def train_loop(iterator: tf.data.Iterator, num_steps: tf.Tensor) -> LoopOutcome:
        def step(
            done: tf.Tensor, loss_sum: tf.Tensor, examples: tf.Tensor, finite: tf.Tensor, exhausted: tf.Tensor
        ) -> tuple[tf.Tensor, ...]:
            batch = iterator.get_next_as_optional()

            def run() -> tuple[tf.Tensor, ...]:
                features, label, meta_weight = batch.get_value()
                loss = _apply_step(model, optimizer, variables, config, features, label, meta_weight)
                seen = tf.cast(tf.shape(label)[0], tf.int64)
                return done + 1, loss_sum + loss, examples + seen, tf.math.is_finite(loss), tf.constant(False)

            def stop() -> tuple[tf.Tensor, ...]:
                return done, loss_sum, examples, finite, tf.constant(True)

            return tf.cond(batch.has_value(), run, stop)

        def more(
            done: tf.Tensor, _: tf.Tensor, __: tf.Tensor, finite: tf.Tensor, exhausted: tf.Tensor
        ) -> tf.Tensor:
            return (done < num_steps) & finite & tf.logical_not(exhausted)

        start = (tf.constant(0, tf.int64), tf.constant(0.0), tf.constant(0, tf.int64), tf.constant(True),
                 tf.constant(False))  # fmt: skip
        done, loss_sum, examples, finite, _ = tf.while_loop(more, step, start)
        return done, loss_sum, examples, finite

    return train_loop
