from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from deepnorm_test_inputs import features

from lightrank.models.deepnorm.config import DeepNormConfig
from lightrank.models.deepnorm.model import (
    MissingMarkerSplit,
    PredictionHead,
    deepnorm_light_ranker,
    with_prediction,
)

MISSING = -1.23456789


def _output_width(model: tf.keras.Model, name: str) -> int:
    return int(model.get_layer(name).output.shape[-1])


def test_default_shapes_178_wide_merge_and_64_16_4_1_pool() -> None:
    model = deepnorm_light_ranker(DeepNormConfig(), num_continuous=7)
    assert _output_width(model, "continuous_embedding") == 128
    assert _output_width(model, "sparse_embedding") == 50
    assert _output_width(model, "merge") == 178
    assert model.get_layer("merge_batch_norm").output.shape.as_list() == [None, 178]
    assert [_output_width(model, f"mlp_{i}") for i in (1, 2, 3)] == [64, 16, 4]
    assert model.output.shape.as_list() == [None, 1]
    assert model.output_names == ["logit"]
    assert model.get_layer("sparse_embedding").embeddings.shape == (2**18, 50)
    assert model.get_layer("mlp_1").gate.kernel.shape == (178, 178)
    assert model.get_layer("dense_dropout").rate == 0.2 and model.get_layer("sparse_embedding").dropout == 0.2


def test_missing_sub_branch_makes_the_merge_306_wide() -> None:
    model = deepnorm_light_ranker(DeepNormConfig(use_missing_sub_branch=True, input_size_bits=8), 5)
    assert _output_width(model, "missing_embedding") == 128
    assert _output_width(model, "merge") == 306
    assert model.get_layer("mlp_1").gate.kernel.shape == (306, 306)


def test_zero_mlp_layers_feed_the_merge_to_the_logit() -> None:
    model = deepnorm_light_ranker(DeepNormConfig(num_mlp_layers=0, input_size_bits=8), 3)
    assert not [layer for layer in model.layers if layer.name.startswith("mlp_")]
    assert model.get_layer("logit").gate.kernel.shape == (178, 178)


def test_num_continuous_must_be_positive() -> None:
    with pytest.raises(ValueError, match="num_continuous=0"):
        deepnorm_light_ranker(DeepNormConfig(), 0)


def test_missing_marker_split() -> None:
    filled, present, missing = MissingMarkerSplit(MISSING)(tf.constant([[MISSING, 0.0, 2.0]]))
    np.testing.assert_array_equal(filled.numpy(), [[0.0, 0.0, 2.0]])
    np.testing.assert_array_equal(present.numpy(), [[False, True, True]])
    np.testing.assert_array_equal(missing.numpy(), [[1.0, 0.0, 0.0]])


def test_missing_branch_masks_the_marker_in_the_zscore_statistics() -> None:
    x = np.array([[MISSING, 1.0], [2.0, 0.0], [4.0, 3.0]])
    rows = [[1], [], [2]]
    on = deepnorm_light_ranker(DeepNormConfig(use_missing_sub_branch=True, input_size_bits=4), 2)
    on(features(x, rows), training=True)
    np.testing.assert_allclose(on.get_layer("zscore").moving_mean.numpy(), [3.0, 4.0 / 3.0])
    off = deepnorm_light_ranker(DeepNormConfig(input_size_bits=4), 2)
    off(features(x, rows), training=True)
    # Original default: the marker is a value, the genuine zero is "missing".
    np.testing.assert_allclose(
        off.get_layer("zscore").moving_mean.numpy(), [(MISSING + 6.0) / 3, 2.0], rtol=1e-6
    )


