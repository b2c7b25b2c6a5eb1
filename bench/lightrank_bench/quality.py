"""Quality of the light ranker against LightGBM, logistic regression and a random scorer, on one split.

A light ranker has to be better than the cheap alternatives on the same candidates, so every
model here trains on exactly the transformed train split of one Transform output and is scored
on exactly its eval split (ExampleGen splits by hashing the request key, so these are held-out
requests). This module resolves what each model trains with (`model_subjects`), runs them
(`compare_models`; training and scoring in `quality_models`, the metrics in `quality_metrics`)
and prints the table.
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from lightrank_bench.quality_metrics import SEED, QualityMetrics, quality_metrics, random_scores
from lightrank_bench.quality_models import keras_predictions, lightgbm_predictions, read_split
from lightrank_bench.training import ModelUnderTest, TransformOutputError, locate_transform_output

if TYPE_CHECKING:  # TensorFlow loads only when a benchmark runs, not when the CLI starts.
    import tensorflow_transform as tft

#: Every model the table can hold, in the table's fixed order.
MODELS = ("deepnorm-default", "deepnorm-original", "lightgbm", "logistic", "random")
#: Config overrides that turn the pipeline config into each Keras model's Trainer settings.
KERAS_OVERRIDES: Mapping[str, tuple[str, ...]] = {
    "deepnorm-default": ("model.kind=deepnorm", "model.preset=default"),
    "deepnorm-original": ("model.kind=deepnorm", "model.preset=original"),
    "logistic": ("model.kind=logistic",),
}


#: The preset a `--variant` starts from: variants are the evidence for (or against) its settings.
VARIANT_BASE = "deepnorm-default"


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


@dataclasses.dataclass(frozen=True)
class QualityRow:
    """One model's line of the quality table.

    Attributes:
        model: One of `MODELS`.
        metrics: Its quality on the eval split.
        train_seconds: Wall time of training (Keras: `train`, its evaluations included); 0 if none.
        training: How it was trained, e.g. `3000 steps (early_stop, best at 2100)` or `200 trees`.
    """

    model: str
    metrics: QualityMetrics
    train_seconds: float
    training: str


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
) -> dict[str, ModelUnderTest]:
    """What each model trains with: the config plus `--set` overrides, then the model's own kind and preset.

    LightGBM and the random scorer get the config as given: they only read its features, task and
    record weighting (LightGBM is weighted like the configured model). Each variant is the
    `VARIANT_BASE` preset with its own overrides on top.

    Raises:
        ConfigError: If the config or an override is invalid.
        ValueError: If a model is not one of `MODELS`.
    """
    from lightrank.models.features import resolve_files
    from lightrank.models.settings import resolve_model_settings
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
        deepnorm, training = resolve_model_settings(config.model)
        subjects[name] = ModelUnderTest(config.model.kind, config.model.task, deepnorm, training, features)
    return subjects


def measure_quality(
    config_path: str,
    overrides: list[str],
    transform_dir: str,
    models: Sequence[str] = MODELS,
    variants: Sequence[tuple[str, tuple[str, ...]]] = (),
) -> list[QualityRow]:
    """Trains and scores the chosen models on one Transform output's train and eval splits.

    Args:
        config_path: Pipeline config (features, task, model settings).
        overrides: `KEY=VALUE` overrides of the config, as `lightrank run --set`; they apply to every model.
        transform_dir: The Transform component's output directory.
        models: Some of `MODELS`; the table keeps `MODELS` order whatever the order here.
        variants: `(label, overrides)` of extra DeepNorm rows (`parse_variant`), after the models.

    Raises:
        ConfigError: If the config is invalid.
        TransformOutputError: If `transform_dir` is not a Transform output with both splits.
    """
    graph_dir, train_files, eval_files = locate_splits(transform_dir)
    import tensorflow_transform as tft

    subjects = model_subjects(config_path, overrides, models, variants)
    return compare_models(subjects, tft.TFTransformOutput(graph_dir), train_files, eval_files)


def compare_models(
    subjects: Mapping[str, ModelUnderTest],
    transform_output: tft.TFTransformOutput,
    train_files: str,
    eval_files: str,
) -> list[QualityRow]:
    """`measure_quality` once the config and the Transform output are resolved.

    Args:
        subjects: Model name -> what it trains with; all share features and task. Names other than
            `MODELS` are Keras variants and come last, in the mapping's order.
        transform_output: The Transform graph.
        train_files: Glob of the transformed train split.
        eval_files: Glob of the transformed eval split.

    Raises:
        ValueError: If the subjects disagree on features or task, or there are none.
        RuntimeError: If a model's eval predictions come back in another order than the split's.
    """
    reference = next(iter(subjects.values()), None)
    if reference is None:
        raise ValueError(f"no models to compare; expected some of {list(MODELS)}")
    if any((s.features, s.task) != (reference.features, reference.task) for s in subjects.values()):
        raise ValueError("every model must read the same features and learn the same task")
    logging.getLogger("lightrank.models.training.loop").setLevel(logging.WARNING)
    with_continuous = "lightgbm" in subjects
    eval_split = read_split(eval_files, transform_output, reference, with_continuous)
    train_split = read_split(train_files, transform_output, reference, True) if with_continuous else None

    rows = []
    order = [name for name in MODELS if name in subjects] + [name for name in subjects if name not in MODELS]
    for name in order:
        subject = subjects[name]
        if name == "random":
            predictions, seconds, training = (
                random_scores(eval_split.labels.size),
                0.0,
                f"uniform, seed {SEED}",
            )
        elif name == "lightgbm":
            assert train_split is not None
            predictions, seconds, training = lightgbm_predictions(subject, train_split, eval_split)
        else:
            predictions, heavy, seconds, training = keras_predictions(
                subject, transform_output, train_files, eval_files
            )
            if not np.array_equal(heavy, eval_split.heavy_scores):
                raise RuntimeError(f"{name}: the eval split was read back in another order")
        if predictions.size != eval_split.labels.size:
            raise RuntimeError(
                f"{name}: {predictions.size} predictions for {eval_split.labels.size} candidates"
            )
        metrics = quality_metrics(
            eval_split.labels, predictions, eval_split.heavy_scores, eval_split.request_keys
        )
        rows.append(QualityRow(name, metrics, seconds, training))
    return rows


def _value(value: float, digits: int) -> str:
    return "n/a" if np.isnan(value) else f"{value:.{digits}f}"


def quality_table(rows: Sequence[QualityRow], command: Sequence[str]) -> str:
    """The quality table: one row per model, with the eval split's size and the extra package versions.

    Raises:
        ValueError: If there are no rows or they were not scored on the same candidates.
    """
    from lightrank_bench.tables import header, package_versions

    if not rows:
        raise ValueError("no quality rows to print")
    sizes = {(row.metrics.num_candidates, row.metrics.num_requests) for row in rows}
    if len(sizes) != 1:
        raise ValueError(f"rows were scored on different eval splits: (candidates, requests) {sorted(sizes)}")
    candidates, requests = sizes.pop()
    lines = header("Quality on held-out requests (eval split, unweighted)", command)
    lines[-1:-1] = [
        f"- Also: {package_versions(('lightgbm', 'scikit-learn'))}",
        f"- Eval split: {candidates:,} candidates of {requests:,} requests; every model trained on the "
        "same train split",
    ]
    lines += [
        "| model | AUC | RCE | recall (50, 3) | recall (100, 3) | recall (100, 10) | CGR (100, 10) "
        "| training | training time |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for row in rows:
        m = row.metrics
        seconds = f"{row.train_seconds:.1f} s" if row.train_seconds > 0 else "-"
        lines.append(
            f"| {row.model} | {_value(m.auc, 4)} | {_value(m.rce, 2)} | {_value(m.recall_50_3, 4)} "
            f"| {_value(m.recall_100_3, 4)} | {_value(m.recall_100_10, 4)} | {_value(m.cgr_100_10, 4)} "
            f"| {row.training} | {seconds} |"
        )
    return "\n".join(lines) + "\n"
