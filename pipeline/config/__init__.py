"""The pipeline configuration: one YAML file, one typed, validated dataclass tree.

Every runner (local, Kubeflow, Vertex) builds the same pipeline from a
`PipelineConfig`, so what a run did is fully described by one file plus the
`--set` overrides given on the command line. Relative paths are resolved against
the current working directory when the config is loaded (the repository root for
`make run`), and stored absolute, so the MLMD record of a run is unambiguous.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any, Literal

import yaml

from lightrank.errors import ConfigError
from lightrank.models.settings import ModelConfig
from lightrank.models.yaml_loader import load_yaml
from lightrank.pipeline.config.cloud import (
    BigQueryConfig,
    CloudConfig,
    DataflowConfig,
    VertexServingConfig,
    VertexTrainingConfig,
)
from lightrank.pipeline.config.loader import apply_overrides, from_mapping, to_mapping

#: The config `make run` and every command use by default: the embedded sample data.
SAMPLE_CONFIG = str(Path(__file__).resolve().parents[1] / "configs" / "sample.yaml")


def _is_remote(path: str) -> bool:
    return "://" in path


def _absolute(path: str) -> str:
    return path if not path or _is_remote(path) else os.path.abspath(os.path.expanduser(path))


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the candidates are and how requests are split into train and eval.

    Attributes:
        path: Directory of gzipped TFRecord files of `tf.Example` candidates
            (every file in it is read), or a local or `gs://` glob.
        train_buckets: Hash buckets of the request key that go to `train`.
        eval_buckets: Hash buckets that go to `eval`. Splitting hashes the
            request key, so all candidates of one request land in one split and
            the grouped per-request metrics see whole requests.
    """

    path: str
    train_buckets: int = 4
    eval_buckets: int = 1

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("data.path is empty: point it at a directory of TFRecord files")
        if self.train_buckets < 1 or self.eval_buckets < 1:
            raise ValueError("data.train_buckets and data.eval_buckets must both be >= 1")


@dataclasses.dataclass(frozen=True)
class SchemaConfig:
    """The curated schema and the feature spec (the single source of truth for features)."""

    path: str
    feature_spec: str


@dataclasses.dataclass(frozen=True)
class MySQLConfig:
    """A shared ML Metadata store; the password is read from an environment variable."""

    host: str
    database: str
    port: int = 3306
    user: str = "root"
    password_env: str = "LIGHTRANK_MLMD_PASSWORD"


@dataclasses.dataclass(frozen=True)
class MetadataConfig:
    """Which ML Metadata store records the runs: local SQLite (default) or MySQL."""

    sqlite: str | None = None
    mysql: MySQLConfig | None = None

    def __post_init__(self) -> None:
        if (self.sqlite is None) == (self.mysql is None):
            raise ValueError("metadata needs exactly one of 'sqlite' (a file path) or 'mysql'")


