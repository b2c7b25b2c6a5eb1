"""The quality table's fair LightGBM: trained on the raw features the model reads, ids included.

A team keeps DeepNorm only if it beats the gradient-boosted trees it would otherwise train in an
afternoon, so this comparator gets everything the model gets: the feature spec's continuous and
sparse features, read from the raw Examples of the same pipeline run (`raw_examples`) and coded
for LightGBM (`raw_features`): floats as they are, single-valued ids as native categorical
features, multi-valued ones multi-hot. It trains on the same train split as every other row,
minus the 10% of its requests that decide early stopping (the Keras models stop early on eval,
which flatters them; this one never sees eval), on the task's label and weighted like the
configured model's loss, then scores the eval split. The raw eval examples are matched to the
transformed eval split candidate by candidate (`eval_order`), so its predictions line up with the
labels, heavy scores and request keys every row is judged on.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from lightrank_bench.errors import BenchInputError
from lightrank_bench.quality_metrics import SEED
from lightrank_bench.quality_models import Split
from lightrank_bench.raw_examples import RaggedColumn, read_raw_split
from lightrank_bench.training import ModelUnderTest


@dataclasses.dataclass(frozen=True)
class RawExamples:
    """The raw train and eval splits of the pipeline run and how to parse them.

    Attributes:
        train_files: Glob of the ExampleGen output's `Split-train` files.
        eval_files: Glob of its `Split-eval` files.
        raw_spec: The Transform's raw feature spec (`TFTransformOutput.raw_feature_spec()`).
    """

    train_files: str
    eval_files: str
    raw_spec: Mapping[str, Any]


def raw_examples_of(
    transform_dir: str,
    train_files: str,
    examples: str | None,
    config_store: str | None,
    raw_spec: Mapping[str, Any],
) -> RawExamples:
    """The raw splits a Transform output was computed from (`raw_examples.locate_raw_examples`).

    Args:
        transform_dir: The Transform output, `<pipeline root>/Transform`.
        train_files: Glob of its transformed train split (`quality.locate_splits`).
        examples: `--examples`, if given.
        config_store: The config's ML Metadata SQLite file, if it has one.
        raw_spec: The Transform's raw feature spec.

    Raises:
        BenchInputError: If the examples are not found or lack a split.
    """
    from lightrank_bench.raw_examples import locate_raw_examples

    # The store beside the pipeline root (`make run`, `lightrank-bench pipeline`), then the config's.
    pipeline_root = os.path.dirname(os.path.abspath(transform_dir))
    stores = [
        os.path.join(os.path.dirname(pipeline_root), "metadata.db"),
        *([config_store] if config_store else []),
    ]
    found = locate_raw_examples(os.path.dirname(os.path.dirname(train_files)), examples, stores)
    return RawExamples(
        os.path.join(found, "Split-train", "*"), os.path.join(found, "Split-eval", "*"), raw_spec
    )


def eval_order(
    raw: Mapping[str, RaggedColumn], reference: Split, label_key: str, subject: ModelUnderTest
) -> np.ndarray:
    """`[N]` for each candidate of the transformed eval split, the index of the same candidate in `raw`.

    Candidates are matched on (request key, heavy-ranker score, label), the columns the Transform
    passes through unchanged; candidates equal on all three are matched in file order. They are
    interchangeable for every metric except a tie in the heavy score's order within a request.

    Raises:
        BenchInputError: If the raw eval split does not hold exactly the transformed one's candidates:
            the examples are not the ones the Transform output was computed from.
    """
    features = subject.features
    raw_keys = raw[features.request_key].first(0)
    if raw_keys.size != reference.labels.size:
        raise BenchInputError(f"the raw eval split has {raw_keys.size} candidates, the transformed one "
                              f"{reference.labels.size}: pass the examples the Transform read "
                              "(--examples)")  # fmt: skip
    # Request keys as codes of their union: any key type (INT or BYTES) sorts and compares alike.
    _, codes = np.unique(np.concatenate([raw_keys, reference.request_keys]), return_inverse=True)
    mine = (codes[: raw_keys.size], raw[features.heavy_score].first(np.nan).astype(np.float64),
            raw[label_key].first(np.nan).astype(np.float64))  # fmt: skip
    theirs = (codes[raw_keys.size :], reference.heavy_scores, reference.labels)
    raw_sorted, reference_sorted = np.lexsort(mine[::-1]), np.lexsort(theirs[::-1])  # key first, then score
    matches = all(np.array_equal(a[raw_sorted], b[reference_sorted], equal_nan=True)
                  for a, b in zip(mine, theirs, strict=True))  # fmt: skip
    if not matches:
        raise BenchInputError("the raw eval examples are not the transformed eval split's candidates: "
                              "pass the examples the Transform read (--examples)")  # fmt: skip
    order = np.empty(raw_keys.size, np.int64)
    order[reference_sorted] = raw_sorted
    return order


def _take(columns: Mapping[str, RaggedColumn], rows: np.ndarray) -> dict[str, RaggedColumn]:
    return {name: column.take(rows) for name, column in columns.items()}


def raw_lightgbm_predictions(
    subject: ModelUnderTest, raw: RawExamples, evaluation: Split, seed: int = SEED
) -> tuple[np.ndarray, float, str, str]:
    """Trains LightGBM on the raw train split with early stopping on a slice of it; predicts eval.

    Args:
        subject: The configured model: features, task and record weighting.
        raw: The raw splits of the pipeline run whose Transform output `evaluation` is from.
        evaluation: The transformed eval split: the order the predictions are returned in.
        seed: Draws the train requests that decide early stopping, and seeds LightGBM.

    Returns:
        `(eval predictions, training seconds, how it trained, what it was trained on)`; the seconds
        are LightGBM's alone (data set construction and boosting), not reading or coding the data.

    Raises:
        BenchInputError: If the raw examples cannot be read, are not the ones the Transform read, or
            the training data is invalid.
    """
    from lightrank_bench.gbdt import (
        DEFAULT_LEAVES,
        EARLY_STOP_LEARNING_RATE,
        QUALITY_THREADS,
        thread_label,
        train_lightgbm_early_stopped,
    )
    from lightrank_bench.raw_features import EARLY_STOP_FRACTION, RawFeatureEncoder, early_stopping_mask

    features = subject.features
    label_key = features.label_key(subject.task)
    names = list(dict.fromkeys([*features.continuous, *features.sparse, features.request_key,
                                features.heavy_score, features.example_weight, label_key]))  # fmt: skip
    train = read_raw_split(raw.train_files, raw.raw_spec, names)
    eval_raw = read_raw_split(raw.eval_files, raw.raw_spec, names)
    order = eval_order(eval_raw, evaluation, label_key, subject)

    keys = train[features.request_key].first(0)
    stop = early_stopping_mask(keys, EARLY_STOP_FRACTION, seed=seed)
    fit, held_out = _take(train, ~stop), _take(train, stop)
    encoder = RawFeatureEncoder.fit(fit, features.continuous, features.sparse)
    labels = train[label_key].first(np.nan).astype(np.float64)
    weights = None
    if subject.deepnorm.use_record_weight:
        import tensorflow as tf

        from lightrank.models.deepnorm.loss import record_weights

        meta_weights = train[features.example_weight].first(0.0).astype(np.float32)
        weights = record_weights(tf.constant(meta_weights), subject.deepnorm).numpy()
    fit_matrix, stop_matrix = encoder.matrix(fit), encoder.matrix(held_out)
    started = time.perf_counter()
    result = train_lightgbm_early_stopped(
        fit_matrix, labels[~stop], stop_matrix, labels[stop],
        categorical=encoder.categorical_indices, category_counts=encoder.category_counts,
        weights=None if weights is None else weights[~stop],
        stop_weights=None if weights is None else weights[stop], seed=seed,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    predictions = result.booster.predict(encoder.matrix(eval_raw), num_iteration=result.best_trees)
    stop_requests, requests = np.unique(keys[stop]).size, np.unique(keys).size
    how = (f"{result.best_trees} trees of {DEFAULT_LEAVES} leaves, learning rate {EARLY_STOP_LEARNING_RATE}, "
           f"{thread_label(QUALITY_THREADS)} (early stop: best of {result.trained_trees} on {stop_requests} "
           f"of {requests} train requests)")  # fmt: skip
    return np.asarray(predictions, dtype=np.float64)[order], seconds, how, encoder.describe()
