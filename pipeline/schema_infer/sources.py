"""The `--data` arguments of `lightrank schema infer`: which files, and in which named split.

`--data GLOB` once becomes the config's `data.path` (the pipeline hashes requests 80/20);
`--data train=GLOB --data eval=GLOB` becomes `data.splits`, read as given. A path means what it
means everywhere else (`lightrank.pipeline.io`): a directory stands for every file in it, a
last part with a glob character is a pattern, and a single file is refused, because the
pipeline's ExampleGen reads directories and patterns only.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
from collections.abc import Sequence

from lightrank.errors import shorten
from lightrank.models.paths import is_remote
from lightrank.pipeline.io import split_pattern
from lightrank.pipeline.schema_infer import SchemaInferError

#: What reads as a split name before `=` in `--data NAME=GLOB`; anything else is a plain path.
_NAMED = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
#: A split name the config accepts (`data.splits`): lower-case letters, digits and '_'.
SPLIT_NAME = re.compile(r"[a-z][a-z0-9_]*")
#: The splits a named input must have: the pipeline trains on one and evaluates on the other.
REQUIRED_SPLITS = ("train", "eval")


@dataclasses.dataclass(frozen=True)
class DataSource:
    """One `--data` argument and the files it stands for.

    Attributes:
        split: The split name of `--data NAME=GLOB`, or None for a plain `--data GLOB`.
        pattern: The path or glob exactly as given, so the config repeats what the user typed.
        files: The files it matches, sorted.
    """

    split: str | None
    pattern: str
    files: tuple[str, ...]

    @property
    def label(self) -> str:
        """The argument as given: `train=data/x/*.gz` or `data/x/*.gz`."""
        return self.pattern if self.split is None else f"{self.split}={self.pattern}"


def _parse(value: str) -> tuple[str | None, str]:
    name, sep, pattern = value.partition("=")
    if not sep or not _NAMED.fullmatch(name):
        return None, value
    if not SPLIT_NAME.fullmatch(name):
        raise SchemaInferError(f"--data {value}: a split name is lower-case letters, digits and '_'")
    if not pattern:
        raise SchemaInferError(f"--data {value}: the split {name!r} names no path")
    return name, pattern


def local_files_matching(path: str) -> list[str]:
    """The files a directory or glob stands for, sorted; a single file is refused, as the pipeline does.

    Raises:
        SchemaInferError: `path` is a file.
    """
    if os.path.isfile(path):
        raise SchemaInferError(
            f"--data {shorten(path)} is a file; give its directory or a glob (the pipeline's "
            "ImportExampleGen reads every file of a directory, or those a pattern matches)"
        )
    return sorted(match for match in glob.glob(os.path.join(*split_pattern(path))) if os.path.isfile(match))


def resolve_sources(values: Sequence[str]) -> tuple[DataSource, ...]:
    """The files of every `--data` argument, checked for what a config can express.

    Args:
        values: The `--data` arguments, in order.

    Returns:
        One `DataSource` per argument, in order.

    Raises:
        SchemaInferError: Plain and named arguments are mixed, several plain ones are given,
            a split is named twice, `train` or `eval` is missing, a path is remote, a path
            matches no file or is a file, or two arguments match one file; the message names
            the argument.
    """
    parsed = [_parse(value) for value in values]
    names = [name for name, _ in parsed]
    if any(name is None for name in names):
        if len(parsed) > 1:
            raise SchemaInferError(
                "give one --data GLOB (the pipeline splits its requests 80/20), or name every split: "
                "--data train=GLOB --data eval=GLOB"
            )
    else:
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise SchemaInferError(f"--data names the split {repeated[0]!r} twice")
        missing = [split for split in REQUIRED_SPLITS if split not in names]
        if missing:
            raise SchemaInferError(
                f"named --data splits must include {' and '.join(REQUIRED_SPLITS)}; "
                f"missing: {', '.join(missing)}"
            )
    sources = []
    for name, pattern in parsed:
        if is_remote(pattern):
            raise SchemaInferError(
                f"--data {shorten(pattern)}: schema infer reads local files only; copy a sample of "
                "the data here and point the config at the remote path afterwards"
            )
        files = local_files_matching(pattern)
        if not files:
            raise SchemaInferError(f"--data {shorten(pattern)} matches no file")
        sources.append(DataSource(name, pattern, tuple(files)))
    seen: dict[str, DataSource] = {}
    for source in sources:
        for path in source.files:
            if path in seen:
                raise SchemaInferError(
                    f"{shorten(path)} is matched by both --data {shorten(seen[path].label)} and "
                    f"--data {shorten(source.label)}; each file must be read once"
                )
            seen[path] = source
    return tuple(sources)


def is_named(sources: Sequence[DataSource]) -> bool:
    """Whether the sources are named splits (the config's `data.splits`) rather than one path."""
    return bool(sources) and sources[0].split is not None
