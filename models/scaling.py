"""Settings that follow the train split's size: wider ids once there is data to fill them.

A preset is fixed when the pipeline is built, before any data is read, but the best width of
the id embeddings depends on how much data trains them. Measured with `lightrank-bench
quality` (three seeds pooled, paired bootstrap over eval requests; the evidence is in
`lightrank.models.deepnorm.config` and BENCHMARKS.md): 16-wide bags and FM embeddings, 48-wide
floats and a patience of 5 lead the 8-wide "default" on the catalog data set at 4,000 requests
(about 240,000 train candidates) in AUC and recall, and tie it on the sample at ten times its
size (about 800,000); on the catalog at 240 requests (about 14,000) and on the sample (about
80,000) they trail it slightly and cost 1.3x the serving FLOPs. So a preset may carry a
`DataScaling`: from `min_train_candidates` train candidates on, the Trainer and every Tuner
trial use its settings instead of the preset's.

The rule travels in the Trainer's `custom_config` without the settings the config overrides
itself (`lightrank.models.settings.data_scaling_config`): a value written in the config is never
scaled away. The Trainer counts its train split, applies the rule (`scale_to_data`) and records
the decision in `model_settings.json` and `training_summary.json` (docs/model.md, "Ids").
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from lightrank.models.deepnorm.config import DeepNormConfig, PresetName, TrainingConfig
from lightrank.models.tuning.space import apply_values

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DataScaling:
    """A preset's settings for large train splits.

    Attributes:
        min_train_candidates: From this many train candidates (records of the train split) on,
            `settings` apply.
        settings: `DeepNormConfig` and `TrainingConfig` field names and their values.
    """

    min_train_candidates: int
    settings: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, as the Trainer's `custom_config` carries it."""
        return {"min_train_candidates": self.min_train_candidates, "settings": dict(self.settings)}


#: Presets whose settings scale with the data. "original" and "one_bag" never do: the first is
#: the original exactly, the second the earlier default as it was measured.
PRESET_SCALING: Mapping[PresetName, DataScaling] = MappingProxyType(
    {
        "default": DataScaling(
            min_train_candidates=150_000,
            settings=MappingProxyType(
                {
                    "sparse_embedding_size": 16,
                    "fm_embedding_size": 16,
                    "dense_embedding_size": 48,
                    # Wider bags learn slower: with 3, one seed stopped at a plateau 2,000
                    # steps short of its best.
                    "early_stop_patience": 5,
                }
            ),
        )
    }
)


@dataclasses.dataclass(frozen=True)
class ScalingDecision:
    """What the Trainer did with a preset's `DataScaling`, recorded with the model.

    Attributes:
        train_candidates: Records of the train split, counted by the Trainer.
        min_train_candidates: The rule's threshold.
        applied: The settings changed by the rule; empty when the split was too small.
    """

    train_candidates: int
    min_train_candidates: int
    applied: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, for `model_settings.json` and `training_summary.json`."""
        return {
            "train_candidates": self.train_candidates,
            "min_train_candidates": self.min_train_candidates,
            "applied": dict(self.applied),
        }


def scale_to_data(
    scaling: Mapping[str, Any] | None,
    train_candidates: int,
    deepnorm: DeepNormConfig,
    training: TrainingConfig,
) -> tuple[DeepNormConfig, TrainingConfig, ScalingDecision | None]:
    """The settings for a train split of `train_candidates`, by the `custom_config`'s rule.

    Args:
        scaling: `custom_config["data_scaling"]` (`DataScaling.to_dict`), or None (no rule).
        train_candidates: Records of the train split.
        deepnorm: The preset's settings with the config's overrides.
        training: Likewise.

    Returns:
        `(deepnorm, training, decision)`; the settings unchanged and no decision without a rule.

    Raises:
        ValueError: If the rule names a setting that does not exist or a value it refuses.
    """
    if not scaling:
        return deepnorm, training, None
    threshold = int(scaling["min_train_candidates"])
    settings = dict(scaling["settings"]) if train_candidates >= threshold else {}
    if settings:
        deepnorm, training = apply_values(settings, deepnorm, training)
    decision = ScalingDecision(train_candidates, threshold, settings)
    outcome = f"the settings for large data apply: {settings}" if settings else "the preset's as they are"
    logger.info(
        "%d train candidates (%s %d): %s", train_candidates, ">=" if settings else "<", threshold, outcome
    )
    return deepnorm, training, decision
