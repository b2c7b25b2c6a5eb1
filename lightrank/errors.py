"""The one base of every error a user can fix from its message alone.

`lightrank.cli` prints any `UserError` as one line (`lightrank: error: ...`) and exits with
status 2, without a traceback; anything else is a bug or an environment failure and keeps its
traceback in the log. Each layer defines its own subclasses next to the code that raises them
(`InputDataError` in the preflight, `DeploymentError` in `lightrank.kubeflow`, ...). This module
imports nothing, so every layer, and the CLI before TensorFlow loads, can use it.
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input, config or environment that the message names: fix it and run again."""


class ConfigError(UserError):
    """A config file, override, feature spec or schema that cannot work as given.

    Raised by the config loader and by the model code that validates its own settings and
    features, so it lives here, below every layer.
    """
