"""The feature spec an exported model's `serving_default` parses, read back from its graph.

The parsing share of serving time must be measured with exactly the spec the model parses
with (its continuous and sparse inputs, nothing else). An exported SavedModel does not
store that spec as data, but its serving function holds one `ParseExampleV2` op whose key
lists, types, shapes and defaults are constants of the same function: this module rebuilds
the `tf.io.parse_example` spec from them, so the benchmark needs only the model directory.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
from tensorflow.core.framework import function_pb2, node_def_pb2

from lightrank_bench.errors import BenchInputError


class ServingSpecError(BenchInputError):
    """The exported model's serving signature does not parse `tf.Example`s the expected way."""


def _parse_ops(graph_def: tf.compat.v1.GraphDef) -> list[tuple[function_pb2.FunctionDef, Any]]:
    """Every `ParseExampleV2` node of the signature's function library, with its function."""
    return [
        (function, node)
        for function in graph_def.library.function
        for node in function.node_def
        if node.op == "ParseExampleV2"
    ]


def _constant(function: function_pb2.FunctionDef, input_name: str) -> Any:
    """The value of the `Const` node feeding `input_name` ("node:output:0") inside `function`.

    The default of a dense feature reaches the parse op through a `Reshape` of the constant, so
    the value is the constant's (a scalar default has the same values in either shape).
    """
    nodes: dict[str, node_def_pb2.NodeDef] = {node.name: node for node in function.node_def}
    node = nodes.get(input_name.split(":")[0])
    # `tf.io.parse_example` reshapes a dense default to the feature's shape: follow it back.
    while node is not None and node.op in ("Reshape", "Identity"):
        node = nodes.get(node.input[0].split(":")[0])
    if node is None or node.op != "Const":
        raise ServingSpecError(f"parse input {input_name!r} is not a constant of the serving function")
    return tf.make_ndarray(node.attr["value"].tensor)


def _keys(function: function_pb2.FunctionDef, input_name: str) -> list[str]:
    return [key.decode() for key in _constant(function, input_name).reshape(-1).tolist()]


def serving_feature_spec(signature: Any) -> dict[str, Any]:
    """The `tf.io.parse_example` spec of a loaded `serving_default` signature.

    Args:
        signature: `tf.saved_model.load(dir).signatures["serving_default"]`.

    Returns:
        `{feature: tf.io.VarLenFeature | tf.io.FixedLenFeature | tf.io.RaggedFeature}`.

    Raises:
        ServingSpecError: If the signature does not hold exactly one `ParseExampleV2` with
            constant keys (e.g. a model exported by another tool).
    """
    found = _parse_ops(signature.graph.as_graph_def())
    if len(found) != 1:
        raise ServingSpecError(
            f"the serving signature holds {len(found)} ParseExampleV2 ops; expected exactly one"
        )
    function, node = found[0]
    # Inputs: serialized, names, sparse_keys, dense_keys, ragged_keys, then one default per dense key.
    inputs = [name for name in node.input if not name.startswith("^")]
    sparse_keys, dense_keys, ragged_keys = (_keys(function, inputs[i]) for i in (2, 3, 4))
    spec: dict[str, Any] = {}
    for key, dtype in zip(sparse_keys, node.attr["sparse_types"].list.type, strict=True):
        spec[key] = tf.io.VarLenFeature(tf.dtypes.as_dtype(dtype))
    dense_shapes = node.attr["dense_shapes"].list.shape
    dense_types = node.attr["Tdense"].list.type
    for index, key in enumerate(dense_keys):
        shape = [int(dim.size) for dim in dense_shapes[index].dim]
        default = _constant(function, inputs[5 + index])
        value = (default.reshape(-1)[0].item() if not shape else default) if default.size else None
        spec[key] = tf.io.FixedLenFeature(shape, tf.dtypes.as_dtype(dense_types[index]), default_value=value)
    for key, dtype in zip(ragged_keys, node.attr["ragged_value_types"].list.type, strict=True):
        spec[key] = tf.io.RaggedFeature(tf.dtypes.as_dtype(dtype))
    return spec
