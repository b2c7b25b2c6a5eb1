"""Quality of the light ranker against LightGBM, logistic regression and a random scorer, on one split.

A light ranker has to be better than the cheap alternatives on the same candidates, so every
model here trains on the train split of one pipeline run and is scored on exactly its eval split
(held-out requests). The Keras models and `lightgbm-continuous` read the Transform output;
`lightgbm`, the fair comparator, reads the same run's raw Examples, since it needs the ids as
they are (`quality_gbdt`). This module resolves what each model trains with (`model_subjects`),
runs them (`compare_models`; training and scoring in `quality_models` and `quality_gbdt`, the
metrics in `quality_metrics`) and prints the table.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from lightrank_bench.quality_gbdt import RawExamples, raw_examples_of, raw_lightgbm_predictions
from lightrank_bench.quality_metrics import SEED, random_scores
from lightrank_bench.quality_models import keras_predictions, lightgbm_predictions, read_split
from lightrank_bench.quality_paired import PairedDifference, pooled_paired_auc, pooled_paired_mean
from lightrank_bench.quality_rows import QualityRow, Training, pooled_row, reseeded, scored
from lightrank_bench.training import ModelUnderTest, TransformOutputError, locate_transform_output, subject_of

if TYPE_CHECKING:  # TensorFlow loads only when a benchmark runs, not when the CLI starts.
    import tensorflow_transform as tft

#: Every model the table can hold, in the table's fixed order. `lightgbm` is the fair comparator
#: (the raw features the model reads, ids included); `lightgbm-continuous` sees only the floats.
MODELS = ("deepnorm-default", "deepnorm-original", "lightgbm", "lightgbm-continuous", "logistic", "random")
#: The models that read the raw Examples rather than the Transform output.
RAW_MODELS = ("lightgbm",)
#: Config overrides that turn the pipeline config into each Keras model's Trainer settings.
KERAS_OVERRIDES: Mapping[str, tuple[str, ...]] = {
    "deepnorm-default": ("model.kind=deepnorm", "model.preset=default"),
    "deepnorm-original": ("model.kind=deepnorm", "model.preset=original"),
    "logistic": ("model.kind=logistic",),
}


#: The preset a `--variant` starts from: variants are the evidence for (or against) its settings.
VARIANT_BASE = "deepnorm-default"
#: The model every other row is compared with, paired over the eval requests (`quality_paired`).
REFERENCE = "deepnorm-default"


def parse_variant(text: str) -> tuple[str, tuple[str, ...]]:
    """`LABEL:KEY=VALUE[,KEY=VALUE...]` -> (label, overrides): one extra DeepNorm row of the table.

    Raises:
        ValueError: Naming the text if it has no label, no override, or an override without `=`.
    """
    label, _, settings = text.partition(":")
    overrides = tuple(item.strip() for item in settings.split(",") if item.strip())
    if not label.strip() or not overrides or any("=" not in item for item in overrides):
        raise ValueError(f"variant {text!r} is not LABEL:KEY=VALUE[,KEY=VALUE...]")
    if label.strip() in MODELS:
        raise ValueError(f"variant label {label.strip()!r} is already a model name")
    return label.strip(), overrides


def tuned_variant(text: str) -> tuple[str, tuple[str, ...]]:
    """`LABEL:PATH` -> (label, overrides): the default preset with a Tuner's best hyperparameters.

    `PATH` is a Tuner's `best_hyperparameters` output (the artifact directory, its parent holding
    one directory per execution, or the `best_hyperparameters.txt` itself); the newest file under
    it is read. Each tuned setting becomes the `model.deepnorm.*` or `model.training.*` override
    the Trainer would apply (`lightrank.models.tuning.space.TUNABLE`).

    Raises:
        ValueError: Naming the text if it has no label, or the path holds no best hyperparameters.
    """
    from lightrank.models.deepnorm.config import DeepNormConfig
    from lightrank.models.tuning.space import TUNABLE

    label, _, path = text.partition(":")
    if not label.strip() or not path.strip():
        raise ValueError(f"tuned row {text!r} is not LABEL:PATH")
    if label.strip() in MODELS:
        raise ValueError(f"tuned row label {label.strip()!r} is already a model name")
    path = path.strip()
    files = (
        [path]
        if os.path.isfile(path)
        else glob.glob(os.path.join(path, "**", "best_hyperparameters.txt"), recursive=True)
    )
    if not files:
        raise ValueError(f"no best_hyperparameters.txt under {path}")
    with open(max(files, key=os.path.getmtime)) as f:
        values = json.load(f).get("values", {})
    unknown = sorted(name for name in values if name not in TUNABLE)
    if unknown or not values:
        raise ValueError(f"{path}: not a lightrank Tuner's best hyperparameters (settings {sorted(values)})")
    overrides = tuple(
        f"model.{'deepnorm' if TUNABLE[name] is DeepNormConfig else 'training'}.{name}={json.dumps(value)}"
        for name, value in sorted(values.items())
    )
    return label.strip(), overrides


def locate_splits(transform_dir: str) -> tuple[str, str, str]:
    """The transform graph and the transformed train and eval files of a Transform output.

    Returns:
        `(transform graph directory, train files glob, eval files glob)`.

    Raises:
        TransformOutputError: If it is not a Transform output or a split has no files.
    """
    graph_dir, train_files = locate_transform_output(transform_dir)
    eval_files = os.path.join(os.path.dirname(os.path.dirname(train_files)), "Split-eval", "*")
    for pattern in (train_files, eval_files):
        if not glob.glob(pattern):
            raise TransformOutputError(f"{transform_dir!r} has no transformed examples in {pattern}")
    return graph_dir, train_files, eval_files


def model_subjects(
    config_path: str,
    overrides: list[str],
    models: Sequence[str],
    variants: Sequence[tuple[str, tuple[str, ...]]] = (),
    train_candidates: int = 0,
) -> dict[str, ModelUnderTest]:
    """What each model trains with: the config plus `--set` overrides, then the model's own kind and preset.

    LightGBM and the random scorer get the config as given: they only read its features, task and
    record weighting (LightGBM is weighted like the configured model). Each variant is the
    `VARIANT_BASE` preset with its own overrides on top. Every model's settings are what the
    Trainer would use on a train split of `train_candidates` candidates (`subject_of`: a preset's
    settings for large data apply from its threshold on; 0 never reaches it).

    Raises:
        ConfigError: If the config or an override is invalid.
        ValueError: If a model is not one of `MODELS`.
    """
    from lightrank.models.features import resolve_files
    from lightrank.pipeline.config import load_config

    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise ValueError(f"unknown models {unknown}; expected some of {list(MODELS)}")
    subjects = {}
    features = None
    runs = [(name, KERAS_OVERRIDES.get(name, ())) for name in models]
    runs += [(label, (*KERAS_OVERRIDES[VARIANT_BASE], *settings)) for label, settings in variants]
    for name, own in runs:
        config = load_config(config_path, [*overrides, *own])
        if features is None:
            features = resolve_files(config.schema.path, config.schema.feature_spec)
        subjects[name] = subject_of(config.model, features, train_candidates)
    return subjects


def measure_quality(
    config_path: str,
    overrides: list[str],
    transform_dir: str,
    models: Sequence[str] = MODELS,
    variants: Sequence[tuple[str, tuple[str, ...]]] = (),
    examples: str | None = None,
    serving_data: str | None = None,
    seeds: int = 1,
) -> list[QualityRow]:
    """Trains and scores the chosen models on one pipeline run's train and eval splits.

    Args:
        config_path: Pipeline config (features, task, model settings).
        overrides: `KEY=VALUE` overrides of the config, as `lightrank run --set`; they apply to every model.
        transform_dir: The Transform component's output directory.
        models: Some of `MODELS`; the table keeps `MODELS` order whatever the order here.
        variants: `(label, overrides)` of extra DeepNorm rows (`parse_variant`), after the models.
        examples: The ExampleGen output the Transform read, for `RAW_MODELS`; None: ask ML Metadata
            (`raw_examples.locate_raw_examples`).
        serving_data: Raw candidates to measure each Keras model's serving cost on; None: no cost.
        seeds: Trainings per model, each with its own seed; a row is their mean (`compare_models`).

    Raises:
        ConfigError: If the config is invalid.
        TransformOutputError: If `transform_dir` is not a Transform output with both splits.
        BenchInputError: If a raw-feature model is asked for and the raw examples cannot be found.
    """
    graph_dir, train_files, eval_files = locate_splits(transform_dir)
    import tensorflow_transform as tft

    from lightrank.models.inputs import count_candidates

    subjects = model_subjects(config_path, overrides, models, variants, count_candidates([train_files]))

    transform_output = tft.TFTransformOutput(graph_dir)
    raw = None
    if any(name in RAW_MODELS for name in subjects):
        from lightrank.pipeline.config import load_config

        store = load_config(config_path, overrides).metadata.sqlite
        raw = raw_examples_of(
            transform_dir, train_files, examples, store, transform_output.raw_feature_spec()
        )
    return compare_models(subjects, transform_output, train_files, eval_files, raw, serving_data, seeds)


def compare_models(
    subjects: Mapping[str, ModelUnderTest],
    transform_output: tft.TFTransformOutput,
    train_files: str,
    eval_files: str,
    raw: RawExamples | None = None,
    serving_data: str | None = None,
    seeds: int = 1,
) -> list[QualityRow]:
    """`measure_quality` once the config, the Transform output and the raw examples are resolved.

    With `seeds` above 1 every model trains that many times and its row is the mean: what one
    training can be expected to give, rather than one draw of it. A seed moves the DeepNorm's
    recall (10, 3) by about 0.02 on a few hundred eval requests, as much as the gap being
    measured. Training `i` of a Keras model uses its config's seed (0 if unseeded) plus `i`;
    LightGBM's uses seed `SEED + i` for its early-stopping slice and its boosting, the random
    scorer `SEED + i` for its scores. The paired comparison redraws the seeds with the requests
    (`quality_paired.pooled_paired_auc`). The serving cost is measured on the first training.

    Args:
        subjects: Model name -> what it trains with; all share features and task. Names other than
            `MODELS` are Keras variants and come last, in the mapping's order.
        transform_output: The Transform graph.
        train_files: Glob of the transformed train split.
        eval_files: Glob of the transformed eval split.
        raw: The raw splits the Transform read; required if a subject is one of `RAW_MODELS`.
        serving_data: Raw candidates to measure each Keras model's serving cost on; None: no cost.
        seeds: Trainings per model (1: each model's configured seed, as the Trainer would train).

    Raises:
        ValueError: If the subjects disagree on features or task, there are none, `raw` is
            missing for a raw-feature model, or `seeds` is below 1.
        RuntimeError: If a model's eval predictions come back in another order than the split's.
    """
    reference = next(iter(subjects.values()), None)
    if reference is None:
        raise ValueError(f"no models to compare; expected some of {list(MODELS)}")
    if seeds < 1:
        raise ValueError(f"seeds={seeds}: every model needs at least one training")
    if any((s.features, s.task) != (reference.features, reference.task) for s in subjects.values()):
        raise ValueError("every model must read the same features and learn the same task")
    if raw is None and any(name in RAW_MODELS for name in subjects):
        raise ValueError(f"{[name for name in RAW_MODELS if name in subjects]} need the raw examples")
    logging.getLogger("lightrank.models.training.loop").setLevel(logging.WARNING)
    with_continuous = "lightgbm-continuous" in subjects
    eval_split = read_split(eval_files, transform_output, reference, with_continuous)
    train_split = read_split(train_files, transform_output, reference, True) if with_continuous else None

    def score(name: str, index: int) -> Training:
        subject = subjects[name] if seeds == 1 else reseeded(subjects[name], index)
        inputs, cost, seed = "", None, SEED + index
        if name == "random":
            predictions, seconds = random_scores(eval_split.labels.size, seed), 0.0
            training = f"uniform, seed {seed}"
        elif name == "lightgbm":
            assert raw is not None
            predictions, seconds, training, inputs = raw_lightgbm_predictions(subject, raw, eval_split, seed)
        elif name == "lightgbm-continuous":
            assert train_split is not None
            predictions, seconds, training = lightgbm_predictions(subject, train_split, eval_split, seed)
        else:
            predictions, heavy, seconds, training, cost = keras_predictions(
                subject, transform_output, train_files, eval_files, serving_data if index == 0 else None
            )
            if not np.array_equal(heavy, eval_split.heavy_scores):
                raise RuntimeError(f"{name}: the eval split was read back in another order")
        return scored(name, predictions, eval_split, seconds, training, inputs, cost)

    order = [name for name in MODELS if name in subjects] + [name for name in subjects if name not in MODELS]
    runs = {name: [score(name, index) for index in range(seeds)] for name in order}
    rows = [pooled_row(name, trainings) for name, trainings in runs.items()]
    if REFERENCE not in runs:
        return rows
    positive = eval_split.labels.reshape(-1) != 0
    keys = eval_split.request_keys.reshape(-1)
    reference_runs = runs[REFERENCE]

    def against_reference(name: str) -> tuple[PairedDifference, PairedDifference]:
        return (
            pooled_paired_auc(
                positive, [r.predictions for r in reference_runs], [r.predictions for r in runs[name]], keys
            ),
            pooled_paired_mean([r.recalls for r in reference_runs], [r.recalls for r in runs[name]], keys),
        )

    # The reference is first: the first of `MODELS`.
    return [
        rows[0],
        *(dataclasses.replace(row, against_reference=against_reference(row.model)) for row in rows[1:]),
    ]
