"""The Evaluator's extractors: unused features are dropped, everything a metric or slice reads is kept."""

from __future__ import annotations

import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis import constants

from lightrank.components.eval_extractors import STAGE_NAME, _prune, custom_extractors, used_features
from lightrank.models.metrics.specs import light_ranking_metrics_specs


def _eval_config() -> tfma.EvalConfig:
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="label.top3", example_weight_key="meta.weight")],
        slicing_specs=[
            tfma.SlicingSpec(),
            tfma.SlicingSpec(feature_keys=["candidate.source", "user.bucket"]),
        ],
        metrics_specs=light_ranking_metrics_specs("meta.trace_id", "meta.heavy_score"),
    )


def test_every_feature_the_config_reads_is_kept():
    assert used_features(_eval_config()) == {
        "label.top3", "meta.weight", "candidate.source", "user.bucket", "meta.trace_id", "meta.heavy_score",
    }  # fmt: skip


def test_pruning_keeps_those_features_and_every_other_extract_untouched():
    extracts = {
        constants.FEATURES_KEY: {
            "meta.trace_id": np.array([7]),
            "user.id": np.array([1]),
            "candidate.x": np.array([2.0]),
        },
        constants.INPUT_KEY: np.array([b"serialized"]),
        constants.PREDICTIONS_KEY: np.array([0.3]),
        constants.LABELS_KEY: np.array([1.0]),
    }
    pruned = _prune(extracts, frozenset({"meta.trace_id"}))
    assert set(pruned[constants.FEATURES_KEY]) == {"meta.trace_id"}
    assert constants.INPUT_KEY not in pruned
    assert pruned[constants.PREDICTIONS_KEY] is extracts[constants.PREDICTIONS_KEY]
    assert set(extracts[constants.FEATURES_KEY]) == {
        "meta.trace_id",
        "user.id",
        "candidate.x",
    }  # input not mutated


def test_the_pruning_step_runs_just_before_tfma_unbatches():
    names = [extractor.stage_name for extractor in custom_extractors(None, _eval_config())]
    assert names[names.index(STAGE_NAME) + 1] == "ExtractUnbatchedInputs"


def test_the_pipeline_evaluator_takes_its_extractors_from_this_module():
    from tfx import types
    from tfx.types import standard_artifacts

    from lightrank.components import eval_extractors
    from lightrank.components.runtime_evaluator import RuntimeEvaluator

    evaluator = RuntimeEvaluator(
        examples=types.Channel(type=standard_artifacts.Examples),
        model=types.Channel(type=standard_artifacts.Model),
        eval_config=_eval_config(),
        thresholds={},
        example_splits=["eval"],
    )
    assert evaluator.exec_properties["module_path"] == eval_extractors.__name__
    assert callable(eval_extractors.custom_extractors)  # the UDF name TFX's executor looks up
