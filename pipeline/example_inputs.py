"""What ExampleGen reads and writes, from the config's `data` section.

One place turns `data.path` / `data.splits` / `data.spans` (pipeline/config/data.py) into
ImportExampleGen's `input_base`, input and output configs, and, for span patterns, the
`SpanExampleGen` settings; the pipeline, the Kubeflow runner (its `data_root` parameter
replaces `input_base`) and the preflight all read it from here, so they agree on which
files a run reads.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from tfx.proto import example_gen_pb2

from lightrank.components.span_example_gen import NEWEST_EVALUATES, SPLITS, custom_config
from lightrank.components.spans import wildcard
from lightrank.pipeline.config.data import EVAL, TRAIN, DataConfig
from lightrank.pipeline.io import GLOB_CHARACTERS, is_glob

#: ImportExampleGen's name for the one input split that is hashed into train and eval.
SINGLE_SPLIT = "single_split"


@dataclasses.dataclass(frozen=True)
class ExampleInputs:
    """ImportExampleGen's arguments for one config.

    Attributes:
        input_base: The directory every pattern is relative to.
        patterns: By input split, its pattern relative to `input_base`, span specs kept.
        hashed: Whether one input is hashed on the request key into train and eval.
        span_settings: For span patterns, what `SpanExampleGen` resolves at run time; None
            for plain globs (TFX's own executor reads them).
    """

    input_base: str
    patterns: dict[str, str]
    hashed: bool
    span_settings: dict[str, Any] | None

    def input_config(self) -> example_gen_pb2.Input:
        """The input splits; span specs become `*`, so TFX's driver fingerprints every span."""
        return example_gen_pb2.Input(
            splits=[
                example_gen_pb2.Input.Split(name=name, pattern=wildcard(pattern))
                for name, pattern in self.patterns.items()
            ]
        )

    def output_config(
        self, request_key: str, train_buckets: int, eval_buckets: int
    ) -> example_gen_pb2.Output:
        """Hash buckets of the request key (so requests are never cut in two), or the input splits."""
        if not self.hashed:
            return example_gen_pb2.Output()
        return hashed_output_config(request_key, train_buckets, eval_buckets)

    def custom_config(self) -> example_gen_pb2.CustomConfig | None:
        """`SpanExampleGen`'s settings, or None when TFX's executor reads plain globs."""
        if self.span_settings is None:
            return None
        return custom_config(**self.span_settings)


def hashed_output_config(request_key: str, train_buckets: int, eval_buckets: int) -> example_gen_pb2.Output:
    """Train/eval by hashing the request key: all candidates of a request land in one split."""
    return example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[
                example_gen_pb2.SplitConfig.Split(name=TRAIN, hash_buckets=train_buckets),
                example_gen_pb2.SplitConfig.Split(name=EVAL, hash_buckets=eval_buckets),
            ],
            partition_feature_name=request_key,
        )
    )


def static_directory(pattern: str) -> str:
    """The directory a pattern's files are under: its components before any glob or span spec."""
    parts = _static_parts(pattern)
    if len(parts) == len(pattern.rstrip("/").split("/")):
        return pattern  # no pattern at all: a directory (or a file)
    return "/".join(parts) or "/"


def _static_parts(path: str) -> list[str]:
    """The leading path components with no glob character and no span spec."""
    parts = path.rstrip("/").split("/")
    for index, part in enumerate(parts):
        if any(ch in part for ch in GLOB_CHARACTERS) or "{" in part:
            return parts[:index]
    return parts


def _base_and_patterns(globs: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The longest common static directory of the globs, and each glob relative to it."""
    static = [_static_parts(glob) for glob in globs.values()]
    common: list[str] = []
    for parts in zip(*static, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    # A glob that is a directory reads every file in it; its base is its parent at most.
    if any(len(common) == len(glob.rstrip("/").split("/")) for glob in globs.values()):
        common = common[:-1]
    base = "/".join(common) or "/"
    prefix = len(base.rstrip("/")) + 1
    patterns = {}
    for name, glob in globs.items():
        relative = glob.rstrip("/")[prefix:]
        directory = not is_glob(glob) and "{" not in os.path.basename(glob.rstrip("/"))
        patterns[name] = f"{relative}/*" if directory else relative
    return base, patterns


def plan_inputs(data: DataConfig) -> ExampleInputs:
    """ImportExampleGen's input base, splits and span settings for a `data` section."""
    if data.splits is None:
        path = data.path or ""
        if is_glob(path) or data.has_spans:
            base, patterns = _base_and_patterns({SINGLE_SPLIT: path})
        else:
            base, patterns = path.rstrip("/"), {SINGLE_SPLIT: "*"}
        newest = data.spans is not None and data.spans.eval == "newest"
        if newest:
            patterns = {TRAIN: patterns[SINGLE_SPLIT], EVAL: patterns[SINGLE_SPLIT]}
        route = NEWEST_EVALUATES if newest else SPLITS
    else:
        ordered = {name: data.splits[name] for name in data.split_names}
        base, patterns = _base_and_patterns(ordered)
        route = SPLITS
    settings = None
    if data.has_spans:
        settings = {
            "patterns": patterns,
            "spans": data.spans.as_rule() if data.spans else None,
            "route": route,
        }
    return ExampleInputs(
        input_base=base,
        patterns=patterns,
        hashed=data.splits is None and route != NEWEST_EVALUATES,
        span_settings=settings,
    )


def split_files(data: DataConfig) -> dict[str, list[str]]:
    """The files each input split of a local `data` section reads, as the run will read them.

    Raises:
        SpanError: A span pattern matches no span, or not the spans `data.spans` asks for.
    """
    import glob as globbing

    from lightrank.components.span_example_gen import resolve_split_files

    inputs = plan_inputs(data)
    if inputs.span_settings is not None:
        resolved = resolve_split_files(inputs.input_base, inputs.span_settings)
        return {split: [path for read in reads for path in read.files] for split, reads in resolved.items()}
    return {
        split: sorted(
            path for path in globbing.glob(os.path.join(inputs.input_base, pattern)) if os.path.isfile(path)
        )
        for split, pattern in inputs.patterns.items()
    }
