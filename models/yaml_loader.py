"""How every lightrank YAML file (pipeline config, feature spec, `--set` value) is parsed.

PyYAML follows YAML 1.1, where `1e-10` is the string '1e-10'; a threshold or learning rate
written that way would fail later with a confusing type error. This loader reads YAML 1.2
floats. It lives in the lowest layer because the feature spec, which the model code reads,
is YAML too.
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 floats: `1e-10` is a number, not the string '1e-10'."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_yaml(text: str) -> Any:
    """Parses YAML text the way every lightrank file and `--set` value is read."""
    return yaml.load(text, Loader=_Loader)
