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


def shorten(text: object, limit: int = 300) -> str:
    """`text` as a string of at most `limit` characters, cut in the middle with a marker.

    Data values reach error messages, the log and the run report (a bad string value, an
    anomaly's example values, a Beam error quoting a record). One 10 MB value must not make a
    10 MB message: the CLI prints errors as one line, and a person needs the start (what it is)
    and the end (often where it went wrong), not the middle.

    Args:
        text: Anything; it is converted with `str`.
        limit: The longest result, marker included (at least 60).

    Returns:
        The text itself if short enough, else its head and tail around `...[N chars, cut]...`
        (N the full length).
    """
    text = str(text)
    limit = max(limit, 60)
    if len(text) <= limit:
        return text
    marker = f" ...[{len(text)} chars, cut]... "
    room = max(limit - len(marker), 2)
    head = room - room // 3
    return text[:head] + marker + text[len(text) - (room - head) :]
