"""Resolving models and runs and tracing lineage, on a TFX-shaped store written in milliseconds."""

from __future__ import annotations

import hashlib
import os

import pytest
from lineage_fake_store import PIPELINE, FakeTfxStore, add_rerun_with_cached_trainer, populate

from lightrank.pipeline.config import MetadataConfig
from lightrank.pipeline.metadata import runs as runs_module
from lightrank.pipeline.metadata.lineage import (
    LineageError,
    find_run,
    open_read_only,
    require_runs,
    resolve_model,
)
from lightrank.pipeline.metadata.runs import list_runs
from lightrank.pipeline.metadata.trace import run_settings, trace_downstream, trace_model


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, int]]:
    directory = tmp_path_factory.mktemp("fake-store")
    path = str(directory / "metadata.db")
    ids = populate(FakeTfxStore(path), str(directory))
    return path, ids


@pytest.fixture
def store(fake):
    return open_read_only(MetadataConfig(sqlite=fake[0]))


def test_latest_pushed_is_the_model_of_the_newest_push(store, fake):
    _, ids = fake
    assert resolve_model(store, PIPELINE, "latest-pushed").id == ids["model_2"]


def test_a_model_is_found_by_id_path_format_serving_pushed_directory_or_pushed_model(store, fake):
    path, ids = fake
    root = os.path.dirname(path)
    assert resolve_model(store, PIPELINE, str(ids["model_1"])).id == ids["model_1"]
    assert resolve_model(store, PIPELINE, f"{root}/model/6").id == ids["model_1"]
    assert resolve_model(store, PIPELINE, f"{root}/model/6/Format-Serving/").id == ids["model_1"]
    assert resolve_model(store, PIPELINE, f"{root}/serving/200").id == ids["model_2"]
    assert resolve_model(store, PIPELINE, str(ids["pushed_1"])).id == ids["model_1"]


def test_an_artifact_that_is_not_a_model_is_refused_with_a_pointer_to_its_downstream_use(store, fake):
    _, ids = fake
    with pytest.raises(LineageError, match=rf"artifact {ids['statistics']} is not a model .*--downstream"):
        resolve_model(store, PIPELINE, str(ids["statistics"]))
    with pytest.raises(LineageError, match="no artifact with id 9999"):
        resolve_model(store, PIPELINE, "9999")
    with pytest.raises(LineageError, match="no artifact in the store is at"):
        resolve_model(store, PIPELINE, "/nowhere/model")


def test_the_trace_names_every_role_and_only_the_executions_that_produced_them(store, fake):
    _, ids = fake
    trace = trace_model(store, resolve_model(store, PIPELINE, "latest-pushed"))
    roles = {role: artifact.id for role, artifact in trace.roles.items()}
    assert roles == {
        "examples": ids["examples"],
        "statistics": ids["statistics"],
        "anomalies": ids["anomalies"],
        "schema": ids["schema"],
        "transform_graph": ids["transform_graph"],
        "transformed_examples": ids["transformed"],
        "model": ids["model_2"],
        "model_run": ids["model_run_2"],
        "evaluation": ids["evaluation_2"],
        "blessing": ids["blessing_2"],
        "pushed_model": ids["pushed_2"],
    }
    assert trace.run_id == "run-2" and trace.pushed
    assert trace.trainer.id == ids["trainer_2"] and trace.pusher.id == ids["pusher_2"]
    # The data steps of run 2 came from the cache: the trace names run 1's executions that made them.
    assert trace.transform.id == ids["transform_1"] and trace.transform.run_id == "run-1"
    states = {x.state for x in trace.graph.executions.values()}
    assert "cached" not in states
    assert not any(x.component.endswith("resolver") for x in trace.graph.executions.values())
    assert ids["post_stats"] not in trace.graph.artifacts  # a side output is not upstream of the model
    assert ids["model_1"] not in trace.graph.artifacts  # the baseline is not part of this model's trace


def test_a_model_that_was_pushed_before_keeps_its_own_evaluation_and_push(store, fake):
    _, ids = fake
    trace = trace_model(store, resolve_model(store, PIPELINE, str(ids["model_1"])))
    assert trace.roles["evaluation"].id == ids["evaluation_1"]
    assert trace.roles["pushed_model"].id == ids["pushed_1"]
    assert trace.run_id == "run-1"


