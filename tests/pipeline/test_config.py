"""Config loading: strict keys, typed values, overrides, path resolution."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from lightrank.errors import ConfigError
from lightrank.pipeline.config import SAMPLE_CONFIG, PipelineConfig, from_dict, load_config
from lightrank.pipeline.config.loader import apply_overrides


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _sample() -> dict:
    return yaml.safe_load(Path(SAMPLE_CONFIG).read_text())


def test_the_sample_config_loads_with_absolute_paths():
    config = load_config(SAMPLE_CONFIG)
    assert isinstance(config, PipelineConfig)
    assert config.name == "lightrank-sample"
    assert (
        os.path.isabs(config.root)
        and os.path.isabs(config.data.path)
        and os.path.isabs(config.metadata.sqlite)
    )
    assert config.model.kind == "deepnorm"
    assert config.evaluation.thresholds["auc_unweighted"].lower_bound == 0.6


def test_a_misspelt_key_is_an_error_naming_it_and_the_file(tmp_path):
    data = _sample()
    data["model"]["tusk"] = "Sent"
    path = _write(tmp_path, data)
    with pytest.raises(
        ConfigError, match=r"unknown key 'model.tusk' in .*config.yaml; did you mean 'task'\?"
    ):
        load_config(path)


def test_a_wrongly_typed_value_is_an_error_naming_the_key(tmp_path):
    data = _sample()
    data["data"]["train_buckets"] = "four"
    with pytest.raises(ConfigError, match=r"'data.train_buckets' .* must be an integer, got 'four'"):
        load_config(_write(tmp_path, data))


def test_an_invalid_choice_is_rejected(tmp_path):
    data = _sample()
    data["model"]["task"] = "OONC_Engagement"  # the original's invalid default (spec 7.3)
    with pytest.raises(ConfigError, match=r"model.task"):
        load_config(_write(tmp_path, data))


def test_a_missing_required_section_is_named(tmp_path):
    data = _sample()
    del data["schema"]
    with pytest.raises(ConfigError, match="missing required key 'schema'"):
        load_config(_write(tmp_path, data))


def test_model_overrides_are_validated_at_load_time(tmp_path):
    data = _sample()
    data["model"]["deepnorm"] = {"num_mlp_layers": -1}
    with pytest.raises(ConfigError, match="num_mlp_layers"):
        load_config(_write(tmp_path, data))
    data["model"]["deepnorm"] = {"sparse_embeding_size": 10}
    with pytest.raises(ConfigError, match="sparse_embeding_size"):
        load_config(_write(tmp_path, data))


def test_empty_thresholds_are_rejected_because_nothing_could_be_pushed(tmp_path):
    data = _sample()
    data["evaluation"]["thresholds"] = {}
    with pytest.raises(ConfigError, match="no blessing"):
        load_config(_write(tmp_path, data))


def test_overrides_apply_before_validation():
    config = load_config(
        SAMPLE_CONFIG, ["model.kind=logistic", "model.training.learning_rate=0.05", "data.eval_buckets=2"]
    )
    assert config.model.kind == "logistic"
    assert config.model.training == {"learning_rate": 0.05}
    assert config.data.eval_buckets == 2
    with pytest.raises(ConfigError, match=r"unknown key 'model.knd'"):
        load_config(SAMPLE_CONFIG, ["model.knd=logistic"])
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides({}, ["model.kind"])


def test_round_trip_and_digest_change_with_content():
    config = load_config(SAMPLE_CONFIG)
    again = from_dict(config.to_dict())
    assert again == config
    assert again.digest() == config.digest()
    other = load_config(SAMPLE_CONFIG, ["model.training.learning_rate=0.5"])
    assert other.digest() != config.digest()


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_yaml_1_1_exponent_floats_are_numbers_but_words_are_not():
    config = load_config(
        SAMPLE_CONFIG,
        ["evaluation.thresholds={rce_unweighted: {change: higher_is_better, absolute: -1e-10}}"],
    )
    assert config.evaluation.thresholds["rce_unweighted"].absolute == -1e-10
    with pytest.raises(ConfigError, match="must be a number, got 'low'"):
        load_config(SAMPLE_CONFIG, ["evaluation.thresholds={auc_unweighted: {lower_bound: low}}"])


def test_warm_start_and_warm_start_from_exclude_each_other():
    with pytest.raises(ConfigError, match=r"model\.warm_start and model\.warm_start_from exclude each other"):
        load_config(SAMPLE_CONFIG, ["model.warm_start=true", "model.warm_start_from=runs/x"])


def test_warm_start_from_is_made_absolute_unless_remote():
    local = load_config(SAMPLE_CONFIG, ["model.warm_start_from=runs/sample/serving/1"])
    assert local.model.warm_start_from == os.path.abspath("runs/sample/serving/1")
    remote = load_config(SAMPLE_CONFIG, ["model.warm_start_from=gs://bucket/serving/1"])
    assert remote.model.warm_start_from == "gs://bucket/serving/1"
