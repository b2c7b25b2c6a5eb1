"""Spans: which days (or other numbered drops) of data a run reads.

Teams land one folder per day. TFX names the drop in a file pattern with `{SPAN}` (a
number), or `{YYYY}`, `{MM}`, `{DD}` (a date, whose span number is the days since
1970-01-01), and optionally `{VERSION}` (a re-landed span: the highest version wins), as
ImportExampleGen's own span patterns do. ImportExampleGen reads one span per run; a model
trained on a rolling window of days needs several, so `SpanExampleGen` resolves the window
itself, at run time, with the rules in this module. That keeps a compiled Vertex AI or
Kubeflow pipeline reading the newest days on every scheduled run, not the days that existed
when it was compiled.

The rules (docs/own_data.md, Spans):
- `latest: N`: the newest N spans that have files;
- `start`/`end`: every span in the closed range, each of which must have files;
- for each span, only the files of its highest version.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Iterable, Mapping
from typing import Any

from lightrank.errors import UserError

# TFX's span specs (tfx/components/example_gen/utils.py); not imported from there so that
# loading a config does not import TFX.
SPAN_SPEC = "{SPAN}"
VERSION_SPEC = "{VERSION}"
DATE_SPECS = ("{YYYY}", "{MM}", "{DD}")
_EPOCH = datetime.date(1970, 1, 1)
#: The Examples artifact's custom property that `SpanExampleGen` writes: a JSON map from split
#: name to the spans that split read.
SPANS_PROPERTY = "lightrank_spans"
_SPEC_NAMES = {SPAN_SPEC: "span", VERSION_SPEC: "version", "{YYYY}": "year", "{MM}": "month", "{DD}": "day"}
_SPEC = re.compile("|".join(re.escape(spec) for spec in _SPEC_NAMES))


class SpanError(UserError):
    """A span pattern or span range that selects no data, or selects it ambiguously."""


def has_span(pattern: str) -> bool:
    """True when `pattern` names a span: `{SPAN}` or the full date `{YYYY}`, `{MM}`, `{DD}`."""
    return SPAN_SPEC in pattern or all(spec in pattern for spec in DATE_SPECS)


def check_pattern(pattern: str) -> None:
    """Raises SpanError for a pattern whose span specs TFX and this module cannot read.

    `{SPAN}` and the date specs are alternatives; a date needs all three parts; `{VERSION}`
    qualifies a span; each spec appears once.
    """
    if re.search(r"\{(SPAN|VERSION):", pattern):
        raise SpanError(
            f"span pattern {pattern!r}: width specs such as {{SPAN:4}} are not supported; use {{SPAN}}"
        )
    found = _SPEC.findall(pattern)
    if len(found) != len(set(found)):
        raise SpanError(
            f"span pattern {pattern!r} repeats a spec; each of {sorted(_SPEC_NAMES)} may appear once"
        )
    dates = [spec for spec in DATE_SPECS if spec in found]
    if dates and len(dates) != len(DATE_SPECS):
        raise SpanError(
            f"span pattern {pattern!r} has {dates}: a date span needs all of {{YYYY}}, {{MM}}, {{DD}}"
        )
    if dates and SPAN_SPEC in found:
        raise SpanError(f"span pattern {pattern!r} has both {{SPAN}} and a date; use one")
    if VERSION_SPEC in found and not has_span(pattern):
        raise SpanError(f"span pattern {pattern!r} has {{VERSION}} but no {{SPAN}} or date")


def wildcard(pattern: str) -> str:
    """The pattern with every span spec replaced by `*`: a glob over every span's files."""
    return _SPEC.sub("*", pattern)


def _matcher(pattern: str) -> re.Pattern[str]:
    """A regex over a whole path that captures the pattern's specs as named groups."""
    parts: list[str] = []
    for token in re.split(r"(\{SPAN\}|\{VERSION\}|\{YYYY\}|\{MM\}|\{DD\}|\*|\?|\[[^\]]*\])", pattern):
        if token in _SPEC_NAMES:
            width = {"{YYYY}": "{4}", "{MM}": "{2}", "{DD}": "{2}"}.get(token, "+")
            parts.append(f"(?P<{_SPEC_NAMES[token]}>\\d{width})")
        elif token == "*":
            parts.append("[^/]*")
        elif token == "?":
            parts.append("[^/]")
        elif token.startswith("[") and token.endswith("]") and len(token) > 2:
            parts.append("[^" + token[2:] if token.startswith("[!") else token)
        else:
            parts.append(re.escape(token))
    return re.compile("".join(parts))