def test_downstream_lists_everything_that_used_a_data_artifact(store, fake):
    _, ids = fake
    graph = trace_downstream(store, resolve_model(store, PIPELINE, str(ids["model_1"])))
    assert ids["evaluator_2"] in graph.executions  # used as run 2's baseline
    examples_use = trace_downstream(store, store_artifact(store, ids["examples"]))
    assert {ids["statisticsgen_1"], ids["transform_1"], ids["trainer_1"], ids["trainer_2"]} <= set(
        examples_use.executions
    )


def store_artifact(store, artifact_id):
    from lightrank.pipeline.metadata.lineage import find_artifact

    return find_artifact(store, str(artifact_id))


def test_runs_have_statuses_times_and_are_found_by_prefix_latest_or_previous(store):
    runs = require_runs(store, PIPELINE, "fake")
    assert [r.run_id for r in runs] == ["run-3", "run-2", "run-1"]
    assert runs[0].status == "failed" and runs[0].failed_component == "AnomalyGate"
    assert runs[1].status == "complete" and runs[1].blessed and runs[1].pushed_model.endswith("serving/200")
    assert runs[2].started <= runs[2].ended <= runs[1].started
    assert find_run(runs, "latest").run_id == "run-3"
    assert find_run(runs, "previous").run_id == "run-2"
    assert find_run(runs, "run-1").run_id == "run-1"
    with pytest.raises(LineageError, match="matches 3 runs"):
        find_run(runs, "run-")
    with pytest.raises(LineageError, match="no run 'nope'"):
        find_run(runs, "nope")
    with pytest.raises(LineageError, match=r"has no runs of pipeline 'other' .*fake-pipeline"):
        require_runs(store, "other", "fake")
    assert list_runs(store, "other") == []


def test_the_store_is_opened_read_only_and_never_created(fake, tmp_path):
    path, _ = fake
    with open(path, "rb") as f:
        before = hashlib.sha256(f.read()).hexdigest(), os.stat(path).st_mtime_ns
    store = open_read_only(MetadataConfig(sqlite=path))
    trace_model(store, resolve_model(store, PIPELINE, "latest-pushed"))
    list_runs(store, PIPELINE)
    with open(path, "rb") as f:
        assert (hashlib.sha256(f.read()).hexdigest(), os.stat(path).st_mtime_ns) == before

    missing = tmp_path / "sub" / "metadata.db"
    with pytest.raises(FileNotFoundError, match="no ML Metadata store at"):
        open_read_only(MetadataConfig(sqlite=str(missing)))
    assert not missing.parent.exists()
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(LineageError, match="is empty"):
        open_read_only(MetadataConfig(sqlite=str(empty)))
    assert empty.stat().st_size == 0
    garbage = tmp_path / "garbage.db"
    garbage.write_text("not sqlite at all, long enough to have a header" * 4)
    with pytest.raises(LineageError, match="not an ML Metadata store"):
        open_read_only(MetadataConfig(sqlite=str(garbage)))


def test_a_mysql_store_is_reached_with_the_configured_credentials_and_never_created(monkeypatch):
    from lightrank.pipeline.config import MySQLConfig
    from lightrank.pipeline.metadata.lineage import store_name
    from lightrank.pipeline.metadata.runs import connection_config, read_only_connection_config

    monkeypatch.setenv("SHARED_MLMD_PASSWORD", "s3cret")
    config = MetadataConfig(
        mysql=MySQLConfig(
            host="mlmd.internal", database="mlmd", port=3307, user="ro", password_env="SHARED_MLMD_PASSWORD"
        )
    )
    connection = read_only_connection_config(config)
    assert (connection.mysql.host, connection.mysql.port, connection.mysql.database) == (
        "mlmd.internal",
        3307,
        "mlmd",
    )
    assert (connection.mysql.user, connection.mysql.password) == ("ro", "s3cret")
    assert connection.mysql.skip_db_creation
    assert not connection_config(config).mysql.skip_db_creation  # the pipeline itself may create it
    assert store_name(config) == "mysql://ro@mlmd.internal:3307/mlmd"


def test_a_run_stopped_at_the_gate_still_records_its_config_and_code(store):
    stopped = run_settings(store, "run-3")
    assert (stopped.digest, stopped.code_version, stopped.run_id) == ("digest-run-3", "commit-run-3", "run-3")
    assert stopped.config == {"name": PIPELINE, "model": {"training": {"learning_rate": 0.01}}}
    assert run_settings(store, "run-1").config["model"]["training"]["learning_rate"] == 0.05
    assert run_settings(store, "no-such-run").digest is None


