"""Settings that follow the train split's size (`lightrank.models.scaling`).

The rule itself, what of it reaches the Trainer's `custom_config` for each config, and `run_fn`
counting a real train split, building the model with the scaled settings and recording the
decision with the model.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from tfx.components.trainer.fn_args_utils import FnArgs
from tiny_transform import (
    RAW_SPEC,
    TINY_FEATURES,
    tiny_row,
    transformed_records,
    write_gz,
    write_transform_graph,
)

from lightrank.models import trainer
from lightrank.models.deepnorm.config import PRESETS, DeepNormConfig, TrainingConfig
from lightrank.models.export import KERAS_WEIGHTS_DIR, SETTINGS_FILE
from lightrank.models.inputs import count_candidates
from lightrank.models.scaling import PRESET_SCALING, scale_to_data
from lightrank.models.settings import data_scaling_config, model_custom_config
from lightrank.pipeline.config import SAMPLE_CONFIG, load_config

BITS = 6
TASK = "HeavyRankPosition"
TRAIN_ROWS = 240
DEEPNORM = DeepNormConfig(input_size_bits=BITS, sparse_embedding_size=4, dense_embedding_size=8,
                          momentum=0.99, use_missing_sub_branch=True, sparse_bags="per_feature",
                          pairwise="fm", fm_embedding_size=2, task=TASK)  # fmt: skip
TRAINING = TrainingConfig(optimizer="adagrad", learning_rate=0.05, batch_size=32, eval_every_steps=2,
                          max_steps=4, early_stop_patience=3, seed=0)  # fmt: skip
RULE = {"min_train_candidates": 1000, "settings": {"sparse_embedding_size": 6, "early_stop_patience": 5}}


def test_below_the_threshold_the_settings_stay_and_the_decision_says_so():
    deepnorm, training, decision = scale_to_data(RULE, 999, DEEPNORM, TRAINING)
    assert (deepnorm, training) == (DEEPNORM, TRAINING)
    assert decision is not None
    assert decision.to_dict() == {"train_candidates": 999, "min_train_candidates": 1000, "applied": {}}


def test_from_the_threshold_on_the_rules_settings_replace_the_presets():
    deepnorm, training, decision = scale_to_data(RULE, 1000, DEEPNORM, TRAINING)
    assert (deepnorm.sparse_embedding_size, training.early_stop_patience) == (6, 5)
    assert deepnorm.model_copy(update={"sparse_embedding_size": 4}) == DEEPNORM  # nothing else moved
    assert training.model_copy(update={"early_stop_patience": 3}) == TRAINING
    assert decision is not None and decision.applied == RULE["settings"]


def test_without_a_rule_nothing_changes_and_nothing_is_recorded():
    assert scale_to_data(None, 10**9, DEEPNORM, TRAINING) == (DEEPNORM, TRAINING, None)


def test_a_rule_naming_no_setting_or_an_impossible_value_is_an_error():
    with pytest.raises(ValueError, match="unknown settings"):
        scale_to_data({"min_train_candidates": 1, "settings": {"embedding": 16}}, 5, DEEPNORM, TRAINING)
    with pytest.raises(ValueError):
        scale_to_data(
            {"min_train_candidates": 1, "settings": {"sparse_embedding_size": 0}}, 5, DEEPNORM, TRAINING
        )


def test_the_default_presets_rule_widens_its_ids_and_every_setting_is_valid():
    rule = PRESET_SCALING["default"]
    deepnorm, training = PRESETS["default"]
    assert set(PRESET_SCALING) == {"default"}  # "original" stays the original whatever the data
    wide, patient, _ = scale_to_data(rule.to_dict(), rule.min_train_candidates, deepnorm, training)
    assert wide.sparse_embedding_size > deepnorm.sparse_embedding_size
    assert wide.fm_embedding_size > deepnorm.fm_embedding_size
    assert patient.early_stop_patience > training.early_stop_patience


def test_the_trainer_gets_the_rule_without_the_settings_the_config_writes():
    full = PRESET_SCALING["default"].to_dict()
    config = load_config(SAMPLE_CONFIG)
    assert model_custom_config(config.model, TINY_FEATURES)["data_scaling"] == full
    one_set = load_config(SAMPLE_CONFIG, ["model.deepnorm.sparse_embedding_size=8"])
    settings = data_scaling_config(one_set.model)["settings"]
    assert "sparse_embedding_size" not in settings and set(settings) == set(full["settings"]) - {
        "sparse_embedding_size"
    }
    patience_set = load_config(SAMPLE_CONFIG, ["model.training.early_stop_patience=3"])
    assert "early_stop_patience" not in data_scaling_config(patience_set.model)["settings"]
    every_key = [
        f"model.{'training' if key == 'early_stop_patience' else 'deepnorm'}.{key}={value}"
        for key, value in full["settings"].items()
    ]
    for overrides in (
        every_key,
        ["model.scale_with_data=false"],
        ["model.preset=original"],
        ["model.preset=one_bag"],
        ["model.kind=logistic"],
    ):
        model = load_config(SAMPLE_CONFIG, overrides).model
        assert data_scaling_config(model) is None, overrides
        assert "data_scaling" not in model_custom_config(model, TINY_FEATURES), overrides
    assert load_config(SAMPLE_CONFIG, ["model.scale_with_data=false"]).digest() != config.digest()


def test_count_candidates_counts_the_records_of_every_matching_file(tmp_path):
    write_gz(str(tmp_path / "Split-train" / "part-0.gz"), [b"a", b"b", b"c"])
    write_gz(str(tmp_path / "Split-train" / "part-1.gz"), [b"d", b"e"])
    assert count_candidates([str(tmp_path / "Split-train" / "*")]) == 5
    assert count_candidates([str(tmp_path / "Split-train" / "part-1.gz")]) == 2
    with pytest.raises(ValueError, match="no transformed examples match"):
        count_candidates([str(tmp_path / "Split-eval" / "*")])


@pytest.fixture(scope="module")
def transform(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    work = str(tmp_path_factory.mktemp("transform"))
    rng = np.random.default_rng(0)
    rows = [tiny_row(rng, i) for i in range(320)]
    graph = os.path.join(work, "transform_graph")
    records = transformed_records(
        rows, RAW_SPEC, write_transform_graph(rows, RAW_SPEC, TINY_FEATURES, BITS, graph)
    )
    train, evaluation = (
        os.path.join(work, "Split-train", "part-0.gz"),
        os.path.join(work, "Split-eval", "part-0.gz"),
    )
    write_gz(train, records[:TRAIN_ROWS])
    write_gz(evaluation, records[TRAIN_ROWS:])
    return {"graph": graph, "train": train, "eval": evaluation}


def _run(transform: dict[str, str], work: str, threshold: int) -> tuple[dict, dict]:
    """`run_fn` with a rule of `threshold` train candidates; the model's settings and training summary."""
    os.makedirs(os.path.join(work, "model_run"))
    custom = {
        "features": TINY_FEATURES.to_dict(),
        "kind": "deepnorm",
        "task": TASK,
        "preset": "default",
        "deepnorm": DEEPNORM.model_dump(mode="json"),
        "training": TRAINING.model_dump(mode="json"),
        "input_size_bits": BITS,
        "max_steps": TRAINING.max_steps,
        "data_scaling": {**RULE, "min_train_candidates": threshold},
    }
    fn_args = FnArgs(
        working_dir=work, train_files=[transform["train"]], eval_files=[transform["eval"]],
        train_steps=TRAINING.max_steps, transform_output=transform["graph"],
        transform_graph_path=transform["graph"], serving_model_dir=os.path.join(work, "Format-Serving"),
        model_run_dir=os.path.join(work, "model_run"), base_model=None, custom_config=custom,
    )  # fmt: skip
    trainer.run_fn(fn_args)
    with open(os.path.join(fn_args.serving_model_dir, SETTINGS_FILE)) as f:
        settings = json.load(f)
    with open(os.path.join(fn_args.model_run_dir, trainer.TRAINING_SUMMARY_FILE)) as f:
        summary = json.load(f)
    return settings, summary


