"""The Evaluator's verdict when the model to evaluate is the baseline itself, from one TFMA pass.

A re-run whose Trainer comes from the cache hands the Evaluator the model the previous run
blessed, and `latest_blessed_model_resolver` hands in that very artifact as the baseline.
TFMA would then score every example twice with one model (most of such a run's time) to find
differences of exactly 0. `evaluate_against_itself` scores the model once and writes what
TFMA's comparison would have written:

1. TFX's executor evaluates the model alone: without a baseline it drops the change
   thresholds (as on a first run) and writes a single-model output.
2. Every slice's metrics become TFMA's form of a comparison of the model with itself
   (`as_comparison_with_itself`): each metric under the model names `candidate` and
   `baseline`, and its diff `v - v` (0; NaN for a NaN value, as in TFMA).
3. TFMA's own validator (`metrics_validator.validate_metrics`, `CombineValidations`) judges
   them against the EvalConfig as TFX completes it for a baseline: value thresholds on the
   candidate's values, change thresholds on a difference of 0. So a change threshold that
   asks for an improvement (`absolute: 0.01`, higher is better) fails, as it would in TFX; a
   tolerance (`absolute: -0.5`) passes; a relative one on a baseline value of 0 fails (TFMA's
   ratio is NaN there).
4. The metrics, plots, eval config and validation result are rewritten in that form, so every
   reader (`metrics_by_slice`, the run report's change gates and their diffs, `run_summary`)
   reads a normal comparison; the blessing gets TFX's properties and `baseline_is_candidate`.

Only scalar metrics get a diff (TFMA also diffs numeric arrays; this pipeline has none).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import tensorflow as tf
import tensorflow_model_analysis as tfma
from absl import logging
from google.protobuf import json_format
from google.protobuf.message import Message
from tensorflow_model_analysis import constants as tfma_constants
from tensorflow_model_analysis.evaluators import metrics_validator
from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.proto import config_pb2, metrics_for_slice_pb2, validation_result_pb2
from tensorflow_model_analysis.writers import eval_config_writer, metrics_plots_and_validations_writer
from tfx import types
from tfx.components.evaluator import constants
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

#: Blessing custom property: 1 when the model was the baseline itself and was evaluated once.
BASELINE_IS_CANDIDATE = "baseline_is_candidate"
CANDIDATE, BASELINE = tfma_constants.CANDIDATE_KEY, tfma_constants.BASELINE_KEY
_MODEL, _BASELINE_MODEL = standard_component_specs.MODEL_KEY, standard_component_specs.BASELINE_MODEL_KEY
_Record = TypeVar("_Record", bound=Message)
Evaluate = Callable[[dict[str, list[types.Artifact]], dict[str, list[types.Artifact]], dict[str, Any]], None]


def is_same_model(model: types.Artifact, baseline: types.Artifact) -> bool:
    """Whether two Model artifacts are one model: the same ML Metadata id, or the same directory.

    The id is what the resolver returns; the URI also catches one directory registered twice.
    An unset id (0) or URI ("") never matches: artifacts built in memory have neither.
    """
    if model.id and model.id == baseline.id:
        return True
    return bool(model.uri) and model.uri.rstrip("/") == baseline.uri.rstrip("/")


def baseline_is_candidate(input_dict: Mapping[str, list[types.Artifact]]) -> bool:
    """True when the Evaluator's baseline is the model it evaluates (a re-run of a cached Trainer)."""
    baselines = input_dict.get(_BASELINE_MODEL) or []
    model = artifact_utils.get_single_instance(list(input_dict[_MODEL]))
    return bool(baselines) and is_same_model(model, baselines[0])


def comparison_config(eval_config: tfma.EvalConfig) -> tfma.EvalConfig:
    """The EvalConfig as TFX completes it when a baseline is given: two named models, every threshold."""
    config = tfma.utils.update_eval_config_with_defaults(eval_config, has_baseline=True, rubber_stamp=True)
    tfma.utils.verify_eval_config(config)
    return config