@dataclasses.dataclass(frozen=True)
class ThresholdConfig:
    """A quality gate on one metric: an absolute bound and/or a change bound.

    A change bound compares with the last blessed model; the first run of a
    pipeline has none and is blessed on the absolute bounds alone.
    """

    lower_bound: float | None = None
    upper_bound: float | None = None
    change: Literal["higher_is_better", "lower_is_better"] | None = None
    absolute: float | None = None
    relative: float | None = None

    def __post_init__(self) -> None:
        if self.lower_bound is None and self.upper_bound is None and self.change is None:
            raise ValueError("a threshold needs lower_bound, upper_bound or change")
        if self.change is not None and self.absolute is None and self.relative is None:
            raise ValueError("a change threshold needs 'absolute' or 'relative'")


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """What the Evaluator measures and which gates a model must pass to be pushed.

    Attributes:
        thresholds: Gates by metric name (see docs/evaluation.md for the names).
        slices: Feature-key lists to slice by, e.g. `[[candidate.source]]`.
        compare_to_baseline: Resolve the last blessed model and apply change
            thresholds against it. Set to false explicitly to start a new
            baseline (e.g. after a schema change); it is never dropped silently.
    """

    thresholds: dict[str, ThresholdConfig] = dataclasses.field(
        default_factory=lambda: {"auc_unweighted": ThresholdConfig(lower_bound=0.5)}
    )
    slices: list[list[str]] = dataclasses.field(default_factory=list)
    compare_to_baseline: bool = True

    def __post_init__(self) -> None:
        if not self.thresholds:
            raise ValueError(
                "evaluation.thresholds is empty: without a threshold TFX writes no blessing "
                "and nothing could ever be pushed"
            )


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Everything one pipeline run needs.

    Attributes:
        name: Pipeline name; the MLMD `pipeline` context and the run history
            are keyed by it.
        root: Pipeline root: where every component writes its artifacts.
        serving_dir: Where the Pusher writes versioned (timestamped) models.
        data, schema, metadata, model, evaluation: See their classes.
        beam_args: Apache Beam pipeline arguments for the data components.
        enable_cache: Reuse component outputs whose inputs did not change.
        cloud: Vertex AI / Kubeflow Pipelines settings; None (the default) for
            purely local use.
    """

    name: str
    root: str
    serving_dir: str
    data: DataConfig
    schema: SchemaConfig
    metadata: MetadataConfig
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    evaluation: EvaluationConfig = dataclasses.field(default_factory=EvaluationConfig)
    beam_args: list[str] = dataclasses.field(
        default_factory=lambda: ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    )
    enable_cache: bool = True
    cloud: CloudConfig | None = None

    def to_dict(self) -> dict[str, Any]:
        """A plain mapping that `from_dict` turns back into an equal config."""
        return to_mapping(self)

    def digest(self) -> str:
        """A short, stable fingerprint of the effective config (recorded in MLMD)."""
        text = yaml.safe_dump(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _resolve_paths(config: PipelineConfig) -> PipelineConfig:
    metadata = config.metadata
    if metadata.sqlite is not None:
        metadata = dataclasses.replace(metadata, sqlite=_absolute(metadata.sqlite))
    model = config.model
    if model.warm_start_from is not None:
        model = dataclasses.replace(model, warm_start_from=_absolute(model.warm_start_from))
    return dataclasses.replace(
        config,
        model=model,
        root=_absolute(config.root),
        serving_dir=_absolute(config.serving_dir),
        data=dataclasses.replace(config.data, path=_absolute(config.data.path)),
        schema=SchemaConfig(
            path=_absolute(config.schema.path), feature_spec=_absolute(config.schema.feature_spec)
        ),
        metadata=metadata,
    )


def from_dict(data: dict[str, Any], *, source: str = "") -> PipelineConfig:
    """Validates a raw mapping into a `PipelineConfig` with absolute local paths."""
    config = from_mapping(PipelineConfig, data, source=source)
    from lightrank.models.settings import validate_model_config

    validate_model_config(config.model, source=source)
    return _resolve_paths(config)


def load_config(path: str | Path, overrides: list[str] | None = None) -> PipelineConfig:
    """Loads a pipeline config file, applies `key=value` overrides, validates it.

    Raises:
        ConfigError: The file is missing or not YAML, or any key or value is
            invalid; the message names the file and the key.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = load_yaml(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of sections, got {type(data).__name__}")
    data = apply_overrides(data, overrides or [])
    return from_dict(data, source=str(path))


__all__ = [
    "BigQueryConfig",
    "CloudConfig",
    "ConfigError",
    "DataConfig",
    "DataflowConfig",
    "EvaluationConfig",
    "MetadataConfig",
    "ModelConfig",
    "MySQLConfig",
    "PipelineConfig",
    "SchemaConfig",
    "ThresholdConfig",
    "VertexServingConfig",
    "VertexTrainingConfig",
    "from_dict",
    "load_config",
]
