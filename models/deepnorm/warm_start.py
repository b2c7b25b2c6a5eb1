"""Warm-starting a light ranker across a change of its continuous feature list (docs/model.md, Warm start).

Variables whose shape does not depend on the continuous features (sparse table, merge
BN, MLP) are copied as they are. Variables that carry the G (feature) axis are
re-indexed: a feature present in both lists keeps its learnt slice, a new feature is
initialised afresh, a dropped feature disappears. For new features:

* z-score statistics start at mean 0, variance 1, with the `biased` shadows set so the
  zero-debiasing stays consistent (`biased = stat * (1 - decay**step)`);
* BN means start at 0, BN variances and standard deviations at 1;
* other weights take the new model's fresh initialisation ("fresh", default) or, as
  the original helper did, noise truncated at +-0.5 standard deviations of the old
  tensor ("truncnorm").

Kept features' z-score `biased` shadows are re-biased for the new model's decay
(`biased_new = biased_old * (1 - new**step) / (1 - old**step)`, `local_step` kept): the
layer debiases with its own decay, so a shadow copied as it is is debiased with the wrong
one (a mean of 10.0 learnt at momentum 0.99999 came out at 0.136 after one step at 0.99).
The debiased statistics inference uses are preserved, and the next training step moves
them by the new decay's zero-debiased EMA update. Keras batch normalisation keeps no
debiasing state, so its statistics are copied as they are.

The registry below is the light ranker's (the original's was heavy-ranker specific);
`lightrank.models.baseline.warm_start` reuses this module's matching for the logistic baseline.
Both models must be built (`deepnorm_light_ranker` builds on construction); the new
model is modified in place.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from lightrank.models.deepnorm.normalization import ZscoreNormalization

NEW_FEATURE_INITS = ("fresh", "truncnorm")

# (regex on the variable name without ":0", axes of size G, how new features start)
_FEATURE_AXIS_REGISTRY: tuple[tuple[str, tuple[int, ...], str], ...] = (
    (r"(.*/)?zscore/moving_mean(_biased)?", (0,), "zero"),
    (r"(.*/)?zscore/moving_var", (0,), "one"),
    (r"(.*/)?zscore/moving_var_biased", (0,), "debiased_one"),
    (r"(.*/)?adaptive_transformation/groupwise_\d+/(kernel|bias)", (1,), "weight"),
    (r"(.*/)?adaptive_transformation/batch_normalization/(gamma|beta)", (0,), "weight"),
    (r"(.*/)?adaptive_transformation/batch_normalization/(moving_mean|renorm_mean)", (0,), "zero"),
    (
        r"(.*/)?adaptive_transformation/batch_normalization/(moving_variance|moving_stddev|renorm_stddev)",
        (0,),
        "one",
    ),
    (r"(.*/)?(continuous|missing)_embedding/gate/kernel", (0, 1), "weight"),
    (r"(.*/)?(continuous|missing)_embedding/gate/bias", (0,), "weight"),
    (r"(.*/)?(continuous|missing)_embedding/projection/kernel", (0,), "weight"),
)

#: The z-score EMAs' `biased` shadows, re-biased for the new decay when copied.
_ZSCORE_SHADOW = re.compile(r"(.*/)?zscore/moving_(mean|var)_biased")


def _local_step_name(shadow: str) -> str:
    """`.../moving_var_biased` -> `.../moving_var_local_step`."""
    return shadow.removesuffix("_biased") + "_local_step"


@dataclasses.dataclass(frozen=True)
class WarmStartReport:
    """What `warm_start` did.

    Attributes:
        copied: Variables copied unchanged from the old model.
        remapped: Feature-axis variables re-indexed to the new feature list.
        skipped: Variables left at their fresh value because the shapes differ (another architecture).
        not_in_old: New-model variables the old model does not have (left fresh).
        kept_features: Features in both lists.
        added_features: Features only in the new list (initialised as the module describes).
        dropped_features: Features only in the old list.
    """

    copied: tuple[str, ...]
    remapped: tuple[str, ...]
    skipped: tuple[str, ...]
    not_in_old: tuple[str, ...]
    kept_features: tuple[str, ...]
    added_features: tuple[str, ...]
    dropped_features: tuple[str, ...]


def truncated_normal_like(old: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Samples `shape` from N(0, std(old)) truncated to +-0.5 std (`scipy.stats.truncnorm(-.5, .5)`)."""
    std = float(np.std(old))
    out = np.zeros(shape, dtype=np.float64)
    if std == 0.0 or out.size == 0:
        return out
    pending = np.ones(shape, dtype=bool)
    while pending.any():
        draws = rng.normal(0.0, std, size=int(pending.sum()))
        out[pending] = draws
        pending[pending] = np.abs(draws) > 0.5 * std
    return out


