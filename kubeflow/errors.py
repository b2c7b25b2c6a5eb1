"""Errors a user can fix from the message alone when compiling or submitting the pipeline.

They share one base class so the command line can print them as one line
(`lightrank: error: ...`, exit status 2) instead of a traceback.
"""

from __future__ import annotations

from lightrank.errors import UserError


class DeploymentError(UserError):
    """A compile or submit request that cannot work as given."""


class CompileError(DeploymentError):
    """The config uses something the Vertex AI / Kubeflow Pipelines compiler or backend cannot run."""


class SubmitError(DeploymentError):
    """Submission is missing a setting, or the service refused the run."""
