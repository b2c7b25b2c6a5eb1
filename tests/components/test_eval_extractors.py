"""The Evaluator's extractors: request views instead of TFMA's per-candidate split."""

from __future__ import annotations

import pytest
import tensorflow_model_analysis as tfma

from lightrank.components.eval_extractors import (
    STAGE_NAME,
    custom_extractors,
    request_key,
    used_features,
    view_plan,
)
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


def test_the_views_keep_the_request_key_heavy_score_and_slice_features():
    plan = view_plan(_eval_config())
    assert plan.request_key == "meta.trace_id"
    assert plan.slice_features == {"candidate.source", "user.bucket"}
    assert {"meta.trace_id", "meta.heavy_score"} <= plan.candidate_features


def test_grouped_metrics_naming_different_request_keys_are_refused():
    config = _eval_config()
    config.metrics_specs.extend(light_ranking_metrics_specs("meta.other_id", "meta.heavy_score")[2:])
    with pytest.raises(ValueError, match="different request keys"):
        request_key(config)


def test_without_grouped_metrics_there_is_no_request_key():
    config = _eval_config()
    del config.metrics_specs[2]
    assert request_key(config) is None


def test_the_request_views_replace_tfmas_per_candidate_split_and_precede_slicing():
    names = [extractor.stage_name for extractor in custom_extractors(None, _eval_config())]
    assert "ExtractUnbatchedInputs" not in names
    assert names[names.index(STAGE_NAME) + 1] == "ExtractSliceKeys"


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
