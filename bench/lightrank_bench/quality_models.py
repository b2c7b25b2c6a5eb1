"""Training and scoring each model of the quality table on one Transform output's splits.

Every model trains on exactly the transformed train split and is scored on exactly the eval
split, read in file order (`read_split`), so all predictions line up with the same labels,
heavy-ranker scores and request keys. The Keras models train the way the Trainer's `run_fn`
trains them: the model `lightrank.models.trainer.build_model` builds from the config,
`lightrank.models.inputs.make_dataset` batches, `lightrank.models.training.loop.train` with the config's
settings, early stopping on the eval split included. `lightgbm-continuous` (`lightrank_bench.gbdt`)
sees the Transform's continuous features only, weighted like the configured model's loss; the fair
`lightgbm`, on the raw features, is `lightrank_bench.quality_gbdt`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from lightrank_bench.quality_cost import ServingCost, serving_cost
from lightrank_bench.quality_metrics import SEED
from lightrank_bench.training import ModelUnderTest

if TYPE_CHECKING:  # TensorFlow loads only when a benchmark runs, not when the CLI starts.
    import tensorflow as tf
    import tensorflow_transform as tft


@dataclasses.dataclass(frozen=True)
class Split:
    """The columns of one transformed split every scorer is judged on, in file order.

    Attributes:
        labels: `[N]` float64 task labels.
        heavy_scores: `[N]` float64 heavy-ranker scores.
        request_keys: `[N]` request ids.
        meta_weights: `[N]` `meta.weight` (LightGBM's record weights derive from it).
        continuous: `[N, G]` Transform `continuous`, if it was asked for.
    """

    labels: np.ndarray
    heavy_scores: np.ndarray
    request_keys: np.ndarray
    meta_weights: np.ndarray
    continuous: np.ndarray | None


def _dataset(
    files: str, transform_output: tft.TFTransformOutput, subject: ModelUnderTest, input_keys: Sequence[str]
) -> tf.data.Dataset:
    """The split in file order, batched as the Trainer batches evaluation."""
    from lightrank.models.inputs import make_dataset
    from lightrank.models.trainer import EVAL_BATCH_SIZE

    return make_dataset(
        [files],
        transform_output,
        input_keys=input_keys,
        label_key=subject.features.label_key(subject.task),
        weight_key=subject.features.example_weight,
        batch_size=EVAL_BATCH_SIZE,
        repeat=False,
        shuffle=False,
    )


def read_split(
    files: str, transform_output: tft.TFTransformOutput, subject: ModelUnderTest, with_continuous: bool
) -> Split:
    """Reads the labels, heavy scores, request keys, `meta.weight` and, if asked, `continuous`."""
    from lightrank.models.features import CONTINUOUS

    features = subject.features
    keys = [features.heavy_score, features.request_key, *([CONTINUOUS] if with_continuous else [])]
    parts: dict[str, list[np.ndarray]] = {name: [] for name in [*keys, "label", "weight"]}
    for batch, label, weight in _dataset(files, transform_output, subject, keys):
        for name in keys:
            parts[name].append(batch[name].numpy())
        parts["label"].append(label.numpy().reshape(-1))
        parts["weight"].append(weight.numpy().reshape(-1))
    joined = {name: np.concatenate(values) for name, values in parts.items()}
    return Split(
        labels=joined["label"].astype(np.float64),
        heavy_scores=joined[features.heavy_score].reshape(-1).astype(np.float64),
        request_keys=joined[features.request_key].reshape(-1),
        meta_weights=joined["weight"],
        continuous=joined[CONTINUOUS] if with_continuous else None,
    )


def lightgbm_predictions(
    subject: ModelUnderTest, train: Split, evaluation: Split, seed: int = SEED
) -> tuple[np.ndarray, float, str]:
    """`lightgbm-continuous`: 200 trees on the Transform's continuous features, weighted like the model.

    `seed` seeds LightGBM's random choices; with its deterministic settings and no bagging the
    trees do not depend on it.

    Returns:
        `(eval predictions, training seconds, how it trained)`.
    """
    from lightrank_bench.gbdt import (
        DEFAULT_LEAVES,
        DEFAULT_TREES,
        QUALITY_THREADS,
        continuous_matrix,
        thread_label,
        train_lightgbm,
    )

    assert train.continuous is not None and evaluation.continuous is not None
    missing = subject.features.missing_value
    weights = None
    if subject.deepnorm.use_record_weight:
        import tensorflow as tf

        from lightrank.models.deepnorm.loss import record_weights

        weights = record_weights(tf.constant(train.meta_weights), subject.deepnorm).numpy()
    started = time.perf_counter()
    booster = train_lightgbm(
        continuous_matrix(train.continuous, missing),
        train.labels,
        threads=QUALITY_THREADS,
        seed=seed,
        weights=weights,
    )
    seconds = time.perf_counter() - started
    predictions = booster.predict(continuous_matrix(evaluation.continuous, missing))
    return (
        np.asarray(predictions, dtype=np.float64),
        seconds,
        f"{DEFAULT_TREES} trees of {DEFAULT_LEAVES} leaves, {thread_label(QUALITY_THREADS)}",
    )


def keras_predictions(
    subject: ModelUnderTest,
    transform_output: tft.TFTransformOutput,
    train_files: str,
    eval_files: str,
    serving_data: str | None = None,
) -> tuple[np.ndarray, np.ndarray, float, str, ServingCost | None]:
    """Trains as `lightrank.models.trainer.run_fn` does (no warm start); predicts the eval split.

    Args:
        subject: What to train.
        transform_output: The Transform graph.
        train_files: Glob of the transformed train split.
        eval_files: Glob of the transformed eval split.
        serving_data: Raw candidates to measure the serving cost on (`quality_cost`); None: no cost.

    Returns:
        `(predictions, heavy scores, training seconds, how it trained, serving cost or None)`; the
        heavy scores, read in the same pass as the predictions, prove the candidates' order is the
        reference's.
    """
    import tensorflow as tf

    from lightrank.models.inputs import make_dataset
    from lightrank.models.trainer import build_model
    from lightrank.models.training.loop import train
    from lightrank.models.training.validation import inference_function

    training = subject.training
    tf.keras.backend.clear_session()
    if training.seed is not None:
        tf.keras.utils.set_random_seed(training.seed)
    model, input_keys = build_model(subject.kind, subject.deepnorm, subject.features)
    train_ds = make_dataset(
        [train_files],
        transform_output,
        input_keys=input_keys,
        label_key=subject.features.label_key(subject.task),
        weight_key=subject.features.example_weight,
        batch_size=training.batch_size,
        repeat=training.max_steps is not None,
        shuffle=True,
        seed=training.seed,
    )
    eval_ds = _dataset(eval_files, transform_output, subject, input_keys)
    started = time.perf_counter()
    result = train(model, train_ds, eval_ds, training, subject.deepnorm, log_dir=None)
    seconds = time.perf_counter() - started
    predict = inference_function(model)
    heavy_key = subject.features.heavy_score
    logits, heavy = [], []
    for features, _, _ in _dataset(eval_files, transform_output, subject, [*input_keys, heavy_key]):
        heavy.append(features.pop(heavy_key).numpy().reshape(-1))
        logits.append(predict(features).numpy().reshape(-1))
    predictions = 1.0 / (1.0 + np.exp(-np.concatenate(logits).astype(np.float64)))
    best = f", best at {result.best_step}" if result.best_step is not None else ""
    how = f"{result.steps} steps ({result.stop_reason}{best})"
    if subject.scaled:  # which ones: docs/model.md, "Wider ids for large data"
        how += ", with the settings for large data"
    cost = None
    if serving_data is not None:
        cost = serving_cost(model, tuple(input_keys), subject, transform_output, serving_data)
    return predictions, np.concatenate(heavy).astype(np.float64), seconds, how, cost
