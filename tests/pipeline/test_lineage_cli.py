"""`lightrank runs | lineage | compare | report`: wiring, output forms and one-line errors, on a fake store.

Every command goes through `lightrank.cli.main`, as the console script does, so an
error the CLI does not turn into one line fails the test with its traceback.
"""

from __future__ import annotations

import argparse
import html.parser
import json
import os
import shutil
import socket

import pytest
from lineage_fake_store import PIPELINE, FakeTfxStore, add_rerun_with_cached_trainer, populate
from ml_metadata.proto import metadata_store_pb2 as pb

from lightrank.cli import main
from lightrank.pipeline.commands.lineage import default_report_path, register
from lightrank.pipeline.config import MetadataConfig
from lightrank.pipeline.metadata.runs import open_store, run_by_id
from lightrank.pipeline.run_lock import run_lock


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[str, int]]:
    directory = tmp_path_factory.mktemp("fake-cli")
    ids = populate(FakeTfxStore(str(directory / "metadata.db")), str(directory))
    return ["--set", f"metadata.sqlite={directory}/metadata.db", "--set", f"name={PIPELINE}"], ids


def _lightrank(argv: list[str], capfd: pytest.CaptureFixture) -> tuple[int, str, str]:
    """`lightrank ARGV` in-process through the console script's `main`: (exit status, stdout, stderr).

    `capfd` captures file descriptors 1 and 2, so ml-metadata's or TensorFlow's
    C++ log lines would show up in stderr too.
    """
    capfd.readouterr()
    code = main(argv)
    out, err = capfd.readouterr()
    return code, out, err


def _one_error_line(code: int, out: str, err: str) -> str:
    """Asserts the CLI's user-error form: exit 2, nothing on stdout, one `lightrank: error:` line."""
    assert code == 2 and out == ""
    assert err.startswith("lightrank: error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def test_register_adds_the_four_commands_with_handlers():
    parser = argparse.ArgumentParser(prog="lightrank")
    register(parser.add_subparsers(dest="command", required=True))
    for argv in (["runs"], ["lineage"], ["lineage", "12", "--dot"], ["compare", "a", "b"], ["report", "x"]):
        assert callable(parser.parse_args(argv).handler)
    assert parser.parse_args(["lineage"]).target == "latest-pushed"
    assert parser.parse_args(["report"]).run == "latest"
    with pytest.raises(SystemExit):
        parser.parse_args(["lineage", "--json", "--dot"])


def test_runs_prints_a_table_and_json_newest_first(fake, capfd):
    args, _ = fake
    code, out, _ = _lightrank(["runs", *args], capfd)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("RUN") and lines[1].startswith("run-3") and "failed (AnomalyGate)" in lines[1]
    assert "resolver" not in out
    # run-1's ExampleGen read the days; runs 2 and 3 used its examples from the cache
    assert out.count("\n    spans read: eval 20402; train 20399-20401\n") == 3
    code, out, _ = _lightrank(["runs", "--json", "--limit", "2", *args], capfd)
    assert [r["run_id"] for r in json.loads(out)] == ["run-3", "run-2"]
    code, out, _ = _lightrank(["runs", "--json", *args], capfd)
    assert json.loads(out)[-1]["spans"] == {"eval": [20402], "train": [20399, 20400, 20401]}


def test_lineage_dot_and_downstream_need_no_artifact_files(fake, capfd):
    args, ids = fake
    code, out, _ = _lightrank(["lineage", "--dot", *args], capfd)
    assert code == 0 and out.startswith("digraph")
    assert f"e{ids['trainer_2']} -> a{ids['model_2']}" in out
    assert f"a{ids['model_1']} " not in out
    code, out, _ = _lightrank(["lineage", "--downstream", str(ids["schema"]), "--json", *args], capfd)
    used = {x["id"] for x in json.loads(out)["graph"]["executions"]}
    assert {ids["trainer_1"], ids["trainer_2"], ids["transform_1"]} <= used


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lineage", "{statistics}"], "is not a model but of type ExampleStatistics"),
        (["lineage", "424242"], "there is no artifact with id 424242"),
        (["compare", "run-1", "run-9"], "no run 'run-9'"),
        (["runs", "--set", "name=never-ran"], "has no runs of pipeline 'never-ran'"),
    ],
)
def test_user_errors_are_one_line(fake, capfd, argv, message):
    args, ids = fake
    argv = [a.format(**ids) for a in argv]
    err = _one_error_line(*_lightrank([argv[0], *args, *argv[1:]], capfd))  # the test's --set wins
    assert message in err


