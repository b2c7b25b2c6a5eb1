"""TFX's Tuner executor with `tuner_fn` on a tiny Transform output, and the Trainer using its result.

The executor is TFX's own (`tfx.components.tuner.executor.Executor`), given artifacts laid out
as Transform writes them, so the test covers the `tuner_fn` contract, the trials' training and
the `best_hyperparameters` file the Trainer then reads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.components.tuner import executor as tuner_executor
from tfx.types import standard_artifacts
from tfx.utils import json_utils
from tiny_transform import (
    RAW_SPEC,
    TINY_FEATURES,
    tiny_row,
    transformed_records,
    write_gz,
    write_transform_graph,
)

from lightrank.models import trainer
from lightrank.models.deepnorm.config import DeepNormConfig, TrainingConfig
from lightrank.models.export import SETTINGS_FILE
from lightrank.models.training import loop
from lightrank.models.tuning import tuner
from lightrank.models.tuning.space import TuningConfig
from lightrank.pipeline.pipeline import TUNER_FN

BITS = 6
TASK = "HeavyRankPosition"
DEEPNORM = DeepNormConfig(
    input_size_bits=BITS, sparse_embedding_size=4, dense_embedding_size=8, momentum=0.99
)
TRAINING = TrainingConfig(optimizer="adagrad", learning_rate=0.05, batch_size=32, max_steps=4, seed=0)
SPACE = {
    "learning_rate": [0.01, 0.2],
    "sparse_embedding_size": {"min": 2, "max": 6, "step": 2},
    "use_missing_sub_branch": [True, False],
}


def _custom(space: dict, trials: int = 3) -> dict:
    return {
        "features": TINY_FEATURES.to_dict(),
        "kind": "deepnorm",
        "task": TASK,
        "preset": "default",
        "deepnorm": DEEPNORM.model_dump(mode="json"),
        "training": TRAINING.model_dump(mode="json"),
        "input_size_bits": BITS,
        "max_steps": TRAINING.max_steps,
        "tuning": TuningConfig.model_validate(
            {"space": space, "trials": trials, "steps_per_trial": 6, "algorithm": "random", "seed": 3}
        ).model_dump(mode="json"),
    }


@pytest.fixture(scope="module")
def transformed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Transform's two outputs in TFX's layout: the graph and `Split-train` / `Split-eval`."""
    work = str(tmp_path_factory.mktemp("transform"))
    rng = np.random.default_rng(0)
    rows = [tiny_row(rng, i) for i in range(320)]
    graph = os.path.join(work, "transform_graph")
    records = transformed_records(
        rows, RAW_SPEC, write_transform_graph(rows, RAW_SPEC, TINY_FEATURES, BITS, graph)
    )
    examples = os.path.join(work, "transformed_examples")
    for split, part in (("train", records[:240]), ("eval", records[240:])):
        write_gz(os.path.join(examples, f"Split-{split}", "part-0.gz"), part)
    return {"graph": graph, "examples": examples}


def _search(transformed: dict[str, str], out: str, custom: dict) -> tuple[dict, list]:
    """Runs TFX's Tuner executor; returns the best hyperparameters and the tuner results it wrote."""
    examples = standard_artifacts.Examples()
    examples.uri = transformed["examples"]
    examples.split_names = '["train", "eval"]'
    graph = standard_artifacts.TransformGraph()
    graph.uri = transformed["graph"]
    best = standard_artifacts.HyperParameters()
    best.uri = os.path.join(out, "best_hyperparameters")
    results = standard_artifacts.TunerResults()
    results.uri = os.path.join(out, "tuner_results")
    for artifact in (best, results):
        os.makedirs(artifact.uri)
    executor = tuner_executor.Executor(
        tuner_executor.base_executor.BaseExecutor.Context(tmp_dir=os.path.join(out, "tmp"), unique_id="1")
    )
    executor.Do(
        {"examples": [examples], "transform_graph": [graph]},
        {"best_hyperparameters": [best], "tuner_results": [results]},
        {
            "tuner_fn": TUNER_FN,
            "train_args": json.dumps({"num_steps": 6}),
            "eval_args": json.dumps({"num_steps": 0}),
            "custom_config": json_utils.dumps(custom),
        },
    )
    with open(os.path.join(best.uri, "best_hyperparameters.txt")) as f:
        best_config = json.load(f)
    with open(os.path.join(results.uri, "tuner_results.json")) as f:
        return best_config, json.load(f)


