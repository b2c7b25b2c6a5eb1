"""Strict YAML -> frozen dataclass loading, shared by every config section.

A misspelt key in a pipeline config is the most common way to silently train the
wrong model (the setting is ignored, the default wins). So loading is strict: an
unknown key, a missing required key or a value of the wrong type is a
`ConfigError` that names the key path and the file, and suggests the closest
valid key.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from lightrank.errors import ConfigError
from lightrank.models.yaml_loader import load_yaml

T = TypeVar("T")


def _describe(path: str, source: str) -> str:
    return f"'{path}' in {source}" if source else f"'{path}'"


def _convert(value: Any, annotation: Any, path: str, source: str) -> Any:
    """Checks `value` against a type annotation and converts it where lossless."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(value, option, path, source)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(
            errors[0] if len(errors) == 1 else f"{_describe(path, source)}: {value!r} fits none of {args}"
        )
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{_describe(path, source)} must be a mapping, got {value!r}")
        return from_mapping(annotation, value, source=source, prefix=path)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{_describe(path, source)} must be a list, got {value!r}")
        item_type = args[0] if args else Any
        items = [_convert(v, item_type, f"{path}[{i}]", source) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) or annotation in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{_describe(path, source)} must be a mapping, got {value!r}")
        value_type = args[1] if len(args) == 2 else Any
        return {str(k): _convert(v, value_type, f"{path}.{k}", source) for k, v in value.items()}
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{_describe(path, source)} must be true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{_describe(path, source)} must be an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{_describe(path, source)} must be a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{_describe(path, source)} must be a string, got {value!r}")
        return value
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{_describe(path, source)} must be one of {list(args)}, got {value!r}")
        return value
    raise TypeError(f"unsupported config annotation {annotation!r} at {path}")


def from_mapping(cls: type[T], data: Mapping[str, Any], *, source: str = "", prefix: str = "") -> T:
    """Builds dataclass `cls` from a mapping, rejecting unknown and mistyped keys.

    Args:
        cls: A dataclass type; nested dataclass fields are built recursively.
        data: The parsed YAML mapping for this section.
        source: The file name, used in error messages.
        prefix: The dotted key path of this section, used in error messages.

    Returns:
        An instance of `cls`. Its `__post_init__` validation runs as usual; a
        `ValueError` raised there is re-raised as `ConfigError` with the path.

    Raises:
        ConfigError: On an unknown key, a missing required key or a bad value.
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in fields:
            path = f"{prefix}.{key}" if prefix else str(key)
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(sorted(fields))}"
            raise ConfigError(f"unknown key {_describe(path, source)}{hint}")
    kwargs = {}
    for name, field in fields.items():
        path = f"{prefix}.{name}" if prefix else name
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], path, source)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing required key {_describe(path, source)}")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as error:
        where = f" in section '{prefix}'" if prefix else ""
        raise ConfigError(f"{error}{where}" + (f" ({source})" if source else "")) from error


def to_mapping(instance: Any) -> dict[str, Any]:
    """The inverse of `from_mapping`: plain dicts and lists, safe for YAML and JSON."""
    if dataclasses.is_dataclass(instance):
        return {f.name: to_mapping(getattr(instance, f.name)) for f in dataclasses.fields(instance)}
    if isinstance(instance, Mapping):
        return {str(k): to_mapping(v) for k, v in instance.items()}
    if isinstance(instance, (list, tuple)):
        return [to_mapping(v) for v in instance]
    return instance


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
