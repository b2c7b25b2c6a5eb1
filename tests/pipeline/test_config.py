"""Config loading: strict keys, typed values, overrides, path resolution."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from lightrank.errors import ConfigError
from lightrank.models.deepnorm.config import PRESETS
from lightrank.models.settings import ModelConfig, resolve_model_settings
from lightrank.pipeline.config import SAMPLE_CONFIG, PipelineConfig, from_dict, load_config
from lightrank.pipeline.config.loader import apply_overrides
from lightrank.pipeline.config.names import check_config_names


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
    data["model"]["task"] = "OONC_Engagement"  # the original's invalid default (docs/model.md, Data contract)
    config = load_config(_write(tmp_path, data))  # any identifier names a task ...
    # ... that the feature spec's labels must map to a label
    with pytest.raises(ConfigError, match=r"model.task: unknown task .*'OONC_Engagement'; known"):
        check_config_names(config)
    data["model"]["task"] = "Heavy Rank"
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
    assert config.model.training.model_dump() == {"learning_rate": 0.05}
    assert config.data.eval_buckets == 2
    with pytest.raises(ConfigError, match=r"unknown key 'model.knd'"):
        load_config(SAMPLE_CONFIG, ["model.knd=logistic"])
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides({}, ["model.kind"])


def test_round_trip_and_digest_change_with_content():
    config = load_config(SAMPLE_CONFIG)
    again = from_dict(config.model_dump(mode="json"))
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


CLOUD = "cloud={project: p, region: r, temp_location: gs://t/tmp}"


@pytest.mark.parametrize(
    ("overrides", "path", "suggestion"),
    [
        (["nmae=x"], "nmae", "name"),
        (["data.pth=x"], "data.pth", "path"),
        (["schema.feature_spc=x"], "schema.feature_spc", "feature_spec"),
        (["metadata.sqlit=x"], "metadata.sqlit", "sqlite"),
        (["metadata={mysql: {host: h, database: d, prot: 1}}"], "metadata.mysql.prot", "port"),
        (["model.presett=original"], "model.presett", "preset"),
        (["model.deepnorm.dropuot=0.1"], "model.deepnorm.dropuot", "dropout"),
        (["model.training.learning_rte=0.1"], "model.training.learning_rte", "learning_rate"),
        (["evaluation.slice=[]"], "evaluation.slice", "slices"),
        (
            ["evaluation.thresholds.auc_unweighted.lower_bund=0.5"],
            "evaluation.thresholds.auc_unweighted.lower_bund",
            "lower_bound",
        ),
        ([CLOUD, "cloud.dataflow={max_worker: 3}"], "cloud.dataflow.max_worker", "max_workers"),
        ([CLOUD, "cloud.vertex_training.machine_typ=x"], "cloud.vertex_training.machine_typ", "machine_type"),
    ],
)
def test_an_unknown_key_at_any_depth_is_one_line_naming_it_the_file_and_the_closest_key(
    overrides, path, suggestion
):
    with pytest.raises(ConfigError) as raised:
        load_config(SAMPLE_CONFIG, overrides)
    message = str(raised.value)
    assert message == f"unknown key '{path}' in {SAMPLE_CONFIG}; did you mean '{suggestion}'?"


def test_an_unknown_key_without_a_close_match_lists_the_valid_keys():
    with pytest.raises(ConfigError, match=r"unknown key 'model.training.zzz' .*; valid keys: batch_size, "):
        load_config(SAMPLE_CONFIG, ["model.training.zzz=1"])


def test_a_misspelt_required_key_is_reported_as_unknown_not_as_missing(tmp_path):
    data = _sample()
    data["schema"]["pth"] = data["schema"].pop("path")
    with pytest.raises(ConfigError, match=r"unknown key 'schema.pth' .*; did you mean 'path'\?"):
        load_config(_write(tmp_path, data))


def test_the_task_has_one_home_so_model_deepnorm_task_is_refused():
    with pytest.raises(ConfigError, match=r"unknown key 'model.deepnorm.task'"):
        load_config(SAMPLE_CONFIG, ["model.deepnorm.task=Sent"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("enable_cache=1", r"'enable_cache' in .* must be true or false, got 1$"),
        ("data.train_buckets=4.0", r"'data.train_buckets' in .* must be an integer, got 4.0$"),
        ("name=7", r"'name' in .* must be a string, got 7$"),
        (
            "beam_args=--direct_num_workers=2",
            r"'beam_args' in .* must be a list, got '--direct_num_workers=2'$",
        ),
        ("evaluation.slices=[[1]]", r"'evaluation.slices\[0\]\[0\]' in .* must be a string, got 1$"),
        ("data=somewhere", r"'data' in .* must be a mapping, got 'somewhere'$"),
        ("model.kind=tree", r"'model.kind' in .* must be one of 'deepnorm' or 'logistic', got 'tree'$"),
        ("model.deepnorm=[1]", r"'model.deepnorm' in .* must be a mapping, got \[1\]$"),
        (
            "model.deepnorm.use_missing_sub_branch=0",
            r"'model.deepnorm.use_missing_sub_branch' .* true or false",
        ),
        ("model.deepnorm.dropout=1.0", r"'model.deepnorm.dropout' in .* must be < 1.0, got 1.0$"),
        ("model.deepnorm.trainable_regexes=[]", r"'model.deepnorm.trainable_regexes' .* at least 1 item"),
        ("model.deepnorm.trainable_regexes=['']", r"'model.deepnorm.trainable_regexes\[0\]' .* not be empty"),
        ("model.deepnorm.missing_value=.nan", r"'model.deepnorm.missing_value' .* must be a finite number"),
        (
            "model.training.batch_size='64'",
            r"'model.training.batch_size' in .* must be an integer, got '64'$",
        ),
        (
            "model.training.learning_rate=fast",
            r"'model.training.learning_rate' .* must be a number, got 'fast'$",
        ),
        ("model.training.max_steps=0", r"'model.training.max_steps' in .* must be >= 1, got 0$"),
        ("model.training.optimizer=rmsprop", r"'model.training.optimizer' in .* must be one of 'sgd', "),
        ("model.training.batch_size=null", r"'model.training.batch_size' .* must be an integer, got None$"),
    ],
)
def test_a_wrongly_typed_or_out_of_range_value_is_one_line_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=message) as raised:
        load_config(SAMPLE_CONFIG, [override])
    assert "\n" not in str(raised.value)


def test_the_config_is_frozen_all_the_way_down():
    config = load_config(SAMPLE_CONFIG, ["model.training.learning_rate=0.05"])
    for section, key, value in [
        (config, "name", "other"),
        (config.data, "train_buckets", 9),
        (config.model, "kind", "logistic"),
        (config.model.training, "learning_rate", 0.5),
        (config.evaluation.thresholds["auc_unweighted"], "lower_bound", 0.1),
    ]:
        with pytest.raises(ValidationError, match="frozen"):
            setattr(section, key, value)


def test_a_set_override_of_a_nested_typed_field_reaches_the_trainer_settings():
    config = load_config(
        SAMPLE_CONFIG,
        [
            "model.training={learning_rate: 0.01}",
            "model.training.max_steps=null",
            "model.deepnorm.trainable_regexes=[logit/.*]",
            "model.task=Sent",
        ],
    )
    assert config.model.training.model_dump() == {"learning_rate": 0.01, "max_steps": None}
    deepnorm, training = resolve_model_settings(config.model)
    preset_deepnorm, preset_training = PRESETS["default"]
    assert training == preset_training.model_copy(update={"learning_rate": 0.01, "max_steps": None})
    assert deepnorm.trainable_regexes == ("logit/.*",) and deepnorm.task == "Sent"
    assert deepnorm.momentum == preset_deepnorm.momentum == 0.99  # not overridden: the preset's value


def test_an_explicit_null_override_differs_from_no_override():
    unset = ModelConfig()
    explicit = ModelConfig.model_validate({"training": {"max_steps": None}})
    assert unset.training.max_steps is None and explicit.training.max_steps is None
    assert explicit != unset
    assert resolve_model_settings(unset)[1].max_steps == 6000
    assert resolve_model_settings(explicit)[1].max_steps is None


def test_the_digest_is_stable_for_the_same_config_and_pinned():
    data = {
        "name": "p",
        "root": "/r/pipeline",
        "serving_dir": "/r/serving",
        "data": {"path": "/r/data"},
        "schema": {"path": "/r/schema.pbtxt", "feature_spec": "/r/spec.yaml"},
        "metadata": {"sqlite": "/r/metadata.db"},
        "model": {"training": {"learning_rate": 0.05}},
    }
    # The value the dataclass implementation computed for this mapping: runs recorded before
    # the move to pydantic keep comparing equal.
    assert from_dict(data).digest() == from_dict(dict(data)).digest() == "957cf52728e99462"
    assert load_config(SAMPLE_CONFIG).digest() == load_config(SAMPLE_CONFIG).digest()
    explicit_default = from_dict({**data, "model": {"training": {"learning_rate": 0.05}, "kind": "deepnorm"}})
    assert explicit_default.digest() == from_dict(data).digest()


def test_the_json_dump_holds_only_the_overrides_written():
    config = load_config(SAMPLE_CONFIG, ["model.deepnorm.momentum=0.9"])
    dumped = config.model_dump(mode="json")
    assert dumped["model"]["deepnorm"] == {"momentum": 0.9} and dumped["model"]["training"] == {}
    assert from_dict(dumped) == config


def test_a_config_pickles_with_its_overrides():
    config = load_config(SAMPLE_CONFIG, ["model.training.max_steps=null", "model.deepnorm.momentum=0.9"])
    restored = pickle.loads(pickle.dumps(config))
    assert restored == config and restored.digest() == config.digest()