def variables_by_name(model: tf.keras.Model) -> dict[str, tf.Variable]:
    """Variables keyed `<top-level layer>/<name inside the layer>`.

    Keyed by layer rather than by `variable.name` so a model rebuilt from its config or loaded
    from disk matches even if its variables were created outside the layer's name scope.
    """
    variables: dict[str, tf.Variable] = {}
    for layer in model.layers:
        for variable in layer.weights:
            name = variable.name.rsplit(":", 1)[0]
            name = name.removeprefix(f"{layer.name}/")
            variables.setdefault(f"{layer.name}/{name}", variable)
    if len(variables) != len(model.variables):
        raise ValueError(f"model {model.name!r} has ambiguous variable names; cannot match variables by name")
    return variables


def _registry_entry(name: str) -> tuple[tuple[int, ...], str] | None:
    for pattern, axes, init in _FEATURE_AXIS_REGISTRY:
        if re.fullmatch(pattern, name):
            return axes, init
    return None


def _zscore_decay(model: tf.keras.Model) -> float:
    decays = {layer.decay for layer in model.submodules if isinstance(layer, ZscoreNormalization)}
    if len(decays) != 1:
        raise ValueError(
            f"expected one ZscoreNormalization decay in {model.name!r}, found {sorted(decays)}: "
            "warm_start takes DeepNorm light rankers (warm_start_logistic takes the logistic baseline)"
        )
    return decays.pop()


def _rebias_factor(step: float, old_decay: float, new_decay: float) -> float:
    """`(1 - new**step) / (1 - old**step)`: rescales a zero-debiased EMA's shadow to a new decay.

    Exactly 1.0 when the decays are equal; 0.0 before any update (`step` 0: the shadow and
    the statistic are still 0, and stay so).
    """
    if old_decay == new_decay:
        return 1.0
    if step <= 0:
        return 0.0
    return (1.0 - new_decay**step) / (1.0 - old_decay**step)


def _check_feature_list(features: Sequence[str], which: str) -> None:
    if len(set(features)) != len(features):
        duplicates = sorted({f for f in features if list(features).count(f) > 1})
        raise ValueError(f"{which} has duplicate feature names: {duplicates}")


