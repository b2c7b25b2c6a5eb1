"""lightrank: a TFX / Kubeflow pipeline that trains, evaluates and ships a notification light ranker.

The import package maps the repository's folders (docs/architecture.md):

- `lightrank.models` (`models/`): features, Transform, the DeepNorm model, training, export, metrics.
- `lightrank.components` (`components/`): the custom TFX components and their executors.
- `lightrank.pipeline` (`pipeline/`): the config, `create_pipeline`, the local runner, ML Metadata
  reads, the eval tool and the sample data.
- `lightrank.kubeflow` (`kubeflow/`): compiling and submitting to Kubeflow Pipelines and Vertex AI.
- `lightrank.cli`: the `lightrank` command, the top layer.

Imports run one way only, models <- components <- pipeline <- kubeflow <- cli; `make lint`
enforces it with import-linter.
"""
