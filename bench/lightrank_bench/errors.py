"""The one error class of `lightrank-bench` a user can fix from its message alone."""

from __future__ import annotations

from lightrank.errors import UserError


class BenchInputError(UserError):
    """A benchmark input (model, data, Transform output, request sizes) is missing or unusable."""
