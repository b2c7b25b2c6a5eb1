"""`--set` overrides: `dotted.key=value` pairs applied to the raw config before validation.

pydantic does the checking (unknown keys, missing keys, types, bounds) and
`lightrank.models.config_model.config_error` words its first error as one line naming the key
path and the file (docs/configuration.md); applying the overrides first makes a misspelt
override key fail exactly like a misspelt file key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightrank.errors import ConfigError
from lightrank.models.yaml_loader import load_yaml


def apply_overrides(data: dict[str, Any], overrides: list[str], *, source: str = "--set") -> dict[str, Any]:
    """Applies `dotted.key=value` overrides (values parsed as YAML) to a raw mapping.

    Overrides are applied before validation, so a misspelt override key fails
    exactly like a misspelt file key.
    """
    result = dict(data)
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"{source} {override!r}: expected KEY=VALUE, e.g. model.kind=logistic")
        key, raw_value = override.split("=", 1)
        value = load_yaml(raw_value) if raw_value.strip() else ""
        node = result
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.get(part)
            child = dict(child) if isinstance(child, Mapping) else {}
            node[part] = child
            node = child
        node[parts[-1]] = value
    return result
