"""The base of every config section, from the pipeline file down to the DeepNorm settings.

A misspelt key is the most common way to silently train the wrong model: the setting is
ignored and the default wins. So every section refuses unknown keys, converts no value
implicitly (`"4"` is not an integer, `1` is not `true`), accepts only finite numbers and
cannot be changed once loaded, which also makes the recorded config digest trustworthy
(docs/configuration.md).

`config_error` words pydantic's first error the way the command line reports every config
problem: one line naming the key path and the file, with the closest valid key for a misspelt
one. It lives here, in the lowest layer, because the pipeline config and the feature spec (which
the model code reads) both report through it.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from lightrank.errors import ConfigError


class ConfigModel(BaseModel):
    """A strict, frozen pydantic model: the one base of every config section."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


#: How a pydantic error type reads after the key path; `{...}` are its context values.
_MESSAGES = {
    "bool_type": "must be true or false",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "literal_error": "must be one of {expected}",
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "too_short": "must hold at least {min_length} item(s)",
    "string_too_short": "must not be empty",
}


def _options(annotation: Any) -> list[Any]:
    """The types an annotation admits, with `Annotated` and unions unwrapped."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _options(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [option for arg in typing.get_args(annotation) for option in _options(arg)]
    return [annotation]


def _keys_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The valid keys of the section at `loc` below `root` (none if it is not a section)."""
    annotation: Any = root
    for part in loc:
        for option in _options(annotation):
            if isinstance(option, type) and issubclass(option, BaseModel) and part in option.model_fields:
                annotation = option.model_fields[str(part)].annotation
                break
            if typing.get_origin(option) in (dict, list, tuple):
                annotation = typing.get_args(option)[-1 if typing.get_origin(option) is dict else 0]
                break
        else:
            return []
    sections = [o for o in _options(annotation) if isinstance(o, type) and issubclass(o, BaseModel)]
    return sorted(sections[0].model_fields) if sections else []


def _describe(loc: tuple[int | str, ...], source: str) -> str:
    parts = (f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc if part != "[key]")
    path = "".join(parts).lstrip(".")
    return f"'{path}' in {source}" if source else f"'{path}'"


def _message(error: ErrorDetails, root: type[BaseModel], source: str) -> str:
    loc, kind = error["loc"], error["type"]
    if kind == "extra_forbidden":
        known = _keys_at(root, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(known)}"
        return f"unknown key {_describe(loc, source)}{hint}"
    if kind == "missing":
        return f"missing required key {_describe(loc, source)}"
    if kind in ("value_error", "assertion_error"):
        where = f" in section {_describe(loc, '')}" if loc else ""
        return f"{error.get('ctx', {}).get('error', error['msg'])}{where}" + (
            f" ({source})" if source else ""
        )
    template = _MESSAGES.get(kind)
    text = (
        template.format(**error.get("ctx", {})) if template else error["msg"][:1].lower() + error["msg"][1:]
    )
    return f"{_describe(loc, source)} {text}, got {error['input']!r}"


def config_error(error: ValidationError, root: type[BaseModel], source: str = "") -> ConfigError:
    """The first problem pydantic found, as a one-line `ConfigError`.

    Args:
        error: What `root.model_validate` raised.
        root: The model that was validated, to find the valid keys of a section.
        source: The file name, used in the message.

    Returns:
        A `ConfigError` naming the key path and the file; an unknown key comes first
        (a misspelt required key is also reported missing) with the closest valid key.
    """
    errors = sorted(error.errors(), key=lambda details: details["type"] != "extra_forbidden")
    return ConfigError(_message(errors[0], root, source))
