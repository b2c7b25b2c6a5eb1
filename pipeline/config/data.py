"""The config's `data` section: where the candidates are, how they split, which spans a run reads.

Two shapes (docs/own_data.md):
- one source, `path`, whose requests are hashed on the request key into `train` and `eval`
  (so a request is never cut in two), as the sample does;
- named splits, `splits: {train: GLOB, eval: GLOB, ...}`, read as they are: data already
  split by time. `train` trains and `eval` decides early stopping, the gates and the
  blessing; any other split (a `test`, say) is read, checked and transformed, never used to
  train or gate.
Either may hold span specs (`{SPAN}`, or `{YYYY}`/`{MM}`/`{DD}`, optionally `{VERSION}`);
`spans` then says which spans a run reads (components/spans.py).
"""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Literal

from pydantic import Field, model_validator

from lightrank.components.spans import SpanError, check_pattern, has_span
from lightrank.models.config_model import ConfigModel

#: The splits every run needs: one to train on, one to stop early, gate and bless on.
TRAIN, EVAL = "train", "eval"
_SPLIT_NAME = re.compile(r"[a-z][a-z0-9_]*")
#: A span number, or a date for date patterns (also as an ISO string: the recorded config's form).
_SpanNumber = int | Annotated[datetime.date, Field(strict=False)]


class SpansConfig(ConfigModel):
    """Which spans a run reads, when the data's patterns name spans.

    Attributes:
        latest: The newest N spans (a rolling window).
        start: First span of a fixed range: a span number, or a date for date patterns.
        end: Last span of the range (inclusive).
        eval: `hash` (default): requests of every span read are hashed into train and eval;
            `newest`: the newest span is the eval split and the older ones train. Only with
            `data.path`.
    """

    latest: int | None = Field(default=None, ge=1)
    start: _SpanNumber | None = None
    end: _SpanNumber | None = None
    eval: Literal["hash", "newest"] = "hash"

    @model_validator(mode="after")
    def _check(self) -> SpansConfig:
        ranged = self.start is not None or self.end is not None
        if (self.latest is None) == (not ranged) or (ranged and (self.start is None or self.end is None)):
            raise ValueError("data.spans needs either 'latest: N' or both 'start' and 'end'")
        if ranged and type(self.start) is not type(self.end):
            raise ValueError("data.spans.start and end must both be span numbers or both dates")
        if ranged and self.start > self.end:  # type: ignore[operator]
            raise ValueError(f"data.spans.start {self.start} is after end {self.end}")
        single = self.latest == 1 or (ranged and self.start == self.end)
        if self.eval == "newest" and single:
            raise ValueError(
                "data.spans.eval is newest: it needs two spans or more (one evaluates, the rest train)"
            )
        return self

    def as_rule(self) -> dict[str, int | str]:
        """The rule as plain values for the ExampleGen executor (dates as ISO strings)."""
        values = {"latest": self.latest, "start": self.start, "end": self.end}
        return {
            key: value.isoformat() if isinstance(value, datetime.date) else value
            for key, value in values.items()
            if value is not None
        }


class DataConfig(ConfigModel):
    """Where the candidates are and how they split into train and eval.

    Attributes:
        path: One source: a directory of gzipped TFRecord files of `tf.Example`
            candidates (every file in it), or a local or `gs://` glob. Its requests are
            hashed into train and eval.
        splits: Named splits instead of `path`: split name -> glob, read as they are. Must
            name `train` and `eval`.
        train_buckets: With `path`: hash buckets of the request key that go to `train`.
        eval_buckets: With `path`: hash buckets that go to `eval`. Splitting hashes the
            request key, so all candidates of one request land in one split and the grouped
            per-request metrics see whole requests.
        spans: Which spans a run reads when the patterns hold span specs; without it, the
            newest span (as TFX's ImportExampleGen reads).
    """

    path: str | None = None
    splits: dict[str, str] | None = None
    train_buckets: int = 4
    eval_buckets: int = 1
    spans: SpansConfig | None = None

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        if (self.path is None) == (self.splits is None):
            raise ValueError(
                "data needs exactly one of 'path' (hashed into train/eval) or 'splits' (named globs)"
            )
        if self.path is not None and not self.path:
            raise ValueError("data.path is empty: point it at a directory of TFRecord files")
        if self.splits is not None:
            self._check_splits(self.splits)
        if self.train_buckets < 1 or self.eval_buckets < 1:
            raise ValueError("data.train_buckets and data.eval_buckets must both be >= 1")
        for pattern in self.patterns.values():
            try:
                check_pattern(pattern)
            except SpanError as error:
                raise ValueError(str(error)) from error
        spanned = [has_span(pattern) for pattern in self.patterns.values()]
        if self.spans is not None and not any(spanned):
            raise ValueError("data.spans is set but no data pattern has {SPAN} or {YYYY}{MM}{DD}")
        if any(spanned) and not all(spanned):
            raise ValueError("data.splits: either every split's glob names its span, or none")
        if self.spans is not None and self.spans.eval == "newest" and self.splits is not None:
            raise ValueError("data.spans.eval: newest needs data.path; named splits say their own eval data")
        return self

    def _check_splits(self, splits: dict[str, str]) -> None:
        given = self.model_fields_set & {"train_buckets", "eval_buckets"}
        if given:
            raise ValueError(
                f"data.{sorted(given)[0]} hashes data.path; named data.splits are read as they are"
            )
        missing = [name for name in (TRAIN, EVAL) if name not in splits]
        if missing:
            raise ValueError(f"data.splits needs '{TRAIN}' and '{EVAL}'; missing: {', '.join(missing)}")
        for name, pattern in splits.items():
            if not _SPLIT_NAME.fullmatch(name):
                raise ValueError(
                    f"data.splits: split name {name!r} must be lowercase letters, digits and '_'"
                )
            if not pattern:
                raise ValueError(f"data.splits.{name} is empty: give a glob of TFRecord files")

    @property
    def patterns(self) -> dict[str, str]:
        """Every input pattern by name: the named splits, or `{"all": path}`."""
        return dict(self.splits) if self.splits is not None else {"all": self.path or ""}

    @property
    def has_spans(self) -> bool:
        """Whether the patterns name spans (so `SpanExampleGen` reads them)."""
        return any(has_span(pattern) for pattern in self.patterns.values())

    @property
    def split_names(self) -> list[str]:
        """The splits ExampleGen writes: `train`, `eval`, then any other named split, sorted."""
        others = sorted(set(self.splits or ()) - {TRAIN, EVAL})
        return [TRAIN, EVAL, *others]

    def describe(self) -> str:
        """One line for the run's header: the path, or the splits."""
        if self.splits is None:
            return str(self.path)
        return ", ".join(f"{name} {pattern}" for name, pattern in self.splits.items())
