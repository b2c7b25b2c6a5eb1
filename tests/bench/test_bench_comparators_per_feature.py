"""The comparators' featurisation and ONNX conversion of a model with one bag per sparse feature (`slots`)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from bench_tiny import BITS, FEATURES, SPEC, row
from tiny_transform import serialize_example, write_transform_graph

from lightrank.models.deepnorm.config import PRESETS
from lightrank.models.deepnorm.model import deepnorm_light_ranker, input_keys
from lightrank.models.export import export_serving_model
from lightrank_bench.featurizer import TFT_LAYER, featurizer
from lightrank_bench.onnx_model import convert_to_onnx


@pytest.fixture(scope="module")
def per_feature(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, tf.Tensor]:
    """The default preset (bags and FM term) exported on the tiny candidates, loaded, and a request."""
    work = tmp_path_factory.mktemp("per_feature")
    rng = np.random.default_rng(0)
    rows = [row(rng, i) for i in range(60)]
    transform_output = write_transform_graph(rows, SPEC, FEATURES, BITS, str(work / "transform"))
    config = PRESETS["default"][0].model_copy(update={"input_size_bits": BITS})
    tf.keras.utils.set_random_seed(1)
    model = deepnorm_light_ranker(config, len(FEATURES.continuous), FEATURES.sparse)
    for variable in model.trainable_variables:
        variable.assign(variable + tf.random.normal(variable.shape, stddev=0.1, dtype=variable.dtype))
    settings = {"kind": "deepnorm", "task": "HeavyRankPosition", "deepnorm": config.model_dump(mode="json")}
    export_dir = str(work / "model")
    export_serving_model(model, transform_output, FEATURES, input_keys(config), export_dir, settings)
    request = tf.constant([serialize_example(r, with_labels=False) for r in rows[:30]])
    return tf.saved_model.load(export_dir), request


def test_both_featurisations_carry_the_slots_serving_transformed_needs(per_feature) -> None:
    loaded, request = per_feature
    served = loaded.signatures["serving_default"](examples=request)["prediction"].numpy()
    current = featurizer(loaded)
    assert current.names == ("continuous", "ids", "row_lengths", "slots")
    tensors = current.featurize(request)
    transformed = loaded.signatures["serving_transformed"](**dict(zip(current.names, tensors, strict=True)))
    np.testing.assert_allclose(transformed["prediction"].numpy(), served, atol=1e-6)
    for mine, theirs in zip(featurizer(loaded, TFT_LAYER).featurize(request), tensors, strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_onnx_conversion_feeds_the_slots(per_feature, tmp_path) -> None:
    loaded, request = per_feature
    current = featurizer(loaded)
    inputs = [value.numpy() for value in current.featurize(request)]
    status, difference = convert_to_onnx(loaded, inputs, str(tmp_path / "model.onnx"), current.names)
    if status != "converted":
        pytest.skip(status)
    assert difference is not None and difference <= 1e-5
