"""The LightGBM comparator: a gradient-boosted tree model on the Transform's continuous features.

The goals in `docs/performance.md` set LightGBM (200 trees, 31 leaves, trained on the same
features) next to our model, for speed (`comparators`) and quality. LightGBM sees only the
Transform's `continuous` `[B, G]` matrix, not `sparse_ids`: those are hashed into
`2**input_size_bits` (2^18) buckets, i.e. a 262,144-wide one-hot with a few ones per row.
Trees split on one column at a time, so each of those columns is a split on one rare id;
31-leaf trees would spend their few splits on the handful of frequent ids and ignore the rest,
and the sparse-to-dense conversion alone would dominate prediction time. Continuous-only is the
usual way a GBDT light ranker is built, and it keeps the comparison about scoring cost, not
about how a tree library copes with hashed ids.

The Transform writes an absent value as the spec's missing marker (-1.23456789); LightGBM
handles missing values natively when they are NaN (each split learns which side NaN goes to),
so `continuous_matrix` turns the marker, and any non-finite value, into NaN.
"""

from __future__ import annotations

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
    if features.ndim != 2 or features.shape[0] != labels.shape[0] or labels.shape[0] == 0:
        raise BenchInputError(
            f"LightGBM training data is invalid: features {features.shape}, labels {labels.shape}; "
            "expected [N, G] and [N] with N > 0"
        )
    if not ((labels >= 0.0) & (labels <= 1.0)).all():
        raise BenchInputError(
            f"LightGBM labels must lie in [0, 1]; got values from {np.nanmin(labels)} to {np.nanmax(labels)}"
        )
    if trees < 1 or leaves < 2:
        raise BenchInputError(f"trees={trees}, leaves={leaves} are invalid: expected trees >= 1, leaves >= 2")
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        if weights.shape != labels.shape or (weights < 0).any():
            raise BenchInputError(
                f"LightGBM weights of shape {weights.shape} are invalid: expected {labels.shape}, all >= 0"
            )
    params = {
        "objective": "binary" if np.isin(labels, (0.0, 1.0)).all() else "cross_entropy",
        "num_leaves": leaves,
        "num_threads": threads,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }
    dataset = lightgbm.Dataset(features, label=labels, weight=weights, params={"verbose": -1})
    return lightgbm.train(params, dataset, num_boost_round=trees)
