"""`lightrank run` through `lightrank.cli.main`, as the console script runs it, on tiny data."""

from __future__ import annotations

import os

import pytest
from e2e_support import tiny_config, tiny_overrides

from lightrank.cli import main
from lightrank.pipeline.metadata.runs import latest_run, open_store

pytestmark = pytest.mark.e2e


def test_lightrank_run_trains_evaluates_and_pushes_on_tiny_data(tmp_path, tiny_data, capfd):
    overrides = tiny_overrides(tmp_path, tiny_data)
    log = tmp_path / "run.log"
    code = main(["run", "--log-file", str(log), *[arg for value in overrides for arg in ("--set", value)]])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert err == ""  # TensorFlow, Beam and TFX wrote to the log, not the terminal

    config = tiny_config(tmp_path, tiny_data)
    run = latest_run(open_store(config.metadata), config.name)
    assert run is not None and run.status == "complete" and run.blessed
    assert run.pushed_model.startswith(config.serving_dir) and os.path.isdir(run.pushed_model)
    states = {component.component: component.state for component in run.components}
    assert {states[name] for name in ("ImportExampleGen", "Transform", "Trainer", "Evaluator", "Pusher")} == {
        "complete"
    }

    lines = out.splitlines()
    assert lines[0] == f"Pipeline '{config.name}' on {tiny_data}"
    assert lines[2] == f"Full log: {log}"
    assert f"Run {run.run_id} of pipeline '{config.name}'" in out
    assert f"Pushed model:   {run.pushed_model}" in lines
    assert f"Full log:       {log}" in lines and "FAILED" not in out
    assert log.is_file() and log.stat().st_size > 0
