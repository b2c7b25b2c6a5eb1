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

from lightrank_bench.quality_cost import COST_BATCH, ServingCost
from lightrank_bench.quality_gbdt import RawExamples, raw_examples_of, raw_lightgbm_predictions
from lightrank_bench.quality_metrics import SEED, QualityMetrics, grouped_mean, quality_metrics, random_scores
from lightrank_bench.quality_models import keras_predictions, lightgbm_predictions, read_split
from lightrank_bench.quality_paired import ROUNDS, PairedDifference, paired_auc, paired_mean
from lightrank_bench.quality_recall import recalls_per_request
from lightrank_bench.training import ModelUnderTest, TransformOutputError, locate_transform_output

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


@dataclasses.dataclass(frozen=True)
class QualityRow:
    """One model's line of the quality table.

    Attributes:
        model: One of `MODELS`.
        metrics: Its quality on the eval split.
        train_seconds: Wall time of training (Keras: `train`, its evaluations included); 0 if none.
        training: How it was trained, e.g. `3000 steps (early_stop, best at 2100)` or `200 trees`.
        inputs: What it was trained on, if the table should say (the fair LightGBM's columns).
        cost: Serving cost per candidate of a Keras model, if measured (`quality_cost`).
        recall_10_3: Mean recall of the heavy top 3 in the light top 10 (`quality_recall`).
        against_reference: `REFERENCE` minus this model in AUC and in recall (10, 3), paired
            over the eval requests (`quality_paired`); None for the reference itself or without it.
    """

    model: str
    metrics: QualityMetrics
    train_seconds: float
    training: str
    inputs: str = ""
    cost: ServingCost | None = None
    recall_10_3: float = float("nan")
    against_reference: tuple[PairedDifference, PairedDifference] | None = None


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
    examples: str | None = None,
    serving_data: str | None = None,
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

    Raises:
        ConfigError: If the config is invalid.
        TransformOutputError: If `transform_dir` is not a Transform output with both splits.
        BenchInputError: If a raw-feature model is asked for and the raw examples cannot be found.
    """
    graph_dir, train_files, eval_files = locate_splits(transform_dir)
    subjects = model_subjects(config_path, overrides, models, variants)
    import tensorflow_transform as tft

    transform_output = tft.TFTransformOutput(graph_dir)
    raw = None
    if any(name in RAW_MODELS for name in subjects):
        from lightrank.pipeline.config import load_config

        store = load_config(config_path, overrides).metadata.sqlite
        raw = raw_examples_of(
            transform_dir, train_files, examples, store, transform_output.raw_feature_spec()
        )
    return compare_models(subjects, transform_output, train_files, eval_files, raw, serving_data)


def compare_models(
    subjects: Mapping[str, ModelUnderTest],
    transform_output: tft.TFTransformOutput,
    train_files: str,
    eval_files: str,
    raw: RawExamples | None = None,
    serving_data: str | None = None,
) -> list[QualityRow]:
    """`measure_quality` once the config, the Transform output and the raw examples are resolved.

    Args:
        subjects: Model name -> what it trains with; all share features and task. Names other than
            `MODELS` are Keras variants and come last, in the mapping's order.
        transform_output: The Transform graph.
        train_files: Glob of the transformed train split.
        eval_files: Glob of the transformed eval split.
        raw: The raw splits the Transform read; required if a subject is one of `RAW_MODELS`.
        serving_data: Raw candidates to measure each Keras model's serving cost on; None: no cost.

    Raises:
        ValueError: If the subjects disagree on features or task, there are none, or `raw` is
            missing for a raw-feature model.
        RuntimeError: If a model's eval predictions come back in another order than the split's.
    """
    reference = next(iter(subjects.values()), None)
    if reference is None:
        raise ValueError(f"no models to compare; expected some of {list(MODELS)}")
    if any((s.features, s.task) != (reference.features, reference.task) for s in subjects.values()):
        raise ValueError("every model must read the same features and learn the same task")
    if raw is None and any(name in RAW_MODELS for name in subjects):
        raise ValueError(f"{[name for name in RAW_MODELS if name in subjects]} need the raw examples")
    logging.getLogger("lightrank.models.training.loop").setLevel(logging.WARNING)
    with_continuous = "lightgbm-continuous" in subjects
    eval_split = read_split(eval_files, transform_output, reference, with_continuous)
    train_split = read_split(train_files, transform_output, reference, True) if with_continuous else None

    rows = []
    scored: dict[str, tuple[np.ndarray, list[float | None]]] = {}
    order = [name for name in MODELS if name in subjects] + [name for name in subjects if name not in MODELS]
    for name in order:
        subject, inputs, cost = subjects[name], "", None
        if name == "random":
            predictions, seconds, training = (
                random_scores(eval_split.labels.size),
                0.0,
                f"uniform, seed {SEED}",
            )
        elif name == "lightgbm":
            assert raw is not None
            predictions, seconds, training, inputs = raw_lightgbm_predictions(subject, raw, eval_split)
        elif name == "lightgbm-continuous":
            assert train_split is not None
            predictions, seconds, training = lightgbm_predictions(subject, train_split, eval_split)
        else:
            predictions, heavy, seconds, training, cost = keras_predictions(
                subject, transform_output, train_files, eval_files, serving_data
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
        recalls = recalls_per_request(predictions, eval_split.heavy_scores, eval_split.request_keys)
        scored[name] = (predictions, recalls)
        rows.append(QualityRow(name, metrics, seconds, training, inputs, cost, grouped_mean(recalls)))
    if REFERENCE not in scored:
        return rows
    positive = eval_split.labels.reshape(-1) != 0
    keys = eval_split.request_keys.reshape(-1)
    reference_predictions, reference_recalls = scored[REFERENCE]
    return [
        row
        if row.model == REFERENCE
        else dataclasses.replace(
            row,
            against_reference=(
                paired_auc(positive, reference_predictions, scored[row.model][0].reshape(-1), keys),
                paired_mean(reference_recalls, scored[row.model][1], keys),
            ),
        )
        for row in rows
    ]


def _value(value: float, digits: int) -> str:
    return "n/a" if np.isnan(value) else f"{value:.{digits}f}"


def _cost(cost: ServingCost | None) -> str:
    return " - | - |" if cost is None else f" {cost.kflop:.1f} | {cost.candidates_per_sec:,.0f} |"


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
        *(f"- `{row.model}` inputs: {row.inputs}" for row in rows if row.inputs),
    ]
    with_cost = any(row.cost is not None for row in rows)
    if with_cost:
        lines[-1:-1] = [
            f"- Serving cost (Keras models): counted kFLOP per candidate and `serving_default` candidates/s "
            f"on serialized candidates at batch {COST_BATCH:,} on one thread, each exported model timed "
            "in a fresh process (`quality_cost`)"
        ]
    cost_header = " kFLOP | candidates/s |" if with_cost else ""
    lines += [
        "| model | AUC | RCE | NRCE | recall (10, 3) | recall (50, 3) | recall (100, 3) | recall (100, 10) "
        "| CGR (100, 10) | training | training time |" + cost_header,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|" + ("---:|---:|" if with_cost else ""),
    ]
    for row in rows:
        m = row.metrics
        seconds = f"{row.train_seconds:.1f} s" if row.train_seconds > 0 else "-"
        lines.append(
            f"| {row.model} | {_value(m.auc, 4)} | {_value(m.rce, 2)} | {_value(m.nrce, 2)} "
            f"| {_value(row.recall_10_3, 4)} | {_value(m.recall_50_3, 4)} "
            f"| {_value(m.recall_100_3, 4)} | {_value(m.recall_100_10, 4)} | {_value(m.cgr_100_10, 4)} "
            f"| {row.training} | {seconds} |" + (_cost(row.cost) if with_cost else "")
        )
    return "\n".join(lines + _paired_lines(rows, requests)) + "\n"


def _paired_lines(rows: Sequence[QualityRow], requests: int) -> list[str]:
    """The table of `REFERENCE` against every other row, if the rows were compared."""
    compared = [row for row in rows if row.against_reference is not None]
    if not compared:
        return []
    lines = [
        "",
        f"`{REFERENCE}` minus each model, paired over the same {requests:,} eval requests ({ROUNDS:,} "
        "bootstrap resamples of the requests, 95% intervals): `ahead` when the whole interval is above "
        "0, `behind` when below, else `tie`.",
        "",
        "| model | AUC difference [95% interval] | AUC "
        "| recall (10, 3) difference [95% interval] | recall (10, 3) |",
        "|---|---:|---|---:|---|",
    ]
    for row in compared:
        assert row.against_reference is not None
        auc, recall = row.against_reference
        lines.append(
            f"| {row.model} | {auc.describe(4)} | {auc.verdict} | {recall.describe(4)} | {recall.verdict} |"
        )
    return lines