def as_comparison_with_itself(
    metrics: metrics_for_slice_pb2.MetricsForSlice,
) -> metrics_for_slice_pb2.MetricsForSlice:
    """One slice of a single-model output as TFMA writes a comparison of that model with itself."""
    result = metrics_for_slice_pb2.MetricsForSlice()
    result.CopyFrom(metrics)
    del result.metric_keys_and_values[:]
    for entry in metrics.metric_keys_and_values:
        for model_name in (CANDIDATE, BASELINE):
            copy = result.metric_keys_and_values.add()
            copy.CopyFrom(entry)
            copy.key.model_name = model_name
        if entry.value.HasField("double_value") and not entry.key.is_diff:
            value = entry.value.double_value.value
            diff = result.metric_keys_and_values.add()
            diff.key.CopyFrom(entry.key)
            diff.key.model_name, diff.key.is_diff = CANDIDATE, True
            diff.value.double_value.value = value - value
    return result


def _sliced_metrics(metrics: metrics_for_slice_pb2.MetricsForSlice) -> tuple[Any, dict[Any, Any]]:
    """A MetricsForSlice in the in-memory form TFMA's validator reads: (slice key, {MetricKey: value})."""
    if metrics.HasField("cross_slice_key"):
        slice_key = tfma.slicer.deserialize_cross_slice_key(metrics.cross_slice_key)
    else:
        slice_key = tfma.slicer.deserialize_slice_key(metrics.slice_key)
    values = {
        metric_types.MetricKey.from_proto(entry.key): (
            entry.value.double_value.value if entry.value.HasField("double_value") else entry.value
        )
        for entry in metrics.metric_keys_and_values
    }
    return slice_key, values


def validate_against_itself(
    metrics: Iterable[metrics_for_slice_pb2.MetricsForSlice], eval_config: tfma.EvalConfig
) -> validation_result_pb2.ValidationResult:
    """TFMA's validation result for comparison metrics (`as_comparison_with_itself`), as TFMA combines it.

    Args:
        metrics: Every slice's metrics, each already in the comparison form.
        eval_config: The `comparison_config`.
    """
    combine = metrics_plots_and_validations_writer.CombineValidations(eval_config, rubber_stamp=False)
    accumulator = combine.create_accumulator()
    for record in metrics:
        checked = metrics_validator.validate_metrics(_sliced_metrics(record), eval_config)
        accumulator = combine.add_input(accumulator, checked)
    return combine.extract_output(accumulator)


def _with_both_model_names(record: _Record, field: str) -> _Record:
    """A plots or attributions record whose every entry is there for the candidate and the baseline."""
    entries = list(getattr(record, field))
    del getattr(record, field)[:]
    for entry in entries:
        for model_name in (CANDIDATE, BASELINE):
            copy = getattr(record, field).add()
            copy.CopyFrom(entry)
            copy.key.model_name = model_name
    return record


def _rewrite(uri: str, prefix: str, parse: Callable[[bytes], _Record], change: Callable) -> list[_Record]:
    """Rewrites each TFRecord file `uri/prefix*` record by record; returns the new records."""
    written = []
    for path in sorted(tf.io.gfile.glob(os.path.join(uri, f"{prefix}*.tfrecord"))):
        records = [change(parse(raw)) for raw in tf.compat.v1.io.tf_record_iterator(path)]
        with tf.io.TFRecordWriter(path) as writer:
            for record in records:
                writer.write(record.SerializeToString())
        written += records
    return written


def _rewrite_eval_run(uri: str, eval_config: tfma.EvalConfig) -> None:
    """The stored EvalRun with the comparison's config; both models are at the one model's path."""
    path = os.path.join(
        uri, f"{eval_config_writer.EVAL_CONFIG_FILE}.{eval_config_writer.EVAL_CONFIG_FILE_FORMAT}"
    )
    run = json_format.Parse(io_utils.read_string_file(path), config_pb2.EvalRun())
    location = next(iter(run.model_locations.values()), "")
    run.eval_config.CopyFrom(eval_config)
    run.model_locations.clear()
    run.model_locations.update({spec.name: location for spec in eval_config.model_specs})
    io_utils.write_string_file(path, json_format.MessageToJson(run))


