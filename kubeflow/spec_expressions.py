"""The two small languages of a compiled spec that an orchestrator evaluates, not a container.

- A task's trigger condition (`triggerPolicy.condition`), e.g. the Pusher's
  `inputs.artifacts['_Evaluator.blessing'].artifacts[0].metadata['blessed'] == 1.0 && ...`:
  CEL over the task's inputs, where `_TASK.KEY` names an upstream task's output.
- A resolver's artifact query (`resolver.outputArtifactQueries[*].filter`), e.g.
  `schema_title="tfx.ModelBlessing" AND state=LIVE AND metadata.blessed.number_value=1`, with
  `{{$.inputs.artifacts['input'].metadata['KEY']}}` placeholders: Vertex's metadata filter.

Only the forms the TFX 1.16 compiler emits are accepted; anything else is a `SpecError` naming
the expression, never a guess. Conditions are parsed with `ast` and interpreted node by node:
nothing is `eval`-ed.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lightrank.kubeflow.spec_file import SpecError

_COMPARISONS: Mapping[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_PLACEHOLDER = re.compile(r"\{\{\$\.inputs\.artifacts\['([^']+)'\]\.metadata\['([^']+)'\]\}\}")
_CLAUSE = re.compile(
    r'^(?:schema_title="(?P<title>[^"]+)"'
    r"|state=(?P<state>LIVE)"
    r'|name="(?P<name>[^"]*)"'
    r"|metadata\.(?P<key>[A-Za-z0-9_]+)\.(?P<kind>number_value|string_value)=(?P<value>.+))$"
)


def _to_python(condition: str) -> str:
    """CEL's operators as Python's, outside string literals."""
    parts = re.split(r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")", condition)
    for i in range(0, len(parts), 2):
        text = parts[i].replace("&&", " and ").replace("||", " or ")
        text = re.sub(r"!(?!=)", " not ", text)
        parts[i] = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", text))
    return "".join(parts).strip()


def _evaluate(node: ast.AST, inputs: Mapping[str, Any], condition: str) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, inputs, condition)
    if isinstance(node, ast.BoolOp):
        values = (_evaluate(value, inputs, condition) for value in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _evaluate(node.operand, inputs, condition)
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, inputs, condition)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(right_node, inputs, condition)
            if type(op) not in _COMPARISONS or not _COMPARISONS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        return node.value
    if isinstance(node, ast.Name) and node.id == "inputs":
        return inputs
    if isinstance(node, ast.Attribute):
        return _evaluate(node.value, inputs, condition)[node.attr]
    if isinstance(node, ast.Subscript):
        return _evaluate(node.value, inputs, condition)[_evaluate(node.slice, inputs, condition)]
    raise SpecError(f"trigger condition {condition!r}: unsupported {type(node).__name__}")


def evaluate_condition(condition: str, inputs: Mapping[str, Any]) -> bool:
    """Whether a task's trigger condition holds.

    Args:
        condition: `triggerPolicy.condition` of the task.
        inputs: `{"artifacts": {name: {"artifacts": [{"metadata": ...}, ...]}},
            "parameter_values": {...}}`, with upstream outputs under `_TASK.KEY` names.

    Raises:
        SpecError: The condition uses a form the compiler does not emit, or names an input,
            artifact or metadata key that is not there.
    """
    try:
        tree = ast.parse(_to_python(condition), mode="eval")
    except SyntaxError as error:
        raise SpecError(f"trigger condition {condition!r} cannot be parsed: {error.msg}") from None
    try:
        return bool(_evaluate(tree, inputs, condition))
    except (KeyError, IndexError, TypeError) as error:
        raise SpecError(f"trigger condition {condition!r}: {type(error).__name__} {error}") from None


def resolve_filter(query: str, inputs: Mapping[str, Sequence[Mapping[str, Any]]]) -> str | None:
    """A resolver query with its `{{$.inputs.artifacts[...]...}}` placeholders filled in.

    Returns:
        The query, or None when a placeholder's input artifact list is empty (a first run has
        no blessed model, so there is nothing to look up) or lacks the metadata key.
    """
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        artifacts = inputs.get(match.group(1), [])
        value = artifacts[0].get("metadata", {}).get(match.group(2)) if artifacts else None
        if value is None:
            missing = True
            return ""
        return str(value)

    query = _PLACEHOLDER.sub(fill, query)
    return None if missing else query


def matches(query: str, artifact: Mapping[str, Any]) -> bool:
    """Whether a recorded artifact satisfies a resolver query (clauses joined by AND).

    Raises:
        SpecError: A clause the TFX compiler does not emit.
    """
    for clause in query.split(" AND "):
        match = _CLAUSE.match(clause.strip())
        if match is None:
            raise SpecError(f"resolver query {query!r}: unsupported clause {clause.strip()!r}")
        if match["title"] is not None and artifact["schema_title"] != match["title"]:
            return False
        if match["name"] is not None and artifact["name"] != match["name"]:
            return False
        if match["key"] is not None:
            value = artifact.get("metadata", {}).get(match["key"])
            expected: Any = (
                float(match["value"]) if match["kind"] == "number_value" else match["value"].strip('"')
            )
            if value != expected:
                return False
    return True