@pytest.mark.parametrize("use_missing_sub_branch", [False, True])
@pytest.mark.parametrize("training", [False, True])
def test_degenerate_candidates_score_finite_predictions(use_missing_sub_branch: bool, training: bool) -> None:
    config = DeepNormConfig(use_missing_sub_branch=use_missing_sub_branch, input_size_bits=6)
    model = with_prediction(deepnorm_light_ranker(config, 4))
    x = np.array(
        [
            [np.nan, np.inf, -np.inf, 1.0],  # non-finite features
            [MISSING] * 4,  # every feature missing
            [0.5, 2.0, -3.0, 7.0],  # no sparse ids (row 2 is empty)
            [0.0, 0.0, 0.0, 0.0],
        ]
    )
    out = model(features(x, [[1, 5], [3], [], []]), training=training)
    assert out["prediction"].shape == (4, 1)
    assert np.isfinite(out["prediction"].numpy()).all() and np.isfinite(out["logit"].numpy()).all()
    assert ((out["prediction"].numpy() >= 0) & (out["prediction"].numpy() <= 1)).all()


def test_prediction_model_shares_variables_and_applies_sigmoid() -> None:
    model = deepnorm_light_ranker(DeepNormConfig(input_size_bits=6), 3)
    model.get_layer("logit").projection.bias.assign([1.5])
    wrapped = with_prediction(model)
    assert {id(v) for v in wrapped.variables} == {id(v) for v in model.variables}
    batch = features(np.random.default_rng(0).normal(size=(5, 3)), [[1], [2, 3], [], [4], [5]])
    logit = model(batch, training=False).numpy()
    out = wrapped(batch, training=False)
    np.testing.assert_allclose(out["logit"].numpy(), logit, rtol=1e-6)
    np.testing.assert_allclose(out["prediction"].numpy(), 1 / (1 + np.exp(-logit)), rtol=1e-6)
    np.testing.assert_array_equal(PredictionHead()(tf.constant([[-1e4], [1e4]])).numpy(), [[0.0], [1.0]])


def test_inference_is_deterministic_and_training_mode_is_not() -> None:
    model = deepnorm_light_ranker(DeepNormConfig(input_size_bits=6), 3)
    model.get_layer("sparse_embedding").embeddings.assign(tf.random.normal([64, 50]))
    batch = features(np.random.default_rng(1).normal(size=(8, 3)), [[i, i + 1, i + 2] for i in range(8)])
    np.testing.assert_array_equal(model(batch, training=False).numpy(), model(batch, training=False).numpy())
    assert not np.allclose(model(batch, training=True).numpy(), model(batch, training=True).numpy())


def test_ragged_sparse_ids_are_accepted() -> None:
    model = deepnorm_light_ranker(DeepNormConfig(input_size_bits=6), 2)
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    ragged = {"continuous": x, "sparse_ids": tf.ragged.constant([[1, 2], []], dtype=tf.int64)}
    np.testing.assert_allclose(
        model(ragged, training=False).numpy(),
        model(features(x.numpy(), [[1, 2], []]), training=False).numpy(),
        rtol=1e-6,
    )


def test_model_config_round_trips_through_keras_serialisation() -> None:
    config = DeepNormConfig(use_missing_sub_branch=True, input_size_bits=5, adaptive_transform="default")
    model = deepnorm_light_ranker(config, 3)
    clone = tf.keras.Model.from_config(model.get_config())
    assert [v.name for v in clone.variables] == [v.name for v in model.variables]
    assert [v.shape for v in clone.variables] == [v.shape for v in model.variables]
    clone.set_weights(model.get_weights())
    batch = features(np.array([[1.0, MISSING, 0.0]]), [[3, 4]])
    np.testing.assert_allclose(clone(batch).numpy(), model(batch).numpy(), rtol=1e-6)


def test_prediction_model_survives_a_keras_save_and_load(tmp_path: os.PathLike) -> None:
    model = with_prediction(
        deepnorm_light_ranker(DeepNormConfig(use_missing_sub_branch=True, input_size_bits=5), 3)
    )
    model.get_layer("sparse_embedding").embeddings.assign(tf.random.normal([32, 50]))
    path = os.path.join(tmp_path, "light_ranker.keras")
    model.save(path)
    loaded = tf.keras.models.load_model(path)
    assert [v.name for v in loaded.variables] == [v.name for v in model.variables]
    batch = features(np.array([[1.0, MISSING, np.nan], [0.0, 2.0, 3.0]]), [[3, 4, 4], []])
    np.testing.assert_allclose(
        loaded(batch)["prediction"].numpy(), model(batch)["prediction"].numpy(), rtol=1e-6
    )
