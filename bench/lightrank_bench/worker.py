"""Running one benchmark measurement in a fresh Python process and reading its result back.

TensorFlow's intra- and inter-op thread pools can only be sized before TF runs its first op,
so each thread setting of a benchmark runs in its own process: `python -m <module> ...`,
which prints one line `<marker><JSON>` on success.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

#: The checkout this package is imported from: workers import it too, whatever the current directory.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_worker(module: str, arguments: Sequence[str], marker: str, what: str) -> Any:
    """Runs `python -m module arguments` and returns the JSON it printed after `marker`.

    Args:
        module: The worker module (it must print `marker` + JSON on one line).
        arguments: Its command-line arguments.
        marker: The prefix of the result line.
        what: Names the worker in the error message, e.g. "serving benchmark worker (threads=1)".

    Raises:
        RuntimeError: If the worker prints no result line; its stderr tail is in the message.
    """
    python_path = os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_USE_LEGACY_KERAS": "1", "PYTHONPATH": python_path}
    done = subprocess.run(
        [sys.executable, "-m", module, *arguments], capture_output=True, text=True, env=env, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith(marker):
            return json.loads(line[len(marker) :])
    tail = "\n".join(done.stderr.strip().splitlines()[-5:])
    raise RuntimeError(f"{what} failed: {tail}")