def test_a_missing_store_is_named_and_not_created(tmp_path, capfd):
    missing = tmp_path / "no" / "metadata.db"
    err = _one_error_line(*_lightrank(["lineage", "--set", f"metadata.sqlite={missing}"], capfd))
    assert f"no ML Metadata store at {missing}" in err
    assert not missing.parent.exists()


#: The password variable of the MySQL test (set or not by the test itself).
PASSWORD_ENV = "LINEAGE_TEST_PASSWORD"


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("password", [None, "s3cret"])
def test_an_unreachable_mysql_store_is_named_with_who_and_where(capfd, monkeypatch, password):
    if password is None:
        monkeypatch.delenv(PASSWORD_ENV, raising=False)
    else:
        monkeypatch.setenv(PASSWORD_ENV, password)
    port = _closed_port()
    mysql = f"{{host: 127.0.0.1, port: {port}, database: mlmd, user: reader, password_env: {PASSWORD_ENV}}}"
    argv = ["runs", "--set", "metadata.sqlite=null", "--set", f"metadata.mysql={mysql}"]
    err = _one_error_line(*_lightrank(argv, capfd))
    assert f"MySQL at 127.0.0.1:{port}, database 'mlmd', user 'reader'" in err
    state = "not set" if password is None else "set"
    assert f"password variable {PASSWORD_ENV} {state} (" in err
    assert "mysql_real_connect" not in err and (password is None or password not in err)


def test_a_bad_limit_is_refused_by_the_parser(capfd):
    with pytest.raises(SystemExit) as stopped:
        main(["runs", "--limit", "-1"])
    assert stopped.value.code == 2 and "is not a number of runs" in capfd.readouterr().err


def test_the_default_report_path_is_next_to_the_runs_artifacts():
    assert default_report_path("/r/root", "2026-11-28T22:52:14.157571") == (
        "/r/root/reports/run-2026-11-28T22_52_14.157571.html"
    )
    assert default_report_path("gs://bucket/root", "r1") == "reports/run-r1.html"  # written locally


class _Notes(html.parser.HTMLParser):
    """The report's notes (`data-note`) and its plotted training points by series."""

    def __init__(self) -> None:
        super().__init__()
        self.notes: dict[str, str] = {}
        self.points: dict[str, list[tuple[float, float]]] = {}
        self._note: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if "data-note" in attributes:
            self._note = attributes["data-note"]
        if tag == "circle" and "data-series" in attributes:
            point = (float(attributes["data-x"]), float(attributes["data-value"]))
            self.points.setdefault(attributes["data-series"], []).append(point)

    def handle_data(self, data: str) -> None:
        if self._note is not None:
            self.notes[self._note] = data.strip()
            self._note = None


@pytest.fixture(scope="module")
def deleted_evaluation(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], str, dict]:
    """A fake store whose run 2 evaluation directory was deleted; its training history is still there."""
    root = str(tmp_path_factory.mktemp("deleted"))
    ids = populate(FakeTfxStore(f"{root}/metadata.db"), root)
    summary = {"steps": 20, "stop_reason": "max_steps", "best_step": 20, "best_rce_unweighted": 1.5}
    os.makedirs(f"{root}/run/9")
    with open(f"{root}/run/9/training_summary.json", "w") as f:
        json.dump({**summary, "history": [{"step": 20, "train_loss": 0.7, "loss": 0.65, "rce": 1.5}]}, f)
    os.makedirs(f"{root}/evaluation/10/metrics")
    shutil.rmtree(f"{root}/evaluation/10")
    missing = f"evaluation artifact {ids['evaluation_2']} at {root}/evaluation/10 is missing or unreadable"
    args = ["--set", f"metadata.sqlite={root}/metadata.db", "--set", f"name={PIPELINE}"]
    return args, missing, summary