def warm_start(
    new_model: tf.keras.Model,
    old_model: tf.keras.Model,
    old_features: Sequence[str],
    new_features: Sequence[str],
    new_feature_init: str = "fresh",
    seed: int = 0,
) -> WarmStartReport:
    """Copies `old_model`'s state into `new_model`, re-indexing the continuous-feature axis.

    Args:
        new_model: Built light ranker over `new_features`; modified in place.
        old_model: Built (trained) light ranker over `old_features`.
        old_features: The old `continuous_feature_list.json`, in column order.
        new_features: The new list, in column order.
        new_feature_init: "fresh" or "truncnorm", for the weights of added features.
        seed: Seeds the "truncnorm" draws.

    Returns:
        A report of what was copied, re-indexed and skipped.

    Raises:
        ValueError: On duplicate feature names, an unknown `new_feature_init`, or feature lists
            whose lengths do not match the models' feature axes.
    """
    if new_feature_init not in NEW_FEATURE_INITS:
        raise ValueError(
            f"new_feature_init={new_feature_init!r} is invalid: expected one of {NEW_FEATURE_INITS}"
        )
    old_idx, new_idx = feature_index(old_features, new_features)
    decay = _zscore_decay(new_model)
    old_decay = _zscore_decay(old_model)
    rng = np.random.default_rng(seed)
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
        entry = _registry_entry(name)
        if entry is None:
            if old.shape == tuple(variable.shape):
                assignments.append((variable, old))
                copied.append(name)
            else:
                skipped.append(name)
            continue
        axes, init = entry
        if any(old.shape[axis] != variable.shape[axis] for axis in range(old.ndim) if axis not in axes):
            skipped.append(name)  # another width (e.g. dense_embedding_size): not the same layer
            continue
        for axis in axes:
            if old.shape[axis] != len(old_features) or variable.shape[axis] != len(new_features):
                raise ValueError(
                    f"{name}: axis {axis} has sizes old {old.shape[axis]} / new {variable.shape[axis]}, "
                    f"but the feature lists have {len(old_features)} / {len(new_features)} names"
                )
        value = _initial_value(name, variable, old, init, new_feature_init, decay, old_vars, rng)
        if _ZSCORE_SHADOW.fullmatch(name):
            step = float(old_vars[_local_step_name(name)].numpy())
            old = old * _rebias_factor(step, old_decay, decay)
        if axes == (0,):
            value[new_idx] = old[old_idx]
        elif axes == (1,):
            value[:, new_idx] = old[:, old_idx]
        else:
            value[np.ix_(new_idx, new_idx)] = old[np.ix_(old_idx, old_idx)]
        assignments.append((variable, value.astype(variable.dtype.as_numpy_dtype)))
        remapped.append(name)
    for variable, value in assignments:
        variable.assign(value)
    return make_report(copied, remapped, skipped, not_in_old, old_features, new_features)


def feature_index(old_features: Sequence[str], new_features: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the kept features in the old and in the new list, in new-list order."""
    _check_feature_list(old_features, "old_features")
    _check_feature_list(new_features, "new_features")
    old_position = {name: i for i, name in enumerate(old_features)}
    old_idx = [old_position[name] for name in new_features if name in old_position]
    new_idx = [i for i, name in enumerate(new_features) if name in old_position]
    return np.array(old_idx, dtype=np.int64), np.array(new_idx, dtype=np.int64)


def make_report(
    copied: list[str],
    remapped: list[str],
    skipped: list[str],
    not_in_old: list[str],
    old_features: Sequence[str],
    new_features: Sequence[str],
) -> WarmStartReport:
    """The report of a warm start that sorted the new model's variables into these lists."""
    old_set, new_set = set(old_features), set(new_features)
    return WarmStartReport(
        copied=tuple(copied),
        remapped=tuple(remapped),
        skipped=tuple(skipped),
        not_in_old=tuple(not_in_old),
        kept_features=tuple(name for name in new_features if name in old_set),
        added_features=tuple(name for name in new_features if name not in old_set),
        dropped_features=tuple(name for name in old_features if name not in new_set),
    )


def _initial_value(
    name: str,
    variable: tf.Variable,
    old: np.ndarray,
    init: str,
    new_feature_init: str,
    decay: float,
    old_vars: dict[str, tf.Variable],
    rng: np.random.Generator,
) -> np.ndarray:
    """The full new-shape array before the kept features' slices are copied in."""
    shape = tuple(variable.shape)
    if init == "zero":
        return np.zeros(shape, dtype=np.float64)
    if init == "one":
        return np.ones(shape, dtype=np.float64)
    if init == "debiased_one":
        # The variance's local step is copied unchanged from the old model, so debias with its value.
        step = float(old_vars[_local_step_name(name)].numpy())
        return np.full(shape, 1.0 - decay**step, dtype=np.float64)
    if new_feature_init == "truncnorm":
        return truncated_normal_like(old, shape, rng)
    return variable.numpy().astype(np.float64)
