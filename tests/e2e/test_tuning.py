"""The `tuning` section end to end: TFX's Tuner before the Trainer, on tiny data, through ML Metadata.

Three runs on one store: the first tunes and trains with the best trial's values; the second,
unchanged, takes the best hyperparameters from the cache; the third changes the search space
and tunes again while the data steps still come from the cache.
"""

from __future__ import annotations

import json
import os

import pytest
from e2e_support import run, tiny_config
from ml_metadata.proto import metadata_store_pb2

from lightrank.cli import main
from lightrank.models.export import SETTINGS_FILE
from lightrank.pipeline.metadata.runs import latest_run, open_store

pytestmark = pytest.mark.e2e

SPACE = "tuning={trials: 2, steps_per_trial: 20, algorithm: random, space: {learning_rate: [0.05, 0.2]}}"
OTHER_SPACE = "tuning={trials: 2, steps_per_trial: 20, algorithm: random, space: {dropout: [0.0, 0.3]}}"


def _states(record) -> dict[str, str]:
    return {component.component: component.state for component in record.components}


def _best_hyperparameters(store, run_id: str) -> metadata_store_pb2.Artifact:
    """The HyperParameters artifact the run's Trainer consumed (its `hyperparameters` input)."""
    (context,) = [c for c in store.get_contexts_by_type("pipeline_run") if c.name == run_id]
    (trainer,) = [e for e in store.get_executions_by_context(context.id) if e.type.endswith("Trainer")]
    inputs = [
        event.artifact_id
        for event in store.get_events_by_execution_ids([trainer.id])
        if event.type == metadata_store_pb2.Event.INPUT
    ]
    (hyperparameters,) = [a for a in store.get_artifacts_by_id(inputs) if a.type == "HyperParameters"]
    return hyperparameters


def test_the_tuner_feeds_the_trainer_and_is_cached_until_the_search_changes(tmp_path, tiny_data, capsys):
    config = tiny_config(tmp_path, tiny_data, SPACE)
    output = run(config, tmp_path)
    store = open_store(config.metadata)
    first = latest_run(store, config.name)
    assert first is not None and first.status == "complete", output
    assert _states(first)["Tuner"] == "complete" and _states(first)["Trainer"] == "complete"
    assert "Tuner" in output  # the progress display names the component

    tuned = _best_hyperparameters(store, first.run_id)
    with open(os.path.join(tuned.uri, "best_hyperparameters.txt")) as f:
        best = json.load(f)["values"]
    assert set(best) == {"learning_rate"} and best["learning_rate"] in (0.05, 0.2)
    with open(os.path.join(first.model_uri, "Format-Serving", SETTINGS_FILE)) as f:
        settings = json.load(f)
    assert settings["tuned"] == best
    assert settings["training"]["learning_rate"] == best["learning_rate"]

    # `lightrank lineage` names the artifact and the values that replaced the config's.
    capsys.readouterr()
    assert main(["lineage", "--set", f"metadata.sqlite={tmp_path}/metadata.db"]) == 0
    table = capsys.readouterr().out
    assert f"tuned by the Tuner    artifact {tuned.id}" in table
    assert f"best trial: learning_rate={best['learning_rate']}" in table
    assert main(["lineage", "--json", "--set", f"metadata.sqlite={tmp_path}/metadata.db"]) == 0
    assert json.loads(capsys.readouterr().out)["tuned"]["values"] == best

    # Unchanged: the Tuner's result comes from the cache, the same artifact.
    run(config, tmp_path)
    second = latest_run(store, config.name)
    assert _states(second)["Tuner"] == "cached"
    assert _best_hyperparameters(store, second.run_id).id == tuned.id

    # Another search space: a new search on the cached Transform output.
    changed = tiny_config(tmp_path, tiny_data, OTHER_SPACE)
    run(changed, tmp_path)
    third = latest_run(store, config.name)
    states = _states(third)
    assert (states["Transform"], states["Tuner"], states["Trainer"]) == ("cached", "complete", "complete")
    retuned = _best_hyperparameters(store, third.run_id)
    assert retuned.id != tuned.id
    with open(os.path.join(retuned.uri, "best_hyperparameters.txt")) as f:
        assert set(json.load(f)["values"]) == {"dropout"}
