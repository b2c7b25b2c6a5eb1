"""What produced a run: the pipeline config, its digest and the code version, as execution properties.

`lightrank lineage` and `lightrank compare` answer "which code and settings
produced this?" from ML Metadata. TFX records a component's parameters as
properties of its execution *before* the executor runs (also for a cache hit
or a failure), so a value recorded early survives a run that stops early. Two
components record the same three values: the AnomalyGate (early, so a run the
gate stopped, or that failed in the Trainer or Evaluator, still has them) and
the RunReport (last, next to the report it writes).

The values are computed when the pipeline is built, that is where
`create_pipeline` runs: for a local run the checkout that runs it, for
Kubeflow / Vertex the checkout that compiles the pipeline, not the image.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

#: Names the code when `create_pipeline` runs outside a git checkout (read at build / compile time).
CODE_VERSION_ENV = "LIGHTRANK_CODE_VERSION"
#: The execution properties (component parameters) that record a run's settings.
CONFIG_PROPERTY = "pipeline_config"
DIGEST_PROPERTY = "config_digest"
CODE_PROPERTY = "code_version"
_REPOSITORY = Path(__file__).resolve().parents[1]


def code_version(repository: Path = _REPOSITORY) -> str:
    """The git commit of the code (with `-dirty` for uncommitted changes), or `unknown`.

    `LIGHTRANK_CODE_VERSION` takes precedence, for a pipeline built or compiled
    where there is no `.git`.
    """
    if os.environ.get(CODE_VERSION_ENV):
        return os.environ[CODE_VERSION_ENV]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repository, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        changes = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if changes else commit


def run_settings(config: Any) -> dict[str, str]:
    """The three parameters a recording component takes, for the `PipelineConfig` being built.

    Returns:
        `{"pipeline_config": <JSON>, "config_digest": ..., "code_version": ...}`.
    """
    return {
        CONFIG_PROPERTY: json.dumps(config.model_dump(mode="json"), sort_keys=True),
        DIGEST_PROPERTY: config.digest(),
        CODE_PROPERTY: code_version(),
    }
