"""Full-pass evaluation of a light ranker during training (docs/model.md, Training).

Computes what early stopping and the TensorBoard log need: the loss (defined as the
training loss), the unweighted RCE and NRCE through `lightrank.models.metrics.formulas` (the one
shared formula) and an exact unweighted ROC AUC. NRCE is logged beside RCE because an eval split
whose positive rate differs from train's pushes RCE down while the ranking still improves. The
Evaluator computes the reported metrics.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from lightrank.models.deepnorm.config import DeepNormConfig
from lightrank.models.deepnorm.loss import deepnorm_loss
from lightrank.models.metrics import formulas


def evaluate(
    model: tf.keras.Model,
    dataset: tf.data.Dataset,
    config: DeepNormConfig,
    predict: Callable[[dict[str, tf.Tensor]], tf.Tensor] | None = None,
) -> tuple[float, float, float, float]:
    """Runs inference over the whole dataset; returns `(loss, unweighted RCE, NRCE, AUC)`.

    Args:
        model: A logit model.
        dataset: Yields `(features, label, meta_weight)` batches.
        config: Defines the loss.
        predict: Inference function to reuse across calls (a traced `tf.function`); built if None.
    """
    if predict is None:
        predict = inference_function(model)
    labels, logits, meta_weights = [], [], []
    for features, label, meta_weight in dataset:
        logits.append(predict(features).numpy().reshape(-1))
        labels.append(label.numpy().reshape(-1))
        meta_weights.append(meta_weight.numpy().reshape(-1))
    if not labels:
        raise ValueError("the evaluation dataset is empty")
    y, z, w = (np.concatenate(parts) for parts in (labels, logits, meta_weights))
    loss = float(
        deepnorm_loss(tf.constant(y[:, None]), tf.constant(z[:, None]), tf.constant(w[:, None]), config)
    )
    p = 1.0 / (1.0 + np.exp(-z.astype(np.float64)))
    return loss, formulas.rce(y, p), formulas.nrce(y, p), roc_auc(y != 0, p)


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """Exact ROC AUC (Mann-Whitney statistic, ties counted half); NaN if one class is absent.

    Used for the training-time log only. twml's 200-threshold AUC differs from it by the
    threshold discretisation; the Evaluator computes the reported AUC.
    """
    positive = np.asarray(positive, dtype=bool).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    num_positive = int(positive.sum())
    num_negative = positive.size - num_positive
    if num_positive == 0 or num_negative == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average_ranks = ends - (counts - 1) / 2.0  # 1-based mean rank of each tie group
    rank_sum = float(average_ranks[inverse][positive].sum())
    return (rank_sum - num_positive * (num_positive + 1) / 2.0) / (num_positive * num_negative)


def inference_function(model: tf.keras.Model) -> Callable[[dict[str, tf.Tensor]], tf.Tensor]:
    """`features -> logits` in inference mode, traced once per input signature (no autograph)."""
    return tf.function(
        lambda features: model(features, training=False), reduce_retracing=True, autograph=False
    )