def test_lineage_notes_a_missing_evaluation_and_still_shows_the_rest(deleted_evaluation, capfd):
    args, missing, summary = deleted_evaluation
    code, out, _ = _lightrank(["lineage", "--json", *args], capfd)
    traced = json.loads(out)
    assert code == 0 and missing in traced["notes"]
    assert traced["evaluation"]["metrics"] is None and traced["evaluation"]["blessing"]["gates"] is None
    assert traced["trainer"]["model_run"]["summary"] == summary
    assert traced["data"]["examples"]["spans"] == {"eval": [20402], "train": [20399, 20400, 20401]}
    code, out, _ = _lightrank(["lineage", *args], capfd)
    assert "spans eval 20402; train 20399-20401, rows:" in out
    notes = out.split("\nNOTES\n")[1].split("\n\n")[0].splitlines()
    assert code == 0 and f"  {missing}" in notes and len(notes) == 3  # statistics, anomalies, evaluation
    assert "metrics unreadable" in out


def test_compare_and_report_note_a_missing_evaluation_and_still_show_the_rest(
    deleted_evaluation, capfd, tmp_path
):
    args, missing, _ = deleted_evaluation
    code, out, _ = _lightrank(["compare", "run-1", "run-2", *args], capfd)
    assert code == 0 and f"Note: run run-2: {missing}; its metrics are not shown" in out
    assert "model.training.learning_rate: 0.05 -> 0.01" in out  # the settings are still compared

    page = tmp_path / "report.html"
    code, out, _ = _lightrank(["report", "run-2", "--out", str(page), *args], capfd)
    assert code == 0 and str(page) in out
    parsed = _Notes()
    parsed.feed(page.read_text())
    assert parsed.notes["evaluation"] == missing
    assert set(parsed.notes) == {"statistics", "anomalies", "model", "evaluation"}  # never written
    assert parsed.points["train loss"] == [(20.0, 0.7)]
    assert parsed.points["eval RCE (unweighted)"] == [(20.0, 1.5)]


def test_lineage_names_the_code_and_config_of_the_run_that_trained_the_model(tmp_path, capfd):
    """Run 4 served run 2's model from the cache and pushed it: the model's settings are run 2's."""
    root = str(tmp_path)
    fake = FakeTfxStore(f"{root}/metadata.db")
    add_rerun_with_cached_trainer(fake, populate(fake, root), root)
    args = ["--set", f"metadata.sqlite={root}/metadata.db", "--set", f"name={PIPELINE}"]
    code, out, _ = _lightrank(["lineage", "--json", *args], capfd)
    traced = json.loads(out)
    assert code == 0 and traced["model"]["run_id"] == "run-2"
    assert traced["evaluation"]["execution"]["run_id"] == "run-4"  # evaluated and pushed by run 4
    assert (traced["trainer"]["config_digest"], traced["trainer"]["code_version"]) == (
        "digest-run-2",
        "commit-run-2",
    )


def test_compare_reads_the_config_a_run_stopped_at_the_gate_recorded(fake, capfd):
    args, _ = fake
    code, out, _ = _lightrank(["compare", "run-1", "run-3", "--json", *args], capfd)
    compared = json.loads(out)
    assert code == 0 and compared["b"]["config_digest"] == "digest-run-3"
    assert compared["config_differences"] == [["model.training.learning_rate", 0.05, 0.01]]
    assert compared["trainer_differences"] is None  # run 3 never trained


@pytest.fixture
def ended_runs(tmp_path: pytest.TempPathFactory) -> tuple[list[str], str]:
    """A complete run, a run killed between two components, then four runs that never finished.

    `run-complete` recorded that it ended; `run-killed` finished its first component and
    recorded nothing (SIGKILL between components); `run-cancelled` recorded that Ctrl-C
    stopped it; `run-failed` that it failed; `run-dead` and `run-live` recorded nothing: the
    run lock tells them apart.
    """
    path = str(tmp_path / "metadata.db")
    fake = FakeTfxStore(path)
    complete = fake.run("run-complete")
    fake.execute(complete, "ImportExampleGen")
    fake.end_early(complete, "complete", 1_795_998_000_000)
    fake.execute(fake.run("run-killed"), "ImportExampleGen")
    running = pb.Execution.RUNNING
    for name in ("run-cancelled", "run-failed", "run-dead", "run-live"):
        run = fake.run(name)
        fake.execute(run, "ImportExampleGen")
        fake.execute(run, "Trainer", state=running)
        if name in ("run-cancelled", "run-failed"):
            fake.end_early(run, name.removeprefix("run-"), 1_795_999_000_000)
    return ["--set", f"metadata.sqlite={path}", "--set", f"name={PIPELINE}"], path