def test_the_tuner_trains_each_trial_and_keeps_the_best_eval_rce(transformed, tmp_path, monkeypatch):
    scored: list[tuple[dict, float]] = []
    real_train = loop.train

    def recording_train(model, train_ds, eval_ds, training, deepnorm, log_dir):
        result = real_train(model, train_ds, eval_ds, training, deepnorm, log_dir)
        settings = {
            "learning_rate": training.learning_rate,
            "size": deepnorm.sparse_embedding_size,
            "steps": training.max_steps,
        }
        scored.append((settings, result.best_value))
        return result

    monkeypatch.setattr("lightrank.models.training.loop.train", recording_train)
    best, results = _search(transformed, str(tmp_path), _custom(SPACE))

    assert len(scored) == 3
    assert all(settings["steps"] == 6 for settings, _ in scored)  # steps_per_trial, not the preset's 4
    assert {settings["learning_rate"] for settings, _ in scored} <= {0.01, 0.2}
    assert {settings["size"] for settings, _ in scored} <= {2, 4, 6}
    # The artifact holds exactly the search's settings, and the best trial is the highest eval RCE.
    assert set(best["values"]) == set(SPACE)
    top_settings, top_rce = max(scored, key=lambda item: item[1])
    assert (best["values"]["learning_rate"], best["values"]["sparse_embedding_size"]) == (
        top_settings["learning_rate"],
        top_settings["size"],
    )
    assert results[0]["score"] == pytest.approx(top_rce)
    assert len(results) == 3


def test_a_diverging_trial_fails_alone_and_a_broken_one_stops_the_search(transformed, tmp_path, monkeypatch):
    import keras_tuner

    calls = iter([FloatingPointError("loss is nan"), None, None])

    def flaky_train(*args, **kwargs):
        error = next(calls)
        if error:
            raise error
        return type("Result", (), {"best_value": 1.5, "steps": 6, "stop_reason": "max_steps"})()

    monkeypatch.setattr("lightrank.models.training.loop.train", flaky_train)
    _best, results = _search(transformed, str(tmp_path / "flaky"), _custom(SPACE))
    assert len(results) == 2  # the diverged trial is not among the completed ones
    assert results[0]["score"] == 1.5

    def broken_train(*args, **kwargs):
        raise KeyError("label.top3")

    monkeypatch.setattr("lightrank.models.training.loop.train", broken_train)
    with pytest.raises(keras_tuner.errors.FatalError, match=r"label\.top3"):
        _search(transformed, str(tmp_path / "broken"), _custom(SPACE))


def _train_with(
    transformed: dict[str, str], work: Path, best: dict, *, steps: int, data_scaling: dict | None = None
) -> dict:
    """`run_fn` with a Tuner's `best` hyperparameters (and a data-scaling rule); the model's settings."""
    custom = _custom(SPACE)
    custom.pop("tuning")
    if data_scaling is not None:
        custom["data_scaling"] = data_scaling
    os.makedirs(work / "model_run")
    fn_args = FnArgs(
        working_dir=str(work),
        train_files=[os.path.join(transformed["examples"], "Split-train", "*")],
        eval_files=[os.path.join(transformed["examples"], "Split-eval", "*")],
        train_steps=steps,
        transform_output=transformed["graph"],
        transform_graph_path=transformed["graph"],
        serving_model_dir=str(work / "Format-Serving"),
        model_run_dir=str(work / "model_run"),
        hyperparameters=best,
        custom_config=custom,
    )
    trainer.run_fn(fn_args)
    with open(work / "Format-Serving" / SETTINGS_FILE) as f:
        return json.load(f)


