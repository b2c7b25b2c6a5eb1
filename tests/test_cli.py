"""The command line: user errors end with one clear message and exit status 2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lightrank.cli import main


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


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--requests", "0", "0 is below the minimum of 1"),
        ("--requests", "-5", "-5 is below the minimum of 1"),
        ("--shards", "0", "0 is below the minimum of 1"),
        ("--seed", "-1", "-1 is below the minimum of 0"),
        ("--requests", "many", "'many' is not an integer"),
    ],
)
def test_generate_rejects_a_bad_count_naming_the_flag(tmp_path, capsys, flag, value, message):
    out = tmp_path / "data"
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "generate", "--out", str(out), flag, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: {message}" in err
    assert not out.exists()


def _run_with(tmp_path, *overrides: str) -> int:
    settings = [
        f"root={tmp_path}/root",
        f"metadata.sqlite={tmp_path}/m.db",
        f"serving_dir={tmp_path}/serving",
        f"data.path={tmp_path}/nowhere",  # never read: the name check comes first
        *overrides,
    ]
    return main(["run", *[arg for setting in settings for arg in ("--set", setting)]])


def test_a_misspelt_threshold_metric_fails_before_the_data_is_read(tmp_path, capsys):
    code = _run_with(tmp_path, "evaluation.thresholds={auc_unweigthed: {lower_bound: 0.5}}")
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "lightrank: error: evaluation.thresholds.auc_unweigthed: unknown metric 'auc_unweigthed'; "
        "did you mean 'auc_unweighted'?"
    )
    assert not os.path.exists(tmp_path / "m.db") and not os.path.exists(tmp_path / "serving")
    assert os.listdir(tmp_path / "root") == ["logs"]  # only the run's log, whose path was printed


def test_a_misspelt_slice_feature_is_an_error_not_a_missing_slice(tmp_path, capsys):
    code = _run_with(tmp_path, "evaluation.slices=[[candidate.source], [candidate.sorce]]")
    assert code == 2
    err = capsys.readouterr().err
    assert "evaluation.slices[1]: unknown feature 'candidate.sorce'; did you mean 'candidate.source'?" in err


def test_a_lineage_error_is_one_line_with_exit_2(tmp_path, capsys):
    code = main(["runs", "--config", _config_with_store(tmp_path, tmp_path / "absent.db")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("lightrank: error: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_compile_error_is_one_line_with_exit_2(tmp_path, capsys):
    # The sample config resolves the last blessed model, which open-source KFP v2 cannot run.
    code = main(["compile", "--target", "kubeflow", "--out", str(tmp_path / "spec.yaml")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("lightrank: error: ") and "Traceback" not in err
    assert not (tmp_path / "spec.yaml").exists()


def _config_with_store(tmp_path, store) -> str:
    from lightrank.pipeline.config import SAMPLE_CONFIG

    config = tmp_path / "config.yaml"
    text = Path(SAMPLE_CONFIG).read_text().replace("sqlite: runs/sample/metadata.db", f"sqlite: {store}")
    config.write_text(text)
    return str(config)
