from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from lightrank.models.deepnorm.config import DeepNormConfig
from lightrank.models.deepnorm.loss import deepnorm_loss, record_weights

LN3 = math.log(3.0)
LABELS = tf.constant([[1.0], [0.0], [1.0]])
LOGITS = tf.constant([[0.0], [LN3], [LN3]])  # sigmoid: 0.5, 0.75, 0.75
BCE = [math.log(2.0), -math.log(0.25), -math.log(0.75)]


def test_record_weights_formula() -> None:
    config = DeepNormConfig(use_record_weight=True, smooth_weight=1.0, min_record_weight=0.3)
    w = record_weights(tf.constant([[0.0], [1.0], [3.0]]), config).numpy()
    np.testing.assert_allclose(w, [[0.5], [1 / 3], [0.3]], rtol=1e-6)
    unclipped = record_weights(tf.constant([0.0, 1.0, 3.0, -1.0]), DeepNormConfig()).numpy()
    np.testing.assert_allclose(unclipped, [1.0, 0.5, 0.25, 1.0], rtol=1e-6)


def test_unweighted_loss_is_the_mean_bce() -> None:
    loss = deepnorm_loss(LABELS, LOGITS, tf.constant([[0.0], [1.0], [3.0]]), DeepNormConfig())
    assert float(loss) == pytest.approx(sum(BCE) / 3, rel=1e-6)


def test_record_weighted_loss_is_the_weighted_mean() -> None:
    config = DeepNormConfig(use_record_weight=True)
    loss = deepnorm_loss(LABELS, LOGITS, tf.constant([[0.0], [1.0], [3.0]]), config)
    expected = (BCE[0] * 1.0 + BCE[1] * 0.5 + BCE[2] * 0.25) / 1.75
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_soft_labels_for_distillation() -> None:
    loss = deepnorm_loss(tf.constant([[0.25]]), tf.constant([[LN3]]), None, DeepNormConfig())
    assert float(loss) == pytest.approx(-(0.25 * math.log(0.75) + 0.75 * math.log(0.25)), rel=1e-6)


def test_record_weighting_needs_meta_weight() -> None:
    with pytest.raises(ValueError, match="meta_weight"):
        deepnorm_loss(LABELS, LOGITS, None, DeepNormConfig(use_record_weight=True))
