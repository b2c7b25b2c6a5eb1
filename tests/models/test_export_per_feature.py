"""The export of light rankers with one bag per sparse feature (and the FM term): every signature serves."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tiny_transform import RAW_SPEC, TINY_FEATURES, serialize_example, write_transform_graph

from lightrank.models.deepnorm.config import PRESETS, DeepNormConfig
from lightrank.models.deepnorm.model import deepnorm_light_ranker, input_keys
from lightrank.models.export import export_serving_model
from lightrank.models.features import CONTINUOUS, SPARSE_IDS, SPARSE_SLOTS

BITS = 8
#: The id-aware settings, on the tiny features: `c.source` is the candidate side, `u.id` the user side.
CONFIGS = {
    "per_feature": DeepNormConfig(
        input_size_bits=BITS, sparse_bags="per_feature", sparse_embedding_size=4, dense_embedding_size=8
    ),
    "fm": DeepNormConfig(
        input_size_bits=BITS,
        sparse_bags="per_feature",
        sparse_embedding_size=4,
        dense_embedding_size=8,
        pairwise="fm",
        fm_user_features=r"u\..*",
        fm_candidate_features=r"c\..*",
        use_missing_sub_branch=True,
    ),
    # The default preset as it is (an FM term over all pairs), on a 2**8-row table.
    "default preset": PRESETS["default"][0].model_copy(update={"input_size_bits": BITS}),
}


def _row(rng: np.random.Generator, i: int) -> dict[str, object]:
    return {
        "u.age": [float(rng.gamma(2.0, 100.0))],
        "u.opens": [float(rng.poisson(3))] if i % 3 else [],
        "c.likes": [float(rng.poisson(20))],
        "c.source": [rng.choice([b"in", b"oon", b"topic"])],
        "u.id": [int(rng.integers(1, 10**12))] if i % 5 else [],
        "meta.key": i // 20,
        "meta.weight": float(i % 20),
        "meta.score": float(rng.uniform()),
        "label.top3": int(i % 20 < 3),
    }


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    rng = np.random.default_rng(0)
    rows = [_row(rng, i) for i in range(120)]
    work = tmp_path_factory.mktemp(request.param.replace(" ", "_"))
    transform_output = write_transform_graph(rows, RAW_SPEC, TINY_FEATURES, BITS, str(work / "transform"))
    config = CONFIGS[request.param]
    tf.keras.utils.set_random_seed(1)
    model = deepnorm_light_ranker(config, len(TINY_FEATURES.continuous), TINY_FEATURES.sparse)
    for variable in model.trainable_variables:  # off the initial values, so the bags and FM matter
        variable.assign(variable + tf.random.normal(variable.shape, stddev=0.1, dtype=variable.dtype))
    settings = {"kind": "deepnorm", "task": "HeavyRankPosition", "deepnorm": config.model_dump(mode="json")}
    export_dir = str(work / "model")
    export_serving_model(model, transform_output, TINY_FEATURES, input_keys(config), export_dir, settings)
    return model, transform_output, rows, tf.saved_model.load(export_dir)


def _serialized(rows: list[dict[str, object]]) -> tf.Tensor:
    return tf.constant([serialize_example(row, with_labels=False) for row in rows])


def test_serving_default_matches_the_keras_model(exported) -> None:
    model, transform_output, rows, loaded = exported
    served = loaded.signatures["serving_default"](examples=_serialized(rows[:64]))["prediction"].numpy()
    raw = tf.io.parse_example(tf.constant([serialize_example(r) for r in rows[:64]]), RAW_SPEC)
    transformed = transform_output.transform_raw_features(raw)
    logits = model({key: transformed[key] for key in (CONTINUOUS, SPARSE_IDS, SPARSE_SLOTS)}, training=False)
    np.testing.assert_allclose(served, tf.sigmoid(logits).numpy(), rtol=1e-5, atol=1e-6)
    assert served.std() > 1e-4


def test_serving_features_then_serving_transformed_is_serving_default(exported) -> None:
    _, _, rows, loaded = exported
    serialized = _serialized(rows[:32])
    features = loaded.signatures["serving_features"](examples=serialized)
    assert set(features) == {CONTINUOUS, "ids", "slots", "row_lengths"}
    assert features["slots"].shape == features["ids"].shape
    two_steps = loaded.signatures["serving_transformed"](**features)["prediction"].numpy()
    expected = loaded.signatures["serving_default"](examples=serialized)["prediction"].numpy()
    np.testing.assert_allclose(two_steps, expected, rtol=1e-6, atol=1e-7)


def test_serving_transformed_rejects_slots_outside_the_features(exported) -> None:
    _, _, _, loaded = exported
    serve = loaded.signatures["serving_transformed"]
    args = {
        "continuous": tf.zeros([2, len(TINY_FEATURES.continuous)]),
        "ids": tf.constant([3, 4], tf.int64),
        "row_lengths": tf.constant([1, 1], tf.int64),
    }
    assert serve(**args, slots=tf.constant([0, 1], tf.int64))["prediction"].shape == (2, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"slots must lie in \[0, 2\)"):
        serve(**args, slots=tf.constant([0, 2], tf.int64))


def test_candidates_without_ids_still_score(exported) -> None:
    _, _, _, loaded = exported
    rows = [{"u.age": [3.0], "u.opens": [1.0], "c.likes": [2.0]}, {}]
    prediction = loaded.signatures["serving_default"](examples=_serialized(rows))["prediction"].numpy()
    assert prediction.shape == (2, 1) and np.all(np.isfinite(prediction))