@dataclasses.dataclass(frozen=True)
class SpanRule:
    """Which spans to read: the newest `latest`, or the closed range `start`..`end`."""

    latest: int | None = None
    start: int | None = None
    end: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SpanRule:
        """From the config's `data.spans` (None: the newest span, as ImportExampleGen reads)."""
        if not data:
            return cls(latest=1)
        return cls(
            latest=int(data["latest"]) if data.get("latest") is not None else None,  # Struct: floats
            start=span_number(data["start"]) if data.get("start") is not None else None,
            end=span_number(data["end"]) if data.get("end") is not None else None,
        )

    def describe(self) -> str:
        """`latest 7` or `20261101..20261107`, for messages."""
        return f"latest {self.latest}" if self.latest is not None else f"{self.start}..{self.end}"


def span_number(value: float | str | datetime.date) -> int:
    """A span number from a config value: an int, or a date (days since 1970-01-01, as TFX)."""
    if isinstance(value, str):
        value = datetime.date.fromisoformat(value)
    if isinstance(value, datetime.date):
        return (value - _EPOCH).days
    return int(value)


def span_date(span: int) -> datetime.date:
    """The date of a date pattern's span number (TFX's `span_number_to_date`)."""
    return _EPOCH + datetime.timedelta(days=span)


@dataclasses.dataclass(frozen=True)
class SpanFiles:
    """The files of one span at its highest version."""

    span: int
    version: int | None
    files: tuple[str, ...]


def spans_of(pattern: str, paths: Iterable[str]) -> dict[int, SpanFiles]:
    """Groups the paths a pattern's wildcard glob matched by span, keeping the highest version.

    Args:
        pattern: A full path pattern with span specs (`.../day={SPAN}/*.gz`).
        paths: Paths matched by `wildcard(pattern)`.

    Returns:
        By span number, that span's files at its highest version, sorted.
    """
    matcher = _matcher(pattern)
    found: dict[int, dict[int | None, list[str]]] = {}
    for path in paths:
        match = matcher.fullmatch(path)
        if match is None:
            continue  # the glob's `*` matched where a spec needs digits
        groups = match.groupdict()
        if "span" in groups:
            span = int(groups["span"])
        else:
            try:
                date = datetime.date(int(groups["year"]), int(groups["month"]), int(groups["day"]))
            except ValueError as error:
                raise SpanError(
                    f"{path} matches span pattern {pattern} but its date is invalid: {error}"
                ) from error
            span = span_number(date)
        version = int(groups["version"]) if "version" in groups else None
        found.setdefault(span, {}).setdefault(version, []).append(path)
    result = {}
    for span, versions in found.items():
        version = max(versions, key=lambda v: -1 if v is None else v)
        result[span] = SpanFiles(span, version, tuple(sorted(versions[version])))
    return result


def select(available: Mapping[int, SpanFiles], rule: SpanRule, pattern: str) -> list[SpanFiles]:
    """The spans `rule` picks from `available`, oldest first.

    Raises:
        SpanError: No span matches, fewer than `latest` exist, or a span of the range has no
            files; the message names the pattern and the spans found.
    """
    spans = sorted(available)
    if not spans:
        raise SpanError(f"span pattern {pattern} matches no span (no file matches {wildcard(pattern)})")
    shown = ", ".join(str(span) for span in spans[-10:]) + (" ..." if len(spans) > 10 else "")
    if rule.latest is not None:
        if len(spans) < rule.latest:
            raise SpanError(
                f"data.spans.latest is {rule.latest} but only {len(spans)} span(s) match {pattern}: {shown}"
            )
        chosen = spans[-rule.latest :]
    else:
        assert rule.start is not None and rule.end is not None
        chosen = list(range(rule.start, rule.end + 1))
        missing = [span for span in chosen if span not in available]
        if missing:
            raise SpanError(
                f"data.spans {rule.describe()}: span(s) {', '.join(map(str, missing[:10]))} of {pattern} "
                f"have no files (spans found: {shown})"
            )
    return [available[span] for span in chosen]
