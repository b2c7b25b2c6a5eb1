"""The command line: user errors end with one clear message and exit status 2."""

from __future__ import annotations

import os

import pytest

from pipeline.cli import main


def test_a_config_typo_is_one_clear_error(tmp_path, capsys):
    config = tmp_path / "typo.yaml"
    config.write_text("name: x\nroot: r\nserving_dir: s\nmodle: {}\n")
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lightrank: error: unknown key 'modle'")
    assert "did you mean 'model'?" in err


def test_a_missing_data_path_is_named_and_nothing_is_written(tmp_path, capsys):
    root = tmp_path / "root"
    code = main(
        [
            "run",
            "--set", f"data.path={tmp_path}/nowhere",
            "--set", f"root={root}",
            "--set", f"metadata.sqlite={tmp_path}/m.db",
            "--set", f"serving_dir={tmp_path}/serving",
        ]
    )  # fmt: skip
    assert code == 2
    assert f"data path {tmp_path}/nowhere does not exist" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "m.db") and not os.path.exists(tmp_path / "serving")


def test_generate_refuses_to_overwrite_and_if_missing_skips(tmp_path, capsys):
    out = tmp_path / "data"
    assert main(["data", "generate", "--out", str(out), "--requests", "3", "--shards", "1"]) == 0
    assert "candidates of 3 requests" in capsys.readouterr().out
    before = sorted(os.listdir(out))
    assert main(["data", "generate", "--out", str(out), "--requests", "3"]) == 2
    assert str(out) in capsys.readouterr().err
    assert main(["data", "generate", "--out", str(out), "--if-missing"]) == 0
    assert "already present" in capsys.readouterr().out
    assert sorted(os.listdir(out)) == before


@pytest.mark.parametrize("argv", [["frobnicate"], ["run", "--bogus"]])
def test_unknown_commands_and_flags_are_rejected_by_argparse(argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
