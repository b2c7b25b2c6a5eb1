"""The base of every config section, from the pipeline file down to the DeepNorm settings.

A misspelt key is the most common way to silently train the wrong model: the setting is
ignored and the default wins. So every section refuses unknown keys, converts no value
implicitly (`"4"` is not an integer, `1` is not `true`), accepts only finite numbers and
cannot be changed once loaded, which also makes the recorded config digest trustworthy
(docs/configuration.md).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigModel(BaseModel):
    """A strict, frozen pydantic model: the one base of every config section."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
