"""Warm-starting the logistic baseline: copies by name and shape, dense kernel re-indexed by feature."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from lightrank.models.baseline.model import logistic_regression
from lightrank.models.baseline.warm_start import warm_start_logistic
from lightrank.models.features import CONTINUOUS, CONTINUOUS_SCALED, SPARSE_IDS

MISSING = -1.23456789
OLD_FEATURES = ["a", "b", "c"]


def _trained(num_features: int = 3, bits: int = 4) -> tf.keras.Model:
    model = logistic_regression(num_features, bits, MISSING)
    rng = np.random.default_rng(7)
    for variable in model.variables:
        variable.assign(rng.normal(size=variable.shape).astype(np.float32))
    return model


def _inputs(continuous: np.ndarray, scaled: np.ndarray) -> dict[str, tf.Tensor]:
    rows = [[1], [2, 9], [], [15, 15], [3], [0]]
    return {
        CONTINUOUS: tf.constant(continuous, tf.float32),
        CONTINUOUS_SCALED: tf.constant(scaled, tf.float32),
        SPARSE_IDS: tf.ragged.constant(rows, dtype=tf.int64).to_sparse(),
    }


def test_a_reordered_feature_list_gives_the_same_logits_on_reordered_inputs() -> None:
    old = _trained()
    order = [2, 0, 1]
    new = logistic_regression(3, 4, MISSING)
    report = warm_start_logistic(new, old, OLD_FEATURES, [OLD_FEATURES[i] for i in order])
    assert report.copied == ("dense_weights/bias", "sparse_weights/weights")
    assert report.remapped == ("dense_weights/kernel",) and not report.skipped and not report.not_in_old
    rng = np.random.default_rng(3)
    continuous, scaled = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    continuous[[1, 4], [0, 2]] = MISSING  # the missing-indicator rows must move with their feature
    scaled[[1, 4], [0, 2]] = 0.0
    np.testing.assert_allclose(
        new(_inputs(continuous[:, order], scaled[:, order])).numpy(),
        old(_inputs(continuous, scaled)).numpy(),
        rtol=1e-6,
    )


def test_added_features_start_at_zero_and_dropped_ones_disappear() -> None:
    old = _trained()
    new = logistic_regression(2, 4, MISSING)
    report = warm_start_logistic(new, old, OLD_FEATURES, ["c", "d"])
    assert report.kept_features == ("c",) and report.added_features == ("d",)
    assert report.dropped_features == ("a", "b")
    old_kernel = old.get_layer("dense_weights").kernel.numpy()[:, 0]
    new_kernel = new.get_layer("dense_weights").kernel.numpy()[:, 0]
    # New rows: scaled c, scaled d, missing c, missing d; old rows: scaled a, b, c, missing a, b, c.
    np.testing.assert_array_equal(new_kernel, [old_kernel[2], 0.0, old_kernel[5], 0.0])


def test_a_change_of_input_size_bits_skips_the_hashed_table() -> None:
    old = _trained(bits=4)
    new = logistic_regression(3, 5, MISSING)
    report = warm_start_logistic(new, old, OLD_FEATURES, OLD_FEATURES)
    assert report.skipped == ("sparse_weights/weights",) and report.copied == ("dense_weights/bias",)
    np.testing.assert_array_equal(new.get_layer("sparse_weights").weights_table.numpy(), 0.0)
    np.testing.assert_array_equal(
        new.get_layer("dense_weights").kernel.numpy(), old.get_layer("dense_weights").kernel.numpy()
    )


def test_bad_feature_lists_are_rejected_and_change_nothing() -> None:
    old = _trained()
    new = logistic_regression(3, 4, MISSING)
    with pytest.raises(ValueError, match="duplicate feature names: \\['a'\\]"):
        warm_start_logistic(new, old, OLD_FEATURES, ["a", "a", "d"])
    with pytest.raises(ValueError, match=r"6 / 6 rows \(old / new\), but the feature lists have 2 / 3 names"):
        warm_start_logistic(new, old, ["a", "b"], OLD_FEATURES)
    for variable in new.variables:
        np.testing.assert_array_equal(variable.numpy(), 0.0)
