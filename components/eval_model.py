"""The exported model as TFMA calls it, without a failed call per batch.

TFMA scores a batch with `signature(tf.constant(serialized_examples))`: one positional argument.
A signature of a loaded SavedModel binds keyword arguments only, so TensorFlow first tries the
structured binding, fails, formats an error message holding the repr of every serialized
candidate of the batch, discards it and retries the flat signature. Profiled on the sample:
17 ms per batch of about 280 candidates (60 us per candidate, several times the model's own
cost). `positional_signatures` hands TFMA the same model with signatures that take that one
argument by its name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from tensorflow_model_analysis.api import types


class _PositionalSignature:
    """A loaded signature that also accepts its single input positionally."""

    def __init__(self, function: Any, input_name: str):
        self._function = function
        self._input_name = input_name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs:
            return self._function(**{self._input_name: args[0]})
        return self._function(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._function, name)


def _single_input_name(function: Any) -> str | None:
    structured = getattr(function, "structured_input_signature", None)
    if not structured:
        return None
    positional, keywords = structured
    if positional or not isinstance(keywords, Mapping) or len(keywords) != 1:
        return None
    return next(iter(keywords))


class _Model:
    """The loaded model with `_PositionalSignature`s; every other attribute is the model's."""

    def __init__(self, model: Any):
        self._model = model
        self.signatures = {}
        for name, function in model.signatures.items():
            input_name = _single_input_name(function)
            self.signatures[name] = _PositionalSignature(function, input_name) if input_name else function

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def _load(construct_fn: Callable[[], Any]) -> Any:
    model = construct_fn()
    return _Model(model) if hasattr(model, "signatures") else model


def _with_positional_signatures(shared: types.EvalSharedModel) -> types.EvalSharedModel:
    loader = shared.model_loader
    construct_fn = functools.partial(_load, loader.construct_fn)
    return shared._replace(model_loader=types.ModelLoader(construct_fn=construct_fn, tags=loader.tags))


def positional_signatures(eval_shared_model: Any) -> Any:
    """`eval_shared_model` (one, a list or a dict of them, or None) loading `_Model`s."""
    if eval_shared_model is None:
        return None
    if isinstance(eval_shared_model, Mapping):
        return {name: _with_positional_signatures(shared) for name, shared in eval_shared_model.items()}
    if isinstance(eval_shared_model, types.EvalSharedModel):
        return _with_positional_signatures(eval_shared_model)
    if isinstance(eval_shared_model, (list, tuple)):
        return [_with_positional_signatures(shared) for shared in eval_shared_model]
    return _with_positional_signatures(eval_shared_model)
