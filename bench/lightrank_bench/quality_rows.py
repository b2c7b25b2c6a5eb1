"""The rows of the quality table: one model's trainings, scored, and pooled into its row.

A row is one training of a model, or, with `lightrank-bench quality --seeds N`, the mean of N
trainings that differ only in their seed: a seed moves the DeepNorm's recall (10, 3) by about
0.02 on a few hundred eval requests, as much as the gaps the table is read for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from lightrank_bench.quality_cost import ServingCost
from lightrank_bench.quality_metrics import QualityMetrics, grouped_mean, mean_metrics, quality_metrics
from lightrank_bench.quality_models import Split
from lightrank_bench.quality_paired import PairedDifference
from lightrank_bench.quality_recall import recalls_per_request
from lightrank_bench.training import ModelUnderTest


@dataclasses.dataclass(frozen=True)
class QualityRow:
    """One model's line of the quality table; with several seeds, the mean of its trainings.

    Attributes:
        model: One of `MODELS`.
        metrics: Its quality on the eval split (with several seeds: each metric's mean over them).
        train_seconds: Wall time of training (Keras: `train`, its evaluations included); 0 if none.
        training: How it was trained, e.g. `3000 steps (early_stop, best at 2100)` or `200 trees`;
            with several seeds, each seed's, `; `-separated.
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
    per_seed: tuple[tuple[float, float], ...] = ()


def reseeded(subject: ModelUnderTest, index: int) -> ModelUnderTest:
    """The `index`-th training of a pooled row: the subject's own seed (0 if unseeded) plus `index`."""
    seed = (subject.training.seed or 0) + index
    return dataclasses.replace(subject, training=subject.training.model_copy(update={"seed": seed}))


@dataclasses.dataclass(frozen=True)
class Training:
    """One training of one model, scored on the eval split."""

    predictions: np.ndarray
    recalls: list[float | None]
    metrics: QualityMetrics
    seconds: float
    training: str
    inputs: str = ""
    cost: ServingCost | None = None


def scored(
    name: str,
    predictions: np.ndarray,
    eval_split: Split,
    seconds: float,
    training: str,
    inputs: str,
    cost: ServingCost | None,
) -> Training:
    """One training's predictions, checked against the split, with its metrics and per-request recalls."""
    if predictions.size != eval_split.labels.size:
        raise RuntimeError(f"{name}: {predictions.size} predictions for {eval_split.labels.size} candidates")
    predictions = predictions.reshape(-1)
    heavy, keys = eval_split.heavy_scores, eval_split.request_keys
    metrics = quality_metrics(eval_split.labels, predictions, heavy, keys)
    recalls = recalls_per_request(predictions, heavy, keys)
    return Training(predictions, recalls, metrics, seconds, training, inputs, cost)


def pooled_row(name: str, runs: Sequence[Training]) -> QualityRow:
    """A model's row: its one training, or the mean of its seeds with what each one gave."""
    first = runs[0]
    recall = [grouped_mean(run.recalls) for run in runs]
    per_seed = tuple(zip([run.metrics.auc for run in runs], recall, strict=True))
    return QualityRow(
        model=name,
        metrics=mean_metrics([run.metrics for run in runs]),
        train_seconds=float(np.mean([run.seconds for run in runs])),
        training="; ".join(run.training for run in runs),
        inputs=first.inputs,
        cost=first.cost,
        recall_10_3=float(np.mean(recall)),
        per_seed=per_seed if len(runs) > 1 else (),
    )
