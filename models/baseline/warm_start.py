"""Warm-starting the logistic baseline (`model.kind: logistic`) from the previous one.

The baseline has no streaming statistics, so its warm start is a copy by variable name
(the DeepNorm matching of `lightrank.models.deepnorm.warm_start`): the hashed linear table and the
bias do not depend on the continuous features and are copied when their shapes match;
the dense kernel is the one variable with a feature axis and is re-indexed by feature
name, so a changed continuous feature list keeps every overlapping feature's weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from lightrank.models.deepnorm.warm_start import (
    WarmStartReport,
    feature_index,
    make_report,
    variables_by_name,
)

#: The baseline's `[2G, 1]` dense kernel (`<layer>/<variable>`): G `continuous_scaled` rows, then G
#: missing-indicator rows.
DENSE_KERNEL = "dense_weights/kernel"


def warm_start_logistic(
    new_model: tf.keras.Model,
    old_model: tf.keras.Model,
    old_features: Sequence[str],
    new_features: Sequence[str],
) -> WarmStartReport:
    """Copies a logistic baseline's weights into another, re-indexing its dense kernel by feature name.

    Every variable whose name and shape match is copied; one whose shape differs (the hashed
    table after a change of `input_size_bits`) is reported as skipped and keeps its fresh value.
    In the dense kernel a kept feature keeps both of its rows (scaled value and missing
    indicator); an added feature keeps the fresh value (zero).

    Args:
        new_model: Built `logistic_regression` over `new_features`; modified in place.
        old_model: Built (trained) `logistic_regression` over `old_features`.
        old_features: The old `continuous_feature_list.json`, in column order.
        new_features: The new list, in column order.

    Returns:
        A report of what was copied, re-indexed and skipped.

    Raises:
        ValueError: On duplicate feature names, or feature lists whose lengths do not match the
            dense kernels (nothing is assigned then).
    """
    old_idx, new_idx = feature_index(old_features, new_features)
    old_vars = variables_by_name(old_model)
    new_vars = variables_by_name(new_model)
    copied, remapped, skipped, not_in_old = [], [], [], []
    # Every new value is computed before any is assigned, so a bad feature list changes nothing.
    assignments: list[tuple[tf.Variable, np.ndarray]] = []
    for name, variable in new_vars.items():
        if name not in old_vars:
            not_in_old.append(name)
            continue
        old = old_vars[name].numpy()
        if name == DENSE_KERNEL:
            if old.shape[0] != 2 * len(old_features) or variable.shape[0] != 2 * len(new_features):
                raise ValueError(
                    f"{name}: {old.shape[0]} / {variable.shape[0]} rows (old / new), but the feature "
                    f"lists have {len(old_features)} / {len(new_features)} names (expected 2 rows per name)"
                )
            value = variable.numpy()
            for old_start, new_start in ((0, 0), (len(old_features), len(new_features))):
                value[new_start + new_idx] = old[old_start + old_idx]
            assignments.append((variable, value))
            remapped.append(name)
        elif old.shape == tuple(variable.shape):
            assignments.append((variable, old))
            copied.append(name)
        else:
            skipped.append(name)
    for variable, value in assignments:
        variable.assign(value)
    return make_report(copied, remapped, skipped, not_in_old, old_features, new_features)
