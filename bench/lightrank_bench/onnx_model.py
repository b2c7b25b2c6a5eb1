"""Our exported model in ONNX Runtime: `serving_transformed` converted by tf2onnx, checked, and served.

The goals in `docs/performance.md` compare the same model run through ONNX Runtime, if it
converts. The SavedModel's
`serving_transformed` signature (already-transformed `continuous`, `ids`, `row_lengths` in,
`prediction` out) is the part another runtime can run: parsing `tf.Example`s and hashing
strings have no ONNX equivalent worth timing. `convert_to_onnx` converts it and compares ONNX
Runtime's predictions with TensorFlow's on the same tensors; whether it converts is itself an
answer, so a failure is a result ("did not convert: <reason>"), never an exception.

One tf2onnx default is overridden (`_select_as_where`): it would turn the model's
`FilterNonFinite` into arithmetic that scores an infinite input NaN, where TensorFlow scores it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lightrank.models.features import CONTINUOUS, SERVING_IDS, SERVING_ROW_LENGTHS

if TYPE_CHECKING:  # TensorFlow and ONNX Runtime load only when a benchmark runs.
    import onnxruntime

ONNX_OPSET = 17
#: `serving_transformed`'s inputs, in the order every `(continuous, ids, row_lengths)` tuple here uses.
INPUT_NAMES = (CONTINUOUS, SERVING_IDS, SERVING_ROW_LENGTHS)


def all_cores() -> int:
    """Cores this process may run on (its CPU affinity), what "all cores" means for ONNX Runtime."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def onnx_session(path: str, threads: int) -> onnxruntime.InferenceSession:
    """A CPU ONNX Runtime session with `threads` intra-op threads (0: all cores), ops in sequence.

    "All cores" is set explicitly because ONNX Runtime's own default counts physical cores only.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads if threads > 0 else all_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def onnx_feeds(
    session: onnxruntime.InferenceSession, inputs: Sequence[np.ndarray], names: Sequence[str] = INPUT_NAMES
) -> dict[str, np.ndarray]:
    """`session.run`'s feed of `inputs` (named `names`: `featurizer.Featurizer.names`), by input name."""
    by_name = dict(zip(names, inputs, strict=True))
    return {node.name: by_name[node.name.split(":")[0]] for node in session.get_inputs()}


def _one_line(stage: str, error: BaseException) -> str:
    message = str(error).strip().splitlines()
    text = f"{stage}: {type(error).__name__}" + (f": {message[0]}" if message else "")
    return text if len(text) <= 200 else text[:197] + "..."


def _select_as_where(graph: Any, ops: list[Any]) -> list[Any]:
    """tf2onnx rewriter: convert every TF `Select` to ONNX `Where`, never to tf2onnx's Mul/Add trick.

    tf2onnx turns `tf.where(c, x, y)` into `x * c + y * (1 - c)` unless it sees that NaN is
    involved; `FilterNonFinite` is `tf.where(is_finite(x), x, 0)`, which it does not recognise,
    so an infinite input became `inf * 0 = NaN` and the candidate scored NaN where TensorFlow
    scores it (onnx/tensorflow-onnx PR #2411 fixes only the `is_inf` pattern).
    """
    for op in ops:
        if op.type in ("Select", "SelectV2"):
            op.set_attr("handles_nan", True)
    return ops


def _log1p_as_log(ctx: Any, node: Any, name: str, args: Any) -> None:
    """tf2onnx handler: TF's `Log1p` (the `continuous_log` layer) as ONNX `Log(x + 1)`, which ONNX lacks."""
    dtype = ctx.get_dtype(node.input[0])
    from tf2onnx import utils

    one = ctx.make_const(
        utils.make_name(f"{name}_one"), np.array(1, dtype=utils.map_onnx_to_numpy_type(dtype))
    )
    plus_one = ctx.make_node("Add", [node.input[0], one.output[0]], op_name_scope=name)
    node.type = "Log"
    ctx.replace_inputs(node, [plus_one.output[0]])


def prediction_difference(first: np.ndarray, second: np.ndarray) -> float:
    """Largest |first - second|; NaN in both counts as equal, NaN in one as an infinite difference."""
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    both_nan = np.isnan(first) & np.isnan(second)
    difference = np.abs(np.where(both_nan, 0.0, first - second))
    return float(np.max(np.where(np.isnan(difference), np.inf, difference), initial=0.0))


def convert_to_onnx(
    loaded: Any, inputs: Sequence[np.ndarray], path: str, names: Sequence[str] = INPUT_NAMES
) -> tuple[str, float | None]:
    """Converts `serving_transformed` with tf2onnx and checks ONNX Runtime's predictions against it.

    Never raises for a model that does not convert: the reason is the result, because "does it
    convert" is one of the questions `docs/performance.md` asks.

    Args:
        loaded: The loaded SavedModel.
        inputs: `(continuous, ids, row_lengths)` to compare predictions on, and `slots` after
            them for a model with one bag per sparse feature.
        path: Where the ONNX model is written.
        names: `serving_transformed`'s input name of each of `inputs` (`featurizer.Featurizer.names`).

    Returns:
        `("converted", max abs prediction difference)` or `("did not convert: <reason>", None)`.
    """
    import tensorflow as tf

    signature = loaded.signatures.get("serving_transformed")
    if signature is None:
        return "did not convert: the export has no serving_transformed signature", None
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    signature_specs = signature.structured_input_signature[1]
    specs = [tf.TensorSpec(signature_specs[name].shape, signature_specs[name].dtype, name) for name in names]

    def predict(*tensors: tf.Tensor) -> dict[str, tf.Tensor]:
        return signature(**dict(zip(names, tensors, strict=True)))

    try:
        import tf2onnx

        tf2onnx.convert.from_function(
            tf.function(predict, input_signature=specs), input_signature=specs, opset=ONNX_OPSET,
            custom_rewriter=[_select_as_where], custom_op_handlers={"Log1p": (_log1p_as_log, [])},
            output_path=path,
        )  # fmt: skip
    except Exception as error:  # tf2onnx raises anything from ValueError to its own errors
        return "did not convert: " + _one_line("tf2onnx", error), None
    try:
        session = onnx_session(path, 0)
        onnx_prediction = np.asarray(session.run(None, onnx_feeds(session, inputs, names))[0])
    except Exception as error:  # e.g. an op tf2onnx left as a TensorFlow op
        return "did not convert: " + _one_line("ONNX Runtime", error), None
    tf_prediction = predict(*(tf.constant(value) for value in inputs))["prediction"].numpy()
    if onnx_prediction.shape != tf_prediction.shape:
        return f"did not convert: ONNX output shape {onnx_prediction.shape} != TF {tf_prediction.shape}", None
    return "converted", prediction_difference(onnx_prediction, tf_prediction)
