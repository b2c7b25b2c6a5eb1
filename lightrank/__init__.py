"""lightrank: a TFX / Kubeflow pipeline that trains, evaluates and ships a notification light ranker.

The folders map into this package (docs/architecture.md): `lightrank.models` (`models/`),
`lightrank.components` (`components/`), `lightrank.pipeline` (`pipeline/`), `lightrank.kubeflow`
(`kubeflow/`), and here the `lightrank` command (`cli.py`) and the `UserError` base
(`errors.py`). Imports run one way only: models <- components <- pipeline <- kubeflow <- cli.

One name lives at the top on purpose: `lightrank.RunReport`, the run report's artifact type.
Vertex AI accepts an artifact type only if its schema title looks like `namespace.Name`, and
TFX's container entry point imports a custom type's schema title as a class path; this module
makes that path import, lazily, so `import lightrank.errors` still loads nothing else.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "RunReport":
        from lightrank.components.run_report.component import RunReportArtifact

        return RunReportArtifact
    raise AttributeError(f"module 'lightrank' has no attribute {name!r}")
