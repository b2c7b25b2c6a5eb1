"""`lightrank runs | lineage | compare`: wiring, output forms and one-line errors, on a fake store."""

from __future__ import annotations

import argparse
import json
import sys

import pytest
from lineage_fake_store import PIPELINE, FakeTfxStore, populate

from pipeline.cli import _user_errors
from pipeline.lineage import LineageError
from pipeline.lineage_cli import default_report_path, register


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[str, int]]:
    directory = tmp_path_factory.mktemp("fake-cli")
    ids = populate(FakeTfxStore(str(directory / "metadata.db")), str(directory))
    return ["--set", f"metadata.sqlite={directory}/metadata.db", "--set", f"name={PIPELINE}"], ids


def _lightrank(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="lightrank")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        code = args.handler(args)
    except (*_user_errors(), LineageError) as error:
        print(f"lightrank: error: {error}", file=sys.stderr)
        code = 2
    out, err = capsys.readouterr()
    return code, out, err


def test_register_adds_the_four_commands_with_handlers():
    parser = argparse.ArgumentParser(prog="lightrank")
    register(parser.add_subparsers(dest="command", required=True))
    for argv in (["runs"], ["lineage"], ["lineage", "12", "--dot"], ["compare", "a", "b"], ["report", "x"]):
        assert callable(parser.parse_args(argv).handler)
    assert parser.parse_args(["lineage"]).target == "latest-pushed"
    assert parser.parse_args(["report"]).run == "latest"
    with pytest.raises(SystemExit):
        parser.parse_args(["lineage", "--json", "--dot"])


def test_runs_prints_a_table_and_json_newest_first(fake, capsys):
    args, _ = fake
    code, out, _ = _lightrank(["runs", *args], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("RUN") and lines[1].startswith("run-3") and "failed (AnomalyGate)" in lines[1]
    assert "resolver" not in out
    code, out, _ = _lightrank(["runs", "--json", "--limit", "2", *args], capsys)
    assert [r["run_id"] for r in json.loads(out)] == ["run-3", "run-2"]


def test_lineage_dot_and_downstream_need_no_artifact_files(fake, capsys):
    args, ids = fake
    code, out, _ = _lightrank(["lineage", "--dot", *args], capsys)
    assert code == 0 and out.startswith("digraph")
    assert f"e{ids['trainer_2']} -> a{ids['model_2']}" in out
    assert f"a{ids['model_1']} " not in out
    code, out, _ = _lightrank(["lineage", "--downstream", str(ids["schema"]), "--json", *args], capsys)
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
def test_user_errors_are_one_line(fake, capsys, argv, message):
    args, ids = fake
    argv = [a.format(**ids) for a in argv]
    code, out, err = _lightrank([argv[0], *args, *argv[1:]], capsys)  # the test's --set wins
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_a_missing_store_is_named_and_not_created(tmp_path, capsys):
    missing = tmp_path / "no" / "metadata.db"
    code, _, err = _lightrank(["lineage", "--set", f"metadata.sqlite={missing}"], capsys)
    assert code == 2 and f"no ML Metadata store at {missing}" in err
    assert not missing.parent.exists()


def test_the_default_report_path_is_next_to_the_runs_artifacts():
    assert default_report_path("/r/root", "2026-11-28T22:52:14.157571") == (
        "/r/root/reports/run-2026-11-28T22_52_14.157571.html"
    )
    assert default_report_path("gs://bucket/root", "r1") == "reports/run-r1.html"  # written locally