def rewrite_as_comparison(uri: str, eval_config: tfma.EvalConfig) -> validation_result_pb2.ValidationResult:
    """Turns the single-model TFMA output at `uri` into its comparison with itself; returns the verdict."""
    pb = metrics_for_slice_pb2
    metrics = _rewrite(
        uri, tfma_constants.METRICS_KEY, pb.MetricsForSlice.FromString, as_comparison_with_itself
    )
    for prefix, record_type, field in (
        (tfma_constants.PLOTS_KEY, pb.PlotsForSlice, "plot_keys_and_values"),
        (tfma_constants.ATTRIBUTIONS_KEY, pb.AttributionsForSlice, "attributions_keys_and_values"),
    ):
        _rewrite(
            uri, prefix, record_type.FromString, lambda record, f=field: _with_both_model_names(record, f)
        )
    result = validate_against_itself(metrics, eval_config)
    found = tf.io.gfile.glob(os.path.join(uri, f"{tfma_constants.VALIDATIONS_KEY}*"))
    path = found[0] if found else os.path.join(uri, f"{tfma_constants.VALIDATIONS_KEY}.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(result.SerializeToString())
    _rewrite_eval_run(uri, eval_config)
    return result


def _bless(
    blessing: types.Artifact, models: tuple[types.Artifact, types.Artifact], ok: bool, component: str
) -> None:
    """What TFX's executor writes on a blessing after a comparison: the verdict's file and properties."""
    model, baseline = models
    for name in (constants.BLESSED_FILE_NAME, constants.NOT_BLESSED_FILE_NAME):
        if tf.io.gfile.exists(os.path.join(blessing.uri, name)):
            tf.io.gfile.remove(os.path.join(blessing.uri, name))
    name = constants.BLESSED_FILE_NAME if ok else constants.NOT_BLESSED_FILE_NAME
    io_utils.write_string_file(os.path.join(blessing.uri, name), "")
    blessing.set_string_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_URI_KEY, model.uri)
    blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY, model.id)
    blessing.set_string_custom_property(constants.ARTIFACT_PROPERTY_BASELINE_MODEL_URI_KEY, baseline.uri)
    blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_BASELINE_MODEL_ID_KEY, baseline.id)
    if component:
        blessing.set_string_custom_property("component_id", component)
    verdict = constants.BLESSED_VALUE if ok else constants.NOT_BLESSED_VALUE
    blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY, verdict)


def evaluate_against_itself(
    evaluate: Evaluate,
    input_dict: dict[str, list[types.Artifact]],
    output_dict: dict[str, list[types.Artifact]],
    exec_properties: dict[str, Any],
) -> None:
    """Evaluates a model that is its own baseline once, with TFX's verdict on the comparison.

    Args:
        evaluate: TFX's Evaluator executor's `Do`, run here without the baseline.
        input_dict: The Evaluator's inputs; the baseline is the model (`baseline_is_candidate`).
        output_dict: The Evaluator's outputs: the evaluation and the blessing.
        exec_properties: Its execution properties, with the EvalConfig as TFX's JSON.
    """
    evaluate(
        {key: value for key, value in input_dict.items() if key != _BASELINE_MODEL},
        output_dict,
        exec_properties,
    )
    config = tfma.EvalConfig()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.EVAL_CONFIG_KEY], config)
    config = comparison_config(config)
    evaluation = artifact_utils.get_single_uri(output_dict[standard_component_specs.EVALUATION_KEY])
    result = rewrite_as_comparison(evaluation, config)
    blessing = artifact_utils.get_single_instance(output_dict[standard_component_specs.BLESSING_KEY])
    blessing.set_int_custom_property(BASELINE_IS_CANDIDATE, 1)
    if not tfma.metrics.metric_thresholds_from_metrics_specs(config.metrics_specs, eval_config=config):
        return  # as TFX: no thresholds, no verdict (a model is never blessed by accident)
    model = artifact_utils.get_single_instance(input_dict[_MODEL])
    component = exec_properties.get("current_component_id", "")
    _bless(blessing, (model, input_dict[_BASELINE_MODEL][0]), result.validation_ok, component)
    logging.info(
        "Model %d is its own baseline: evaluated once, change thresholds met a difference of 0; blessed: %s",
        model.id,
        result.validation_ok,
    )
