"""The exported model as TFMA loads it: signatures that also take their one input positionally."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from apache_beam.internal import pickler
from tensorflow_model_analysis.api import types

from lightrank.components.eval_model import positional_signatures

EXAMPLES = [b"a", b"abc", b""]


class _Scorer(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        length = tf.cast(tf.strings.length(examples), tf.float32)
        return {"p": tf.ones_like(length) + length}  # depends on the input: a mix-up shows

    @tf.function(
        input_signature=[
            tf.TensorSpec(shape=[None], dtype=tf.string, name="left"),
            tf.TensorSpec(shape=[None], dtype=tf.string, name="right"),
        ]
    )
    def pair(self, left: tf.Tensor, right: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"n": tf.strings.length(left) + 2 * tf.strings.length(right)}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("model"))
    scorer = _Scorer()
    tf.saved_model.save(scorer, path, signatures={"serving_default": scorer.serve, "pair": scorer.pair})
    return path


def _shared_model(model_dir: str, name: str = "") -> types.EvalSharedModel:
    """The shared model as `lightrank eval` makes it (pipeline/eval/evaluate.py `_run_tfma`)."""
    config = tfma.EvalConfig(model_specs=[tfma.ModelSpec(name=name, signature_name="serving_default")])
    return tfma.default_eval_shared_model(
        eval_saved_model_path=model_dir, eval_config=config, rubber_stamp=True, model_name=name
    )


def test_the_serving_signature_takes_its_input_positionally(model_dir):
    model = positional_signatures(_shared_model(model_dir)).model_loader.load()
    signature = model.signatures["serving_default"]
    examples = tf.constant(EXAMPLES)
    positional = signature(examples)
    keyword = signature(examples=examples)
    assert set(positional) == set(keyword) == {"p"}
    np.testing.assert_array_equal(positional["p"].numpy(), keyword["p"].numpy())
    np.testing.assert_array_equal(positional["p"].numpy(), [2.0, 4.0, 1.0])


def test_the_wrapped_signature_is_still_a_loaded_signature(model_dir):
    model = positional_signatures(_shared_model(model_dir)).model_loader.load()
    plain = tf.saved_model.load(model_dir)
    signature = model.signatures["serving_default"]
    assert (
        signature.structured_input_signature == plain.signatures["serving_default"].structured_input_signature
    )
    assert set(signature.structured_outputs) == {"p"}
    assert set(model.signatures) == {"serving_default", "pair"}
    assert callable(model.serve)  # other attributes are the loaded model's


def test_a_signature_of_several_inputs_is_left_as_it_was(model_dir):
    model = positional_signatures(_shared_model(model_dir)).model_loader.load()
    pair = model.signatures["pair"]
    assert pair.structured_input_signature[1].keys() == {"left", "right"}
    result = pair(left=tf.constant([b"ab"]), right=tf.constant([b"abc"]))
    assert result["n"].numpy().tolist() == [8]


class _Signature:
    """A loaded signature that, like TensorFlow's, binds its input by name only."""

    structured_input_signature = ((), {"examples": tf.TensorSpec([None], tf.string)})

    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kwargs):
        if args:
            raise TypeError("positional arguments are not bound")
        self.calls.append(kwargs)
        return kwargs


class _Loaded:
    def __init__(self):
        self.signatures = {"serving_default": _Signature()}
        self.version = 3


def _fake_shared_model(model) -> types.EvalSharedModel:
    return types.EvalSharedModel(
        model_path="/nowhere", model_name="m", model_loader=types.ModelLoader(lambda: model, tags=["serve"])
    )


def test_a_positional_call_binds_the_input_by_name_and_other_calls_pass_through():
    loaded = _Loaded()
    wrapped = positional_signatures(_fake_shared_model(loaded))
    assert (wrapped.model_path, wrapped.model_name, wrapped.model_loader.tags) == ("/nowhere", "m", ["serve"])
    model = wrapped.model_loader.load()
    assert model.signatures["serving_default"]("batch") == {"examples": "batch"}
    assert model.signatures["serving_default"](examples="kw") == {"examples": "kw"}
    with pytest.raises(TypeError):
        model.signatures["serving_default"]("a", "b")  # two positional arguments: the signature's error
    assert loaded.signatures["serving_default"].calls == [{"examples": "batch"}, {"examples": "kw"}]
    assert model.version == 3


class _Unsigned:
    """A loaded model without signatures (Beam's Shared needs a weak reference to it)."""


def test_a_model_without_signatures_is_returned_as_loaded():
    model = _Unsigned()
    assert positional_signatures(_fake_shared_model(model)).model_loader.load() is model


def test_lists_and_dicts_of_shared_models_are_wrapped_and_none_stays_none(model_dir):
    a, b = _shared_model(model_dir, "a"), _shared_model(model_dir, "b")
    examples = tf.constant(EXAMPLES)
    for wrapped in (positional_signatures([a, b]), list(positional_signatures({"a": a, "b": b}).values())):
        assert [shared.model_name for shared in wrapped] == ["a", "b"]
        for shared in wrapped:
            assert isinstance(shared, types.EvalSharedModel)
            assert shared.model_loader is not a.model_loader and shared.model_loader is not b.model_loader
            result = shared.model_loader.load().signatures["serving_default"](examples)
            assert result["p"].numpy().tolist() == [2.0, 4.0, 1.0]
    assert set(positional_signatures({"a": a, "b": b})) == {"a", "b"}
    assert positional_signatures(None) is None


def test_the_wrapped_shared_model_survives_beam_pickling(model_dir):
    wrapped = pickler.loads(pickler.dumps(positional_signatures(_shared_model(model_dir))))
    result = wrapped.model_loader.load().signatures["serving_default"](tf.constant([b"xy"]))
    assert result["p"].numpy().tolist() == [3.0]
