"""The process killed at the start of every component, then run again: the store and the push hold.

Each `lightrank run` is SIGKILLed (no handler runs, as on a lost machine) when a component it has
not been killed in yet starts; the next run takes every finished component from the cache and
goes one component further. When a run finally completes, exactly one model is pushed, it loads
and scores, and `lightrank runs` shows every killed run as abandoned, none as running.
"""

from __future__ import annotations

import dataclasses
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
from killed_writer import leave_hot_journal

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

RUNNING = re.compile(r"^\[\s*\d+/\d+\] (\S+)\s+running \.\.\.")


def _argv(command: str, workdir: Path, data: str, *extra: str) -> list[str]:
    sets = [arg for value in tiny_overrides(workdir, data) for arg in ("--set", value)]
    return [sys.executable, "-m", "lightrank.cli", command, *sets, *extra]


def _run_until_a_new_component_starts(
    workdir: Path, data: str, killed: list[str], stderr_path: Path
) -> int | None:
    """Runs the pipeline; SIGKILLs it when a component not yet in `killed` starts.

    Returns the exit status of a run that ended by itself, or None when it was killed. The
    run's stderr goes to `stderr_path`, so that a failing run says why.
    """
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(
            _argv("run", workdir, data), stdout=subprocess.PIPE, stderr=stderr, text=True
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


@dataclasses.dataclass(frozen=True)
class KilledEverywhere:
    """A work dir whose runs were killed at every component start, then completed by one more run."""

    workdir: Path
    killed: list[str]
    status: int | None
    stderr: str


@pytest.fixture(scope="module")
def killed_everywhere(tmp_path_factory: pytest.TempPathFactory, tiny_data: str) -> KilledEverywhere:
    workdir = tmp_path_factory.mktemp("killed")
    killed: list[str] = []
    status = None
    stderr_path = workdir / "stderr.txt"
    for _ in range(20):  # 11 components, with room for the resolvers' nodes
        status = _run_until_a_new_component_starts(workdir, tiny_data, killed, stderr_path)
        if status is not None:
            break
    return KilledEverywhere(workdir, killed, status, stderr_path.read_text())


def test_killing_the_run_at_every_component_start_then_running_again(killed_everywhere, tiny_data):
    workdir, killed = killed_everywhere.workdir, killed_everywhere.killed
    assert killed_everywhere.status == 0, (
        f"killed at {killed}, then the run ended with {killed_everywhere.status}:\n"
        f"{killed_everywhere.stderr[-3000:]}"
    )
    assert {"ImportExampleGen", "Transform", "Trainer", "Evaluator", "Pusher", "RunReport"} <= set(killed)

    (version,) = os.listdir(workdir / "serving")  # one push, whole: no half-written version beside it
    model = tf.saved_model.load(str(workdir / "serving" / version))
    records = list(
        tf.data.TFRecordDataset(sorted(glob.glob(f"{tiny_data}/*")), compression_type="GZIP").take(8)
    )
    scores = model.signatures["serving_default"](examples=tf.stack(records))["prediction"]
    assert scores.shape == (8, 1)

    statuses = [run["status"] for run in _listed_runs(workdir, tiny_data)]  # newest first
    assert statuses[0] == "complete"
    # A run killed before its first component registered left nothing to list; every other
    # killed run is listed, as abandoned: finished executions alone do not make it complete.
    assert len(killed) - 1 <= len(statuses) - 1 <= len(killed)
    assert statuses[1:] == ["abandoned"] * (len(statuses) - 1)


def test_a_run_killed_inside_an_ml_metadata_write_is_rolled_back(killed_everywhere, tiny_data):
    """SIGKILL inside an SQLite transaction leaves a hot journal (CI met it once, exit 2 then)."""
    workdir = killed_everywhere.workdir
    assert killed_everywhere.status == 0
    store = str(workdir / "metadata.db")
    before = _listed_runs(workdir, tiny_data)

    leave_hot_journal(store)
    listed = _listed_runs(workdir, tiny_data)  # a reader: it must see the last commit
    assert listed == before
    assert not os.path.exists(f"{store}-journal")

    leave_hot_journal(store)
    ran = subprocess.run(_argv("run", workdir, tiny_data), capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert f"Rolled back an unfinished ML Metadata write left by a killed run ({store}-journal)" in ran.stdout
    assert "(pushed by an earlier run; the Pusher came from the cache)" in ran.stdout
    assert len(os.listdir(workdir / "serving")) == 1
    assert [run["status"] for run in _listed_runs(workdir, tiny_data)][:2] == ["complete", "complete"]


def _listed_runs(workdir: Path, data: str) -> list[dict]:
    listed = subprocess.run([*_argv("runs", workdir, data), "--json"], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)
