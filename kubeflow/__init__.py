"""Compiling and submitting the pipeline to Kubeflow Pipelines v2 and Vertex AI Pipelines."""
