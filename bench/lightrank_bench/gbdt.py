"""The LightGBM comparators: fixed-size trees on the continuous features, and the fair, early-stopped one.

The goals in `docs/performance.md` set LightGBM (200 trees, 31 leaves, trained on the same
features) next to our model, for speed (`comparators`) and quality. `train_lightgbm` builds that
model on the Transform's `continuous` `[B, G]` matrix, not on `sparse_ids`: those are hashed into
`2**input_size_bits` (2^18) buckets, i.e. a 262,144-wide one-hot with a few ones per row.
Trees split on one column at a time, so each of those columns is a split on one rare id;
31-leaf trees would spend their few splits on the handful of frequent ids and ignore the rest,
and the sparse-to-dense conversion alone would dominate prediction time. For serving speed that
keeps the comparison about scoring cost, not about how a tree library copes with hashed ids.

For quality that comparator is handicapped: the ids carry signal the model uses. The quality
table's `lightgbm` row therefore reads the raw ids as LightGBM's native categorical features
(`raw_features`) and trains with `train_lightgbm_early_stopped`, as a team would: a smaller
learning rate and as many trees as a held-out slice of train supports.

The Transform writes an absent value as the feature spec's `missing_value` (-1.23456789,
docs/model.md, "Missing values"); LightGBM handles missing values natively when they are NaN
(each split learns which side NaN goes to), so `continuous_matrix` turns the marker, and any
non-finite value, into NaN.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from lightrank_bench.errors import BenchInputError

if TYPE_CHECKING:
    import lightgbm

#: The LightGBM of `docs/performance.md`'s goals: 200 trees of 31 leaves.
DEFAULT_TREES = 200
DEFAULT_LEAVES = 31


def continuous_matrix(continuous: np.ndarray, missing_value: float) -> np.ndarray:
    """LightGBM's input from the Transform's `continuous`: the missing marker and non-finite values as NaN.

    The comparison with the marker is made in float32, the dtype the Transform writes, so the
    marker matches exactly whatever float type `continuous` arrives in.

    Args:
        continuous: `[B, G]` float array (the Transform's `continuous`).
        missing_value: The feature spec's marker for an absent value.

    Returns:
        A new float32, C-contiguous `[B, G]` array (LightGBM predicts from it without a copy).

    Raises:
        BenchInputError: If `continuous` is not a 2-D numeric array.
    """
    array = np.asarray(continuous)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise BenchInputError(
            f"continuous features of shape {array.shape} and dtype {array.dtype} are invalid: "
            "expected a 2-D [candidates, features] float array"
        )
    matrix = np.array(array, dtype=np.float32, order="C", copy=True)
    matrix[(matrix == np.float32(missing_value)) | ~np.isfinite(matrix)] = np.nan
    return matrix


def train_lightgbm(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    trees: int = DEFAULT_TREES,
    leaves: int = DEFAULT_LEAVES,
    threads: int = 0,
    seed: int = 0,
    weights: np.ndarray | None = None,
) -> lightgbm.Booster:
    """Trains a LightGBM booster on log loss (probabilities out), reproducibly and quietly.

    Labels of 0 and 1 train LightGBM's `binary` objective. A task whose label is a probability
    (e.g. `HeavyRankProbability`, the heavy ranker's score) has labels strictly between 0 and 1,
    which `binary` would treat as positives: those train `cross_entropy`, the same log loss and
    sigmoid output on soft labels, so `predict` means the same thing for every task.

    `deterministic=True` with `force_row_wise=True` and a fixed `seed` make the same inputs give
    the same trees whatever the thread count, so a quality or speed table can be regenerated.
    No early stopping and no validation set: the goal fixes the model's size (trees, leaves),
    which is what the speed comparison needs.

    Args:
        features: `[N, G]` float matrix, NaN for missing (see `continuous_matrix`).
        labels: `[N]` labels in [0, 1]: binary, or probabilities (see above).
        trees: Boosting rounds.
        leaves: Maximum leaves per tree.
        threads: Training threads; 0 means OpenMP's default (all cores).
        seed: Seed of every LightGBM random choice.
        weights: Optional `[N]` non-negative example weights.

    Returns:
        The trained `lightgbm.Booster`; `predict` gives probabilities of label 1.

    Raises:
        BenchInputError: If the shapes disagree, a label is outside [0, 1], or a size is not positive.
    """
    import lightgbm

    features = np.asarray(features)
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    weights = None if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    _check_training_data(features, labels, weights)
    if trees < 1 or leaves < 2:
        raise BenchInputError(f"trees={trees}, leaves={leaves} are invalid: expected trees >= 1, leaves >= 2")
    params = {**_params(labels, leaves, seed), "num_threads": threads}
    dataset = lightgbm.Dataset(features, label=labels, weight=weights, params={"verbose": -1})
    return lightgbm.train(params, dataset, num_boost_round=trees)


def _params(labels: np.ndarray, leaves: int, seed: int) -> dict[str, object]:
    """The objective for the labels (see `train_lightgbm`) and the settings that make runs reproducible."""
    return {
        "objective": "binary" if np.isin(labels, (0.0, 1.0)).all() else "cross_entropy",
        "num_leaves": leaves,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }


def _check_training_data(features: np.ndarray, labels: np.ndarray, weights: np.ndarray | None) -> None:
    """The shapes, label range and weights `train_lightgbm` and `train_lightgbm_early_stopped` need.

    Raises:
        BenchInputError: Naming what is wrong.
    """
    if features.ndim != 2 or features.shape[0] != labels.shape[0] or labels.shape[0] == 0:
        raise BenchInputError(
            f"LightGBM training data is invalid: features {features.shape}, labels {labels.shape}; "
            "expected [N, G] and [N] with N > 0"
        )
    if not ((labels >= 0.0) & (labels <= 1.0)).all():
        raise BenchInputError(
            f"LightGBM labels must lie in [0, 1]; got values from {np.nanmin(labels)} to {np.nanmax(labels)}"
        )
    if weights is not None and (weights.shape != labels.shape or (weights < 0).any()):
        raise BenchInputError(
            f"LightGBM weights of shape {weights.shape} are invalid: expected {labels.shape}, all >= 0"
        )


#: The fair comparator of the quality table (`lightgbm`): what a team would train in an afternoon.
#: A smaller step than LightGBM's 0.1 with as many trees as early stopping allows.
EARLY_STOP_LEARNING_RATE = 0.05
EARLY_STOP_MAX_TREES = 2000
#: Rounds without a better log loss on the early-stopping slice before training stops.
EARLY_STOP_PATIENCE = 50
#: Categorical settings, LightGBM's defaults written out: one-vs-rest below 5 categories; above,
#: categories seen fewer than `cat_smooth` (10) times in a node are left out of the split search,
#: the rest are ordered by their smoothed gradient ratio with at most 32 on a split's smaller side
#: and at least 100 candidates on each side, with an extra L2 of 10. Chosen on the early-stopping
#: slice, never on eval: `min_data_per_group` 20 or 50 (with `cat_smooth` 10 or 50) and
#: `max_cat_threshold` 64 gave the same or a worse log loss there, on both the sample and the
#: catalog data set.
CATEGORICAL_SETTINGS: dict[str, float] = {
    "max_cat_to_onehot": 4,
    "max_cat_threshold": 32,
    "cat_smooth": 10.0,
    "cat_l2": 10.0,
    "min_data_per_group": 100,
}
#: LightGBM's `max_bin`, the bins of a numeric column.
NUMERIC_BINS = 255
#: Threads of the quality table's LightGBM training. One: on the shared 2-core machine its OpenMP
#: threads, which meet at a barrier for every histogram, trained 4 to 6 times slower with two
#: threads than with one whenever the machine was busy (1.1 s against 4.5 to 6.2 s for 70 trees on
#: 13,000 candidates at a load of 3.5), so a time measured on two says more about the load than
#: about LightGBM. `deterministic` makes the trees the same for any thread count.
QUALITY_THREADS = 1


def thread_label(threads: int) -> str:
    """How a table names a thread setting: `1 thread`, `2 threads`, `all cores` (0)."""
    return "all cores" if threads == 0 else f"{threads} thread" + ("s" if threads > 1 else "")


@dataclasses.dataclass(frozen=True)
class EarlyStopped:
    """A booster trained until its early-stopping slice stopped improving.

    Attributes:
        booster: The booster; predict with `num_iteration=best_trees`.
        best_trees: Trees up to the best round on the slice: the model that is scored.
        trained_trees: Trees trained before stopping (`best_trees` + patience, or the cap).
    """

    booster: lightgbm.Booster
    best_trees: int
    trained_trees: int


def train_lightgbm_early_stopped(
    features: np.ndarray,
    labels: np.ndarray,
    stop_features: np.ndarray,
    stop_labels: np.ndarray,
    *,
    categorical: Sequence[int] = (),
    category_counts: Sequence[int] = (),
    weights: np.ndarray | None = None,
    stop_weights: np.ndarray | None = None,
    leaves: int = DEFAULT_LEAVES,
    threads: int = QUALITY_THREADS,
    seed: int = 0,
) -> EarlyStopped:
    """Trains on log loss (as `train_lightgbm`) until the held-out slice's log loss stops improving.

    Categorical columns get `CATEGORICAL_SETTINGS` and a `max_bin` of their code count, so LightGBM
    keeps every code the caller made (by default it keeps 255 bins, or the categories covering 99%
    of the data if more); NaN in them is missing. The early-stopping metric is the objective's
    own log loss (`binary_logloss` or `cross_entropy`). At most `EARLY_STOP_MAX_TREES` trees at
    `EARLY_STOP_LEARNING_RATE`, stopping `EARLY_STOP_PATIENCE` rounds after the best.

    Args:
        features: `[N, C]` float matrix, NaN for missing; categorical columns hold codes from 0.
        labels: `[N]` labels in [0, 1].
        stop_features: `[M, C]` the early-stopping slice, coded like `features`.
        stop_labels: `[M]` its labels.
        categorical: Column indices of the categorical features.
        category_counts: Codes of each of `categorical`, in the same order.
        weights: Optional `[N]` non-negative example weights; `stop_weights` likewise for the slice.
        stop_weights: See `weights`.
        leaves: Maximum leaves per tree.
        threads: Training threads; 0 means OpenMP's default (all cores).
        seed: Seed of every LightGBM random choice.

    Raises:
        BenchInputError: If the data is invalid (see `train_lightgbm`) or the two sets disagree.
    """
    import lightgbm

    features, stop_features = np.asarray(features), np.asarray(stop_features)
    labels, stop_labels = (np.asarray(y, dtype=np.float64).reshape(-1) for y in (labels, stop_labels))
    weights, stop_weights = (None if w is None else np.asarray(w, dtype=np.float64).reshape(-1)
                             for w in (weights, stop_weights))  # fmt: skip
    _check_training_data(features, labels, weights)
    _check_training_data(stop_features, stop_labels, stop_weights)
    if features.shape[1] != stop_features.shape[1] or len(categorical) != len(category_counts):
        raise BenchInputError(f"LightGBM early stopping: {features.shape[1]} columns to train on, "
                              f"{stop_features.shape[1]} to stop on; {len(categorical)} categorical "
                              f"columns, {len(category_counts)} code counts")  # fmt: skip
    bins = [NUMERIC_BINS] * features.shape[1]
    for column, count in zip(categorical, category_counts, strict=True):
        bins[column] = max(NUMERIC_BINS, count + 1)
    params = {**_params(np.concatenate([labels, stop_labels]), leaves, seed), **CATEGORICAL_SETTINGS,
              "learning_rate": EARLY_STOP_LEARNING_RATE, "max_bin_by_feature": bins,
              "num_threads": threads}  # fmt: skip
    dataset = lightgbm.Dataset(features, label=labels, weight=weights, categorical_feature=list(categorical),
                               params={"verbose": -1, "max_bin_by_feature": bins})  # fmt: skip
    stop = lightgbm.Dataset(stop_features, label=stop_labels, weight=stop_weights, reference=dataset)
    history: dict[str, dict[str, list[float]]] = {}
    booster = lightgbm.train(
        params, dataset, num_boost_round=EARLY_STOP_MAX_TREES, valid_sets=[stop], valid_names=["stop"],
        callbacks=[lightgbm.early_stopping(EARLY_STOP_PATIENCE, verbose=False),
                   lightgbm.record_evaluation(history)],
    )  # fmt: skip
    # `train` keeps only the trees up to the best round; the history counts every round trained.
    trained = max((len(values) for values in history.get("stop", {}).values()), default=0)
    best = booster.best_iteration or booster.current_iteration()
    return EarlyStopped(booster, best, max(trained, best))
