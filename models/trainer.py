"""The TFX Trainer entry point: `run_fn` (referenced by dotted path).

It reads everything from `fn_args.custom_config` (written by
`lightrank.models.settings.model_custom_config`), builds the configured model, optionally
warm-starts it from the previous model (docs/model.md, Warm start; DeepNorm through
`lightrank.models.deepnorm.warm_start`, the logistic baseline through
`lightrank.models.baseline.warm_start`), trains it with early stopping on the unweighted RCE,
and exports the best weights for serving: calibrated by Platt scaling on the eval split when
`model.calibration` is `platt` (`lightrank.models.calibration`), with the unweighted RCE and
NRCE of the exported weights in `training_summary.json` either way.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from lightrank.models.baseline.model import INPUT_KEYS as BASELINE_INPUTS
from lightrank.models.baseline.model import logistic_regression
from lightrank.models.baseline.warm_start import warm_start_logistic
from lightrank.models.calibration import score_and_calibrate
from lightrank.models.deepnorm.config import DeepNormConfig, TrainingConfig
from lightrank.models.deepnorm.model import deepnorm_light_ranker
from lightrank.models.deepnorm.model import input_keys as deepnorm_input_keys
from lightrank.models.deepnorm.warm_start import WarmStartReport, warm_start
from lightrank.models.export import KERAS_WEIGHTS_DIR, SETTINGS_FILE, export_serving_model, load_settings
from lightrank.models.features import CONTINUOUS, SPARSE_IDS, ResolvedFeatures
from lightrank.models.inputs import count_candidates, make_dataset
from lightrank.models.scaling import scale_to_data
from lightrank.models.training.loop import TrainResult, train
from lightrank.models.tuning.space import apply_values

logger = logging.getLogger(__name__)

DEEPNORM_INPUTS = (CONTINUOUS, SPARSE_IDS)
#: Evaluation batches are large: they only run inference.
EVAL_BATCH_SIZE = 4096
TRAINING_SUMMARY_FILE = "training_summary.json"


def build_model(
    kind: str, deepnorm: DeepNormConfig, features: ResolvedFeatures
) -> tuple[tf.keras.Model, tuple]:
    """The model of a kind and the transformed features it reads."""
    if kind == "logistic":
        model = logistic_regression(
            len(features.continuous), deepnorm.input_size_bits, features.missing_value
        )
        return model, BASELINE_INPUTS
    if kind == "deepnorm":
        sides = (features.user_sparse, features.candidate_sparse)
        model = deepnorm_light_ranker(deepnorm, len(features.continuous), features.sparse, sides)
        return model, deepnorm_input_keys(deepnorm)
    raise ValueError(f"unknown model kind {kind!r}; expected 'deepnorm' or 'logistic'")


def _warm_start_from(
    model: tf.keras.Model, kind: str, base_model_dir: str, features: ResolvedFeatures
) -> WarmStartReport | None:
    """Copies the previous model's weights, remapping changed continuous features.

    The previous model is rebuilt from its `model_settings.json` and must restore completely
    from its `keras/` checkpoint: a checkpoint that leaves any of its variables unset (or has
    other shapes) does not belong to those settings, and warm-starting from half of it would
    be silent corruption.

    Returns:
        What was copied, or None when the previous model is of another kind (nothing copied).

    Raises:
        ValueError: If the previous model's weights do not match its own settings.
    """
    settings, old_features = load_settings(base_model_dir)
    if settings["kind"] != kind:
        logger.warning(
            "warm start skipped: the previous model is a %s, this one a %s", settings["kind"], kind
        )
        return None
    old_deepnorm = DeepNormConfig.model_validate(settings["deepnorm"])
    old_model, _ = build_model(
        kind, old_deepnorm, dataclasses.replace(features, continuous=tuple(old_features))
    )
    weights = os.path.join(base_model_dir, KERAS_WEIGHTS_DIR, "weights")
    status = None
    try:
        status = old_model.load_weights(weights)  # raises ValueError on a shape mismatch
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError) as error:
        if status is not None:
            status.expect_partial()  # the error below says it all: no second report when `status` is freed
        raise ValueError(
            f"cannot warm-start from {base_model_dir}: its weights ({weights}) do not match the "
            f"{kind} model its {SETTINGS_FILE} describes: {error}"
        ) from error
    if kind == "logistic":
        report = warm_start_logistic(model, old_model, old_features, list(features.continuous))
    else:
        report = warm_start(model, old_model, old_features, list(features.continuous))
    logger.info(
        "warm start from %s: copied %s; re-indexed by feature %s; skipped (shape differs) %s; "
        "not in the previous model %s; features kept %d, added %s, dropped %s",
        base_model_dir, list(report.copied), list(report.remapped), list(report.skipped),
        list(report.not_in_old), len(report.kept_features), list(report.added_features),
        list(report.dropped_features),
    )  # fmt: skip
    return report


def _base_model_dir(fn_args: Any) -> str | None:
    """The serving-model directory inside the resolved base Model artifact, if any.

    A resolved base model without `model_settings.json` (e.g. exported by an older version)
    cannot be rebuilt: the run trains from scratch and says so.
    """
    base = getattr(fn_args, "base_model", None)
    if not base:
        return None
    # TFX hands over `<artifact uri>/Format-Serving`: right for a Trainer's model, but a pushed
    # version imported by `model.warm_start_from` is the export itself, one level up.
    candidates = (base, os.path.join(base, "Format-Serving"))
    if os.path.basename(os.path.normpath(base)) == "Format-Serving":
        candidates += (os.path.dirname(os.path.normpath(base)),)
    for candidate in candidates:
        if os.path.isfile(os.path.join(candidate, SETTINGS_FILE)):
            return candidate
    logger.warning(
        "warm start skipped: the base model %s has no %s (looked in %s); training from scratch",
        base, SETTINGS_FILE, ", ".join(candidates),
    )  # fmt: skip
    return None


def _summary(result: TrainResult, kind: str, training: TrainingConfig) -> dict[str, Any]:
    """`training_summary.json`: `best_rce_unweighted` is the RCE at the step `early_stop_metric` chose."""
    return {
        "kind": kind,
        "steps": result.steps,
        "best_step": result.best_step,
        "early_stop_metric": training.early_stop_metric,
        "best_rce_unweighted": result.best_rce,
        "stop_reason": result.stop_reason,
        "examples_per_sec": result.examples_per_sec,
        "history": [dataclasses.asdict(evaluation) for evaluation in result.history],
    }


def make_datasets(
    fn_args: Any,
    task: str,
    features: ResolvedFeatures,
    input_keys: tuple,
    training: TrainingConfig,
    transform_output: tft.TFTransformOutput | None = None,
) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """The training and eval datasets of a Trainer or Tuner invocation (`fn_args`).

    The training set repeats when a step budget ends training and is shuffled with the
    training seed; the eval set is one ordered pass in large batches (inference only). Pass the
    Trainer's `transform_output` to reuse it; the Tuner's fn_args give only the graph path.
    """
    dataset_args = {
        # The Trainer's fn_args also carry the deprecated alias `transform_output`; the Tuner's do not.
        "transform_output": transform_output
        or tft.TFTransformOutput(fn_args.transform_graph_path or fn_args.transform_output),
        "input_keys": input_keys,
        "label_key": features.label_key(task),
        "weight_key": features.example_weight,
    }
    train_ds = make_dataset(
        fn_args.train_files,
        batch_size=training.batch_size,
        repeat=training.max_steps is not None,
        shuffle=True,
        seed=training.seed,
        **dataset_args,
    )
    eval_ds = make_dataset(
        fn_args.eval_files, batch_size=EVAL_BATCH_SIZE, repeat=False, shuffle=False, **dataset_args
    )
    return train_ds, eval_ds


def tuned_values(hyperparameters: dict[str, Any] | None) -> dict[str, Any]:
    """The values of the Tuner's best trial from TFX's `fn_args.hyperparameters`, or {}.

    TFX hands the Trainer KerasTuner's `HyperParameters.get_config()`: `{"space": [...],
    "values": {...}}`; only the values are settings.
    """
    if not hyperparameters:
        return {}
    return dict(hyperparameters.get("values", {}))


def run_fn(fn_args: Any) -> None:
    """Trains and exports the configured light ranker (TFX Trainer `run_fn`)."""
    custom = fn_args.custom_config
    features = ResolvedFeatures.from_dict(custom["features"])
    kind = custom["kind"]
    deepnorm = DeepNormConfig.model_validate(custom["deepnorm"])
    training = TrainingConfig.model_validate(custom["training"])
    scaling = custom.get("data_scaling")
    deepnorm, training, scaled = scale_to_data(
        scaling, count_candidates(fn_args.train_files) if scaling else 0, deepnorm, training
    )
    tuned = tuned_values(getattr(fn_args, "hyperparameters", None))
    if tuned:
        deepnorm, training = apply_values(tuned, deepnorm, training)
        logger.info("tuned hyperparameters applied (the Tuner's best trial): %s", tuned)
    if fn_args.train_steps:
        training = training.model_copy(update={"max_steps": int(fn_args.train_steps)})
    if training.seed is not None:
        tf.keras.utils.set_random_seed(training.seed)

    transform_output = tft.TFTransformOutput(fn_args.transform_output)
    model, input_keys = build_model(kind, deepnorm, features)
    train_ds, eval_ds = make_datasets(
        fn_args, custom["task"], features, input_keys, training, transform_output
    )

    base_model_dir = _base_model_dir(fn_args)
    if base_model_dir:
        _warm_start_from(model, kind, base_model_dir, features)

    result = train(model, train_ds, eval_ds, training, deepnorm, log_dir=fn_args.model_run_dir)
    logger.info(
        "trained %s: %d steps (%s), best step %s (by eval %s): unweighted RCE %.4f, %.0f examples/s",
        kind, result.steps, result.stop_reason, result.best_step, training.early_stop_metric.upper(),
        result.best_rce, result.examples_per_sec,
    )  # fmt: skip
    settings = {
        "kind": kind,
        "task": custom["task"],
        "label": features.label_key(custom["task"]),
        "preset": custom.get("preset"),
        "deepnorm": deepnorm.model_dump(mode="json"),
        "training": training.model_dump(mode="json"),
        "tuned": tuned,
    }
    if scaled is not None:
        settings["data_scaling"] = scaled.to_dict()
    # NRCE beside RCE for every run; with `model.calibration: platt` also Platt's a, b, recorded
    # with the model and applied in its serving graph (lightrank.models.calibration).
    scores, calibration = score_and_calibrate(model, eval_ds, custom.get("calibration", "none"))
    summary = {**_summary(result, kind, training), "best_eval": scores.to_dict()}
    if scaled is not None:
        summary["data_scaling"] = scaled.to_dict()
    if calibration is not None:
        settings["calibration"] = summary["calibration"] = calibration.to_dict()
    export_serving_model(
        model, transform_output, features, input_keys, fn_args.serving_model_dir, settings,
        calibration=calibration.scale if calibration is not None else None,
    )  # fmt: skip
    with open(os.path.join(fn_args.model_run_dir, TRAINING_SUMMARY_FILE), "w") as f:
        json.dump(summary, f, indent=1)
