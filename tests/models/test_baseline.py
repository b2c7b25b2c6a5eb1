"""The logistic baseline (`model.kind: logistic`): its layers by hand, sparse gradients, learning, export."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from tiny_transform import RAW_SPEC, serialize_example, write_transform_graph

from lightrank.models.baseline.model import INPUT_KEYS, HashedLinear, MissingIndicator, logistic_regression
from lightrank.models.deepnorm.config import DeepNormConfig, TrainingConfig
from lightrank.models.export import SETTINGS_FILE, export_serving_model, load_settings, read_model_asset
from lightrank.models.features import CONTINUOUS, CONTINUOUS_SCALED, SPARSE_IDS, ResolvedFeatures
from lightrank.models.training.loop import train

MISSING = -1.23456789
BITS = 3


def _sparse(rows: list[list[int]]) -> tf.SparseTensor:
    return tf.ragged.constant(rows, dtype=tf.int64, row_splits_dtype=tf.int64).to_sparse()


def test_missing_indicator_marks_exactly_the_float32_marker() -> None:
    inputs = tf.constant([[MISSING, 0.0, 1.0], [-1.2345678, MISSING, np.nan]], tf.float32)
    indicator = MissingIndicator(MISSING)(inputs).numpy()
    np.testing.assert_array_equal(indicator, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert indicator.dtype == np.float32


def test_hashed_linear_sums_one_weight_per_id_and_gives_zero_for_an_empty_row() -> None:
    layer = HashedLinear(BITS)
    rows = [[1, 3], [], [3, 3, 7], [0]]
    layer(_sparse(rows))
    assert layer.weights_table.shape == (2**BITS, 1)
    np.testing.assert_array_equal(layer.weights_table.numpy(), 0.0)  # zero-initialised
    layer.weights_table.assign(np.arange(8, dtype=np.float32)[:, None] * 0.5)
    # [1, 3] -> 0.5 + 1.5; [] -> 0; [3, 3, 7]: duplicates count twice -> 1.5 + 1.5 + 3.5; [0] -> 0.
    expected = [[2.0], [0.0], [6.5], [0.0]]
    np.testing.assert_array_equal(layer(_sparse(rows)).numpy(), expected)
    ragged = tf.ragged.constant(rows, dtype=tf.int64)
    np.testing.assert_array_equal(layer(ragged).numpy(), expected)


def _inputs(continuous: np.ndarray, scaled: np.ndarray, rows: list[list[int]]) -> dict[str, tf.Tensor]:
    return {
        CONTINUOUS: tf.constant(continuous, tf.float32),
        CONTINUOUS_SCALED: tf.constant(scaled, tf.float32),
        SPARSE_IDS: _sparse(rows),
    }


def test_the_logit_is_the_hand_computed_linear_function() -> None:
    model = logistic_regression(2, BITS, MISSING)
    assert set(model.input) == set(INPUT_KEYS)
    dense = model.get_layer("dense_weights")
    # Rows: scaled feature 0, scaled feature 1, missing indicator 0, missing indicator 1.
    dense.kernel.assign([[0.5], [-1.0], [2.0], [3.0]])
    dense.bias.assign([0.25])
    model.get_layer("sparse_weights").weights_table.assign(np.arange(8, dtype=np.float32)[:, None])
    continuous = np.array([[4.0, MISSING], [MISSING, MISSING], [1.0, 2.0]])
    scaled = np.array([[1.0, 0.0], [0.0, 0.0], [-2.0, 0.5]])
    logit = model(_inputs(continuous, scaled, [[2], [], [1, 5]])).numpy()
    expected = [
        [0.5 * 1.0 + 3.0 + 0.25 + 2.0],  # feature 1 missing, id 2
        [2.0 + 3.0 + 0.25],  # both missing, no ids
        [0.5 * -2.0 - 1.0 * 0.5 + 0.25 + 1.0 + 5.0],
    ]
    np.testing.assert_allclose(logit, expected, rtol=1e-6)


def test_the_hashed_table_gets_a_sparse_gradient_on_the_ids_in_the_batch() -> None:
    model = logistic_regression(2, BITS, MISSING)
    table = model.get_layer("sparse_weights").weights_table
    inputs = _inputs(np.zeros((3, 2)), np.zeros((3, 2)), [[1, 6], [], [6, 6]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(inputs))
    gradient = tape.gradient(loss, table)
    assert isinstance(gradient, tf.IndexedSlices)
    assert sorted(gradient.indices.numpy().tolist()) == [1, 6, 6, 6]
    np.testing.assert_array_equal(tf.convert_to_tensor(gradient).numpy()[:, 0], [0, 1, 0, 0, 0, 0, 3, 0])


def _synthetic(n: int, batch: int, seed: int) -> tf.data.Dataset:
    """Labels depend on scaled feature 0, on feature 1 being missing and on hashed id 3."""
    rng = np.random.default_rng(seed)
    scaled = rng.normal(size=(n, 2)).astype(np.float32)
    continuous = scaled * 10.0 + 50.0
    missing = rng.random(n) < 0.3
    continuous[missing, 1], scaled[missing, 1] = MISSING, 0.0
    has_signal = rng.random(n) < 0.5
    rows = [([3] if s else []) + list(rng.integers(4, 8, size=rng.integers(0, 3))) for s in has_signal]
    logit = 1.5 * scaled[:, 0] - 1.5 * missing + 2.0 * has_signal - 1.0
    label = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)[:, None]
    meta = np.zeros((n, 1), np.float32)
    features = {CONTINUOUS: continuous, CONTINUOUS_SCALED: scaled,
                SPARSE_IDS: tf.ragged.constant(rows, dtype=tf.int64)}  # fmt: skip
    data = tf.data.Dataset.from_tensor_slices((features, label, meta)).batch(batch)
    return data.map(lambda f, y, w: ({**f, SPARSE_IDS: f[SPARSE_IDS].to_sparse()}, y, w))


def test_it_learns_a_positive_rce_on_a_tiny_synthetic_problem() -> None:
    tf.keras.utils.set_random_seed(0)
    model = logistic_regression(2, BITS, MISSING)
    config = TrainingConfig(optimizer="adagrad", learning_rate=0.3, eval_every_steps=64, seed=0)
    result = train(model, _synthetic(4096, 64, 0).repeat(2), _synthetic(2048, 512, 1), config,
                   DeepNormConfig(input_size_bits=BITS), None)  # fmt: skip
    assert result.steps == 128 and result.best_rce > 10.0 and result.history[-1].auc > 0.75
    kernel = model.get_layer("dense_weights").kernel.numpy()[:, 0]
    table = model.get_layer("sparse_weights").weights_table.numpy()[:, 0]
    # The learnt signs follow the generating logit: +scaled 0, -missing 1, +id 3 over the noise ids.
    assert kernel[0] > 0.5 and kernel[3] < -0.5 and table[3] > table[4:].max() + 0.5


FEATURES = ResolvedFeatures(
    continuous=("u.age", "c.likes"),
    sparse=("c.source",),
    int_sparse=(),
    request_key="meta.key",
    example_weight="meta.weight",
    heavy_score="meta.score",
    labels={"HeavyRankPosition": "label.top3"},
    missing_value=MISSING,
    slice_buckets={},
)
SPEC = {name: spec for name, spec in RAW_SPEC.items() if name not in ("u.opens", "u.id")}


@pytest.fixture(scope="module")
def transformed(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[dict[str, object]], tft.TFTransformOutput]:
    """Raw candidates and their Transform graph (`continuous_scaled` needs the analyzers' statistics)."""
    rng = np.random.default_rng(0)
    rows = [{"u.age": [float(rng.gamma(2.0, 100.0))], "c.likes": [float(rng.poisson(20))] if i % 4 else [],
             "c.source": [rng.choice([b"in", b"oon", b"topic"])], "meta.key": i // 10, "meta.weight": 1.0,
             "meta.score": 0.5, "label.top3": i % 2} for i in range(60)]  # fmt: skip
    return rows, write_transform_graph(rows, SPEC, FEATURES, 6, str(tmp_path_factory.mktemp("transform")))


def test_export_with_kind_logistic_serves_the_keras_models_predictions(transformed, tmp_path) -> None:
    rows, transform_output = transformed
    tf.keras.utils.set_random_seed(1)
    model = logistic_regression(len(FEATURES.continuous), 6, MISSING)
    for variable in model.variables:
        variable.assign(tf.random.normal(variable.shape, stddev=0.5))
    export_dir = str(tmp_path / "model")
    settings = {"kind": "logistic", "task": "HeavyRankPosition", "deepnorm": {"input_size_bits": 6}}
    export_serving_model(model, transform_output, FEATURES, INPUT_KEYS, export_dir, settings)

    loaded = tf.saved_model.load(export_dir)
    # serving_transformed / serving_features take `continuous` and `sparse_ids` only: DeepNorm's inputs.
    assert set(loaded.signatures) == {"serving_default", "transform_features"}
    candidates = [*rows[:20], {"c.source": [b"in"]}, {}]  # all continuous missing; nothing at all
    serialized = tf.constant([serialize_example(row, with_labels=False) for row in candidates])
    served = loaded.signatures["serving_default"](examples=serialized)["prediction"].numpy()
    raw = tf.io.parse_example(serialized, {name: SPEC[name] for name in ("u.age", "c.likes", "c.source")})
    transformed = transform_output.transform_raw_features(raw)
    logits = model({key: transformed[key] for key in INPUT_KEYS}, training=False)
    assert served.shape == (22, 1) and np.all(np.isfinite(served))
    np.testing.assert_allclose(served, tf.sigmoid(logits).numpy(), rtol=1e-5, atol=1e-6)
    assert served.std() > 1e-3
    settings, feature_list = load_settings(export_dir)
    assert settings["kind"] == "logistic" and feature_list == ["u.age", "c.likes"]
    assert os.path.isfile(os.path.join(export_dir, SETTINGS_FILE))
    asset = read_model_asset(export_dir)  # `lightrank eval` needs no config for a baseline either
    assert asset is not None and (asset.features, asset.task, asset.label_key) == (
        FEATURES,
        "HeavyRankPosition",
        "label.top3",
    )
    assert asset.column_types["meta.key"] == "int64"


def test_hashed_linear_serialises_its_width() -> None:
    layer = HashedLinear(5, name="sparse_weights")
    clone = HashedLinear.from_config(layer.get_config())
    assert clone.input_size_bits == 5 and clone.name == "sparse_weights"
    indicator = MissingIndicator.from_config(MissingIndicator(MISSING).get_config())
    assert indicator.missing_value == pytest.approx(MISSING)