def test_a_model_served_from_the_cache_keeps_the_settings_of_the_run_that_trained_it(tmp_path):
    fake = FakeTfxStore(str(tmp_path / "metadata.db"))
    ids = add_rerun_with_cached_trainer(fake, populate(fake, str(tmp_path)), str(tmp_path))
    store = open_read_only(MetadataConfig(sqlite=str(tmp_path / "metadata.db")))
    trace = trace_model(store, resolve_model(store, PIPELINE, "latest-pushed"))
    assert trace.model.id == ids["model_2"] and trace.pusher.id == ids["pusher_4"]
    assert trace.report.id == ids["report_4"]  # run 4 reported on it, with run 4's settings ...
    assert trace.report.properties["config_digest"] == "digest-run-4"
    assert (trace.settings.digest, trace.settings.code_version) == (
        "digest-run-2",
        "commit-run-2",
    )  # ... not its own


def test_the_limit_is_applied_before_any_run_is_read(store, monkeypatch):
    built = []
    original = runs_module._run_record

    def counting(store, context, node_names):
        built.append(context.name)
        return original(store, context, node_names)

    monkeypatch.setattr(runs_module, "_run_record", counting)
    newest = list_runs(store, PIPELINE, limit=2)
    assert [r.run_id for r in newest] == ["run-3", "run-2"] and built == ["run-3", "run-2"]
    assert newest[1].components == list_runs(store, PIPELINE)[1].components  # the same records
    built.clear()
    assert [r.run_id for r in require_runs(store, PIPELINE, "fake", limit=1)] == ["run-3"]
    assert built == ["run-3"]


def test_every_role_comes_from_its_component_not_from_the_newest_reader(tmp_path):
    # RunReport reads the anomalies (and everything else) after the gate; the Pusher reads the
    # evaluation before RunReport does: a trace naming "the newest consumer" got both wrong.
    from lineage_fake_store import populate_shared_readers

    ids = populate_shared_readers(FakeTfxStore(str(tmp_path / "metadata.db")), str(tmp_path))
    store = open_read_only(MetadataConfig(sqlite=str(tmp_path / "metadata.db")))
    trace = trace_model(store, resolve_model(store, PIPELINE, "latest-pushed"))
    expected = ("examples", "statistics", "anomalies", "schema", "transform_graph", "model", "model_run")
    assert {role: artifact.id for role, artifact in trace.roles.items()} == {
        **{role: ids[role] for role in expected},
        "transformed_examples": ids["transformed"],
        "evaluation": ids["evaluation"],
        "blessing": ids["blessing"],
        "pushed_model": ids["pushed"],
        "run_report": ids["run_report"],
    }
    assert trace.gate is not None and trace.gate.id == ids["gate"]
    assert trace.report is not None and trace.report.id == ids["report"]
    executions = {
        "trainer": trace.trainer,
        "transform": trace.transform,
        "evaluator": trace.evaluator,
        "pusher": trace.pusher,
    }
    assert {name: x.id for name, x in executions.items() if x} == {name: ids[name] for name in executions}
    assert ids["gate"] in trace.graph.executions and ids["validator"] in trace.graph.executions
    assert ids["statisticsgen"] in trace.graph.executions


def test_the_gate_of_a_trace_is_the_anomaly_gate_of_the_training_run(store, fake):
    _, ids = fake
    trace = trace_model(store, resolve_model(store, PIPELINE, "latest-pushed"))
    assert trace.gate is not None and trace.gate.id == ids["gate_2"]  # run 2 trained the model


def test_a_push_skipped_because_the_model_is_already_pushed_names_that_version(tmp_path):
    from lineage_fake_store import populate_shared_readers

    fake = FakeTfxStore(str(tmp_path / "metadata.db"))
    ids = populate_shared_readers(fake, str(tmp_path))
    run = fake.run("shared-2")
    fake.execute(
        run,
        "Pusher",
        {"model": ids["model"], "model_blessing": ids["blessing"]},
        {
            "pushed_model": fake.artifact(
                "PushedModel", f"{tmp_path}/s/pushed-2", pushed=0, already_pushed_destination="/serving/17"
            )
        },
    )
    store = open_read_only(MetadataConfig(sqlite=str(tmp_path / "metadata.db")))
    newest, first = list_runs(store, PIPELINE)
    assert newest.run_id == "shared-2" and newest.pushed_model is None
    assert newest.already_pushed == "/serving/17"
    assert first.already_pushed is None and first.pushed_model is not None