def test_runs_show_cancelled_failed_running_and_abandoned_runs(ended_runs, capfd):
    argv, path = ended_runs
    with run_lock(path + ".lock", pipeline=PIPELINE, run_id="run-live"):
        code, out, err = _lightrank(["runs", "--json", *argv], capfd)
        assert code == 0, err
        table = _lightrank(["runs", *argv], capfd)[1]
    runs = {run["run_id"]: run for run in json.loads(out)}
    assert {name: run["status"] for name, run in runs.items()} == {
        "run-live": "running",  # its process holds the lock
        "run-dead": "abandoned",  # no process holds it for this run
        "run-failed": "failed",
        "run-cancelled": "cancelled",
        "run-killed": "abandoned",  # only finished executions, but it never recorded its end
        "run-complete": "complete",
    }
    assert runs["run-cancelled"]["ended"] == "2026-11-30T00:36:40+00:00"  # the recorded end
    assert runs["run-dead"]["ended"] is None and runs["run-cancelled"]["failed_component"] is None
    assert "abandoned: components never finished and no process holds" in table
    assert "cancelled: stopped by Ctrl-C or SIGTERM" in table

    # Once the live run's process is gone, nothing holds the lock: it is abandoned too.
    code, out, _ = _lightrank(["runs", "--json", "--limit", "1", *argv], capfd)
    assert [run["status"] for run in json.loads(out)] == ["abandoned"]


def test_without_a_lock_file_unfinished_runs_stay_running(ended_runs, capfd):
    """A store no locking run ever used (or a MySQL store) cannot tell a dead run from a live one."""
    argv, path = ended_runs
    assert not os.path.exists(path + ".lock")
    code, out, _ = _lightrank(["runs", "--json", *argv], capfd)
    assert code == 0 and [run["status"] for run in json.loads(out)][:2] == ["running", "running"]


def test_run_by_id_reads_exactly_that_run(ended_runs):
    _, path = ended_runs
    store = open_store(MetadataConfig(sqlite=path))
    run = run_by_id(store, PIPELINE, "run-cancelled")
    assert run is not None and run.run_id == "run-cancelled" and run.status == "cancelled"
    assert [c.component for c in run.components] == ["ImportExampleGen", "Trainer"]
    assert run_by_id(store, PIPELINE, "no-such-run") is None


def test_report_names_the_recorded_status(ended_runs, capfd, tmp_path):
    argv, _ = ended_runs
    code, out, err = _lightrank(["report", "run-cancelled", "--out", str(tmp_path / "r.html"), *argv], capfd)
    assert code == 0, err
    assert out.startswith("Report of run run-cancelled (cancelled): ")


def test_lineage_json_names_the_anomaly_gate_not_a_later_reader(tmp_path, capfd):
    """RunReport reads the anomalies after the gate: the JSON's gate is the AnomalyGate itself."""
    from lineage_fake_store import populate_shared_readers

    ids = populate_shared_readers(FakeTfxStore(str(tmp_path / "metadata.db")), str(tmp_path))
    argv = [
        "lineage",
        "--json",
        "--set",
        f"metadata.sqlite={tmp_path}/metadata.db",
        "--set",
        f"name={PIPELINE}",
    ]
    code, out, _ = _lightrank(argv, capfd)
    assert code == 0
    gate = json.loads(out)["data"]["anomalies"]["gate"]
    assert gate["id"] == ids["gate"] and gate["id"] != ids["report"]


def test_lineage_shows_how_the_run_that_trained_the_model_ended(tmp_path, capfd):
    """A run cancelled after its Trainer and Pusher: its model's lineage says cancelled, as `runs` does."""
    from lineage_fake_store import populate_shared_readers

    fake = FakeTfxStore(str(tmp_path / "metadata.db"))
    populate_shared_readers(fake, str(tmp_path))
    argv = ["--set", f"metadata.sqlite={tmp_path}/metadata.db", "--set", f"name={PIPELINE}"]
    code, out, _ = _lightrank(["lineage", "--json", *argv], capfd)
    assert code == 0 and json.loads(out)["model"]["run_status"] == "complete"

    fake.end_early(fake.store.get_context_by_type_and_name("pipeline_run", "shared-1"), "cancelled", 1)
    code, out, _ = _lightrank(["lineage", "--json", *argv], capfd)
    assert code == 0 and json.loads(out)["model"]["run_status"] == "cancelled"
    code, out, _ = _lightrank(["lineage", *argv], capfd)
    assert code == 0 and "\n  trained in run shared-1 (cancelled)\n" in out