def _restores_strictly(export_dir: str, deepnorm: DeepNormConfig) -> None:
    """The exported Keras weights fill exactly the model these settings build (shapes included)."""
    model, _ = trainer.build_model("deepnorm", deepnorm, TINY_FEATURES)
    model.load_weights(
        os.path.join(export_dir, KERAS_WEIGHTS_DIR, "weights")
    ).assert_existing_objects_matched()


def test_run_fn_trains_and_records_the_wider_model_once_the_split_is_large_enough(transform, tmp_path):
    settings, summary = _run(transform, str(tmp_path), threshold=TRAIN_ROWS)
    decision = {
        "train_candidates": TRAIN_ROWS,
        "min_train_candidates": TRAIN_ROWS,
        "applied": RULE["settings"],
    }
    assert settings["data_scaling"] == summary["data_scaling"] == decision
    assert settings["deepnorm"]["sparse_embedding_size"] == 6
    assert settings["training"]["early_stop_patience"] == 5
    _restores_strictly(str(tmp_path / "Format-Serving"), DeepNormConfig.model_validate(settings["deepnorm"]))
    with pytest.raises(ValueError):  # the preset's 4-wide table no longer fits the checkpoint
        _restores_strictly(str(tmp_path / "Format-Serving"), DEEPNORM)


def test_run_fn_keeps_the_presets_settings_on_a_smaller_split_and_says_so(transform, tmp_path):
    settings, summary = _run(transform, str(tmp_path), threshold=TRAIN_ROWS + 1)
    assert settings["data_scaling"] == summary["data_scaling"]
    assert settings["data_scaling"]["applied"] == {}
    assert settings["data_scaling"]["train_candidates"] == TRAIN_ROWS
    assert settings["deepnorm"] == DEEPNORM.model_dump(mode="json")
    _restores_strictly(str(tmp_path / "Format-Serving"), DEEPNORM)