def test_the_trainer_applies_the_best_hyperparameters_and_records_them(transformed, tmp_path):
    best = {
        "space": [],
        "values": {"learning_rate": 0.2, "sparse_embedding_size": 6, "use_missing_sub_branch": True},
    }
    settings = _train_with(transformed, tmp_path, best, steps=4)
    assert settings["tuned"] == best["values"]
    assert settings["training"]["learning_rate"] == 0.2
    assert settings["deepnorm"]["sparse_embedding_size"] == 6
    assert settings["deepnorm"]["use_missing_sub_branch"] is True
    served = tf.saved_model.load(str(tmp_path / "Format-Serving"))
    table = [v for v in served.variables if "sparse_embedding" in v.name and "embeddings" in v.name]
    assert table and table[0].shape[-1] == 6


def test_tuner_fn_builds_the_oracle_the_section_names(tmp_path):
    fn_args = FnArgs(working_dir=str(tmp_path), custom_config=_custom(SPACE, trials=5))
    result = tuner.tuner_fn(fn_args)
    oracle = result.tuner.oracle
    assert oracle.max_trials == 5
    # The objective is what the trials' early stopping selects on.
    assert (
        oracle.objective.name == f"{TRAINING.early_stop_metric}_unweighted"
        and oracle.objective.direction == "max"
    )
    on_nrce = _custom(SPACE)
    on_nrce["training"] = {**on_nrce["training"], "early_stop_metric": "nrce"}
    nrce_oracle = tuner.tuner_fn(
        FnArgs(working_dir=str(tmp_path / "nrce"), custom_config=on_nrce)
    ).tuner.oracle
    assert nrce_oracle.objective.name == "nrce_unweighted"
    names = {hp.name: type(hp).__name__ for hp in oracle.hyperparameters.space}
    assert names == {
        "learning_rate": "Choice",
        "sparse_embedding_size": "Int",
        "use_missing_sub_branch": "Boolean",
    }
    assert result.fit_kwargs == {"fn_args": fn_args}


def test_trials_start_from_the_settings_the_trainer_scales_to_on_the_same_split(transformed, tmp_path):
    rule = {"settings": {"dense_embedding_size": 12, "sparse_embedding_size": 2}}
    train_files = [os.path.join(transformed["examples"], "Split-train", "*")]

    def trial_base(threshold: int) -> dict:
        custom = {**_custom(SPACE), "data_scaling": {**rule, "min_train_candidates": threshold}}
        fn_args = FnArgs(
            working_dir=str(tmp_path / str(threshold)), train_files=train_files, custom_config=custom
        )
        return tuner.tuner_fn(fn_args).tuner._custom

    scaled = trial_base(240)  # the tiny train split holds 240 candidates
    assert "data_scaling" not in scaled  # applied once, here, not again in each trial
    assert (scaled["deepnorm"]["dense_embedding_size"], scaled["deepnorm"]["sparse_embedding_size"]) == (
        12,
        2,
    )
    assert trial_base(241)["deepnorm"] == DEEPNORM.model_dump(mode="json")


def test_the_trainer_puts_the_tuned_values_over_the_scaled_ones(transformed, tmp_path):
    rule = {"min_train_candidates": 1, "settings": {"dense_embedding_size": 12, "sparse_embedding_size": 2}}
    best = {"space": [], "values": {"sparse_embedding_size": 6}}
    settings = _train_with(transformed, tmp_path, best, steps=2, data_scaling=rule)
    assert settings["deepnorm"]["sparse_embedding_size"] == 6  # the Tuner's value wins
    assert settings["deepnorm"]["dense_embedding_size"] == 12  # the rule's, untouched by the search
    assert settings["data_scaling"]["applied"] == rule["settings"]
