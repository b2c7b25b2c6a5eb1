"""The exported SavedModel: same predictions as Keras, raw candidates in, any request size."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import metadata_io
from tiny_transform import RAW_SPEC as SPEC
from tiny_transform import TINY_FEATURES, serialize_example

from lightrank.models.deepnorm.config import DeepNormConfig
from lightrank.models.deepnorm.model import deepnorm_light_ranker
from lightrank.models.export import (
    FEATURE_LIST_FILE,
    MODEL_ASSET,
    SETTINGS_FILE,
    ModelAsset,
    export_serving_model,
    load_settings,
    read_model_asset,
)
from lightrank.models.features import CONTINUOUS, SPARSE_IDS
from lightrank.models.preprocessing import preprocessing_fn

BITS = 8
FEATURES = dataclasses.replace(TINY_FEATURES, slice_buckets={"u.age": (100.0, 300.0)})


def _candidate(rng: np.random.Generator, i: int) -> dict[str, object]:
    return {
        "u.age": [float(rng.gamma(2.0, 100.0))],
        "u.opens": [float(rng.poisson(3))] if i % 3 else [],
        "c.likes": [float(rng.poisson(20))],
        "c.source": [rng.choice([b"in", b"oon", b"topic"])],
        "u.id": [int(rng.integers(1, 10**12))],
        "meta.key": i // 50,
        "meta.weight": float(i % 50),
        "meta.score": float(rng.uniform()),
        "label.top3": int(i % 50 < 3),
    }


@pytest.fixture(scope="module")
def exported(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[str, tf.keras.Model, tft.TFTransformOutput, list]:
    rng = np.random.default_rng(0)
    rows = [_candidate(rng, i) for i in range(400)]
    work = tmp_path_factory.mktemp("export")
    transform_dir = str(work / "transform")

    def fn(inputs: dict[str, object]) -> dict[str, object]:
        return preprocessing_fn(inputs, {"features": FEATURES.to_dict(), "input_size_bits": BITS})

    with tempfile.TemporaryDirectory() as tmp, tft_beam.Context(temp_dir=tmp, force_tf_compat_v1=False):
        transform_fn = (rows, tft.DatasetMetadata.from_feature_spec(SPEC)) | tft_beam.AnalyzeDataset(fn)
        _ = transform_fn | tft_beam.WriteTransformFn(transform_dir)
    # TFX's Transform also writes the raw metadata; serving parses with it.
    metadata_io.write_metadata(
        tft.DatasetMetadata.from_feature_spec(SPEC), os.path.join(transform_dir, "metadata")
    )
    transform_output = tft.TFTransformOutput(transform_dir)

    tf.keras.utils.set_random_seed(1)
    config = DeepNormConfig(input_size_bits=BITS, sparse_embedding_size=4, dense_embedding_size=8,
                            use_missing_sub_branch=True)  # fmt: skip
    model = deepnorm_light_ranker(config, len(FEATURES.continuous))
    # Move every weight off its initial value so the comparison is not trivially 0.02 everywhere.
    for variable in model.trainable_variables:
        variable.assign(variable + tf.random.normal(variable.shape, stddev=0.1, dtype=variable.dtype))
    export_dir = str(work / "model")
    settings = {"kind": "deepnorm", "task": "HeavyRankPosition", "deepnorm": config.model_dump(mode="json")}
    export_serving_model(model, transform_output, FEATURES, (CONTINUOUS, SPARSE_IDS), export_dir, settings)
    return export_dir, model, transform_output, rows


@pytest.fixture(scope="module")
def loaded(exported) -> object:
    return tf.saved_model.load(exported[0])


def test_serving_default_matches_the_keras_model_on_raw_candidates(exported, loaded):
    _export_dir, model, transform_output, rows = exported
    serve = loaded.signatures["serving_default"]
    serialized = [serialize_example(row, with_labels=False) for row in rows[:64]]
    served = serve(examples=tf.constant(serialized))["prediction"].numpy()

    raw = tf.io.parse_example(tf.constant([serialize_example(r, with_labels=True) for r in rows[:64]]), SPEC)
    transformed = transform_output.transform_raw_features(raw)
    logits = model({CONTINUOUS: transformed[CONTINUOUS], SPARSE_IDS: transformed[SPARSE_IDS]}, training=False)
    expected = tf.sigmoid(logits).numpy()
    assert served.shape == (64, 1)
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-6)
    assert served.std() > 1e-4  # not a constant


def test_serving_transformed_matches_serving_default(exported, loaded):
    _export_dir, _, transform_output, rows = exported
    serialized = tf.constant([serialize_example(row, with_labels=False) for row in rows[:32]])
    expected = loaded.signatures["serving_default"](examples=serialized)["prediction"].numpy()
    raw = tf.io.parse_example(tf.constant([serialize_example(r, with_labels=True) for r in rows[:32]]), SPEC)
    transformed = transform_output.transform_raw_features(raw)
    ragged = tf.RaggedTensor.from_sparse(transformed[SPARSE_IDS])
    served = loaded.signatures["serving_transformed"](
        continuous=transformed[CONTINUOUS], ids=ragged.flat_values, row_lengths=ragged.row_lengths()
    )["prediction"].numpy()
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-6)


def test_serving_features_then_serving_transformed_is_serving_default(exported, loaded):
    _export_dir, _, transform_output, rows = exported
    serialized = tf.constant([serialize_example(row, with_labels=False) for row in rows[:32]])
    features = loaded.signatures["serving_features"](examples=serialized)
    raw = tf.io.parse_example(tf.constant([serialize_example(r, with_labels=True) for r in rows[:32]]), SPEC)
    transformed = transform_output.transform_raw_features(raw)
    ragged = tf.RaggedTensor.from_sparse(transformed[SPARSE_IDS])
    np.testing.assert_array_equal(features[CONTINUOUS].numpy(), transformed[CONTINUOUS].numpy())
    np.testing.assert_array_equal(features["ids"].numpy(), ragged.flat_values.numpy())
    np.testing.assert_array_equal(features["row_lengths"].numpy(), ragged.row_lengths().numpy())
    two_steps = loaded.signatures["serving_transformed"](**features)["prediction"].numpy()
    expected = loaded.signatures["serving_default"](examples=serialized)["prediction"].numpy()
    np.testing.assert_allclose(two_steps, expected, rtol=1e-6, atol=1e-7)


def test_a_request_of_5000_candidates_scores_in_one_call(exported, loaded):
    _export_dir, _, _, rows = exported
    serve = loaded.signatures["serving_default"]
    serialized = [serialize_example(rows[i % len(rows)], with_labels=False) for i in range(5000)]
    prediction = serve(examples=tf.constant(serialized))["prediction"].numpy()
    assert prediction.shape == (5000, 1)
    assert np.all(np.isfinite(prediction))


def test_broken_candidates_still_score_a_finite_prediction(exported, loaded):
    _export_dir, _, _, rows = exported
    serve = loaded.signatures["serving_default"]
    good = dict(rows[0])
    broken = [
        {**good, "u.age": [math.nan], "c.likes": [math.inf]},  # NaN and +Inf
        {**good, "u.opens": [-math.inf]},
        {"c.source": [b"in"]},  # every continuous feature missing
        {"u.age": [3.0], "u.opens": [1.0], "c.likes": [2.0]},  # no sparse ids at all
        {},  # nothing at all
    ]
    prediction = serve(examples=tf.constant([serialize_example(row, with_labels=False) for row in broken]))[
        "prediction"
    ].numpy()
    assert prediction.shape == (5, 1)
    assert np.all(np.isfinite(prediction)) and np.all((prediction >= 0) & (prediction <= 1))


def test_the_model_directory_carries_its_feature_list_and_settings(exported, loaded):
    export_dir, _, _, _ = exported
    settings, feature_list = load_settings(export_dir)
    assert feature_list == list(FEATURES.continuous)
    assert settings["kind"] == "deepnorm" and settings["deepnorm"]["input_size_bits"] == BITS
    with open(os.path.join(export_dir, FEATURE_LIST_FILE)) as f:
        assert json.load(f) == ["u.age", "u.opens", "c.likes"]
    assert os.path.isfile(os.path.join(export_dir, SETTINGS_FILE))
    assert {
        "serving_default",
        "transform_features",
        "serving_transformed",
        "serving_features",
        "slice_features",
    } <= set(loaded.signatures)


def test_the_model_carries_what_evaluating_it_needs(exported):
    export_dir = exported[0]
    with open(os.path.join(export_dir, "assets.extra", "lightrank_model.json")) as f:
        written = json.load(f)
    assert written == {
        "version": 1,
        "task": "HeavyRankPosition",
        "label_key": "label.top3",
        "features": json.loads(json.dumps(FEATURES.to_dict())),  # tuples as lists
        "column_types": {
            "meta.key": "int64",
            "meta.weight": "float32",
            "meta.score": "float32",
            "label.top3": "int64",
        },
    }
    assert os.path.join("assets.extra", "lightrank_model.json") == MODEL_ASSET
    asset = read_model_asset(export_dir)
    assert asset == ModelAsset(FEATURES, "HeavyRankPosition", written["column_types"])
    assert asset.label_key == "label.top3"
    assert read_model_asset(os.path.dirname(export_dir)) is None  # an older model has none


def test_an_unreadable_model_asset_is_named(tmp_path):
    (tmp_path / "assets.extra").mkdir()
    (tmp_path / MODEL_ASSET).write_text('{"version": 1, "task": "Sent"}')
    with pytest.raises(ValueError, match=r"lightrank_model.json does not read .* malformed"):
        read_model_asset(str(tmp_path))


def test_slice_features_gives_only_the_buckets_from_raw_candidates(exported, loaded):
    _export_dir, _, _, rows = exported
    slice_features = loaded.signatures["slice_features"]
    ages = [50.0, 100.0, 299.0, 1000.0]
    serialized = [serialize_example({**rows[0], "u.age": [age]}, with_labels=False) for age in ages] + [
        serialize_example({"c.likes": [1.0]}, with_labels=False)
    ]
    buckets = slice_features(examples=tf.constant(serialized))
    assert set(buckets) == {"u.age_bucket"}
    assert buckets["u.age_bucket"].numpy().tolist() == [0, 1, 1, 2, -1]


def test_serving_transformed_rejects_ids_outside_the_hashed_table_naming_the_limit(exported, loaded):
    serve = loaded.signatures["serving_transformed"]
    continuous = tf.zeros([2, len(FEATURES.continuous)])
    lengths = tf.constant([1, 1], tf.int64)
    in_range = serve(continuous=continuous, ids=tf.constant([0, 2**BITS - 1], tf.int64), row_lengths=lengths)
    assert in_range["prediction"].shape == (2, 1)
    for bad in (2**BITS, -1):
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=r"ids must lie in \[0, 2\*\*input_size_bits\) = \[0, 256\)"
        ):
            serve(continuous=continuous, ids=tf.constant([3, bad], tf.int64), row_lengths=lengths)
