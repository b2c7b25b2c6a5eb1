"""The process killed at the start of every component, then run again: the store and the push hold.

Each `lightrank run` is SIGKILLed (no handler runs, as on a lost machine) when a component it has
not been killed in yet starts; the next run takes every finished component from the cache and
goes one component further. When a run finally completes, exactly one model is pushed, it loads
and scores, and `lightrank runs` shows every killed run as abandoned, none as running.
"""

from __future__ import annotations

import glob
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf
from e2e_support import tiny_overrides

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

RUNNING = re.compile(r"^\[\s*\d+/\d+\] (\S+)\s+running \.\.\.")


def _argv(command: str, workdir: Path, data: str, *extra: str) -> list[str]:
    sets = [arg for value in tiny_overrides(workdir, data) for arg in ("--set", value)]
    return [sys.executable, "-m", "lightrank.cli", command, *sets, *extra]


def _run_until_a_new_component_starts(workdir: Path, data: str, killed: list[str]) -> int | None:
    """Runs the pipeline; SIGKILLs it when a component not yet in `killed` starts.

    Returns the exit status of a run that ended by itself, or None when it was killed.
    """
    process = subprocess.Popen(
        _argv("run", workdir, data), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        for line in process.stdout:
            match = RUNNING.match(line)
            if match and match.group(1) not in killed:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=60)
                killed.append(match.group(1))
                return None
        return process.wait(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()


def test_killing_the_run_at_every_component_start_then_running_again(tmp_path, tiny_data):
    killed: list[str] = []
    status = None
    for _ in range(20):  # 11 components, with room for the resolvers' nodes
        status = _run_until_a_new_component_starts(tmp_path, tiny_data, killed)
        if status is not None:
            break
    assert status == 0
    assert {"ImportExampleGen", "Transform", "Trainer", "Evaluator", "Pusher", "RunReport"} <= set(killed)

    (version,) = os.listdir(tmp_path / "serving")  # one push, whole: no half-written version beside it
    model = tf.saved_model.load(str(tmp_path / "serving" / version))
    records = list(
        tf.data.TFRecordDataset(sorted(glob.glob(f"{tiny_data}/*")), compression_type="GZIP").take(8)
    )
    scores = model.signatures["serving_default"](examples=tf.stack(records))["prediction"]
    assert scores.shape == (8, 1)

    listed = subprocess.run([*_argv("runs", tmp_path, tiny_data), "--json"], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)
    statuses = [run["status"] for run in runs]  # newest first
    assert statuses[0] == "complete"
    # A run killed before its first component registered left nothing to list; every other
    # killed run is listed, as abandoned: finished executions alone do not make it complete.
    assert len(killed) - 1 <= len(statuses) - 1 <= len(killed)
    assert statuses[1:] == ["abandoned"] * (len(statuses) - 1)
