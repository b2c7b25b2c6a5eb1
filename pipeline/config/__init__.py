"""The pipeline configuration: one YAML file, one strict, frozen pydantic model tree.

Every runner (local, Kubeflow, Vertex) builds the same pipeline from a
`PipelineConfig`, so what a run did is fully described by one file plus the
`--set` overrides given on the command line. Relative paths are resolved against
the current working directory when the config is loaded (the repository root for
`make run`), and stored absolute, so the ML Metadata record of a run is unambiguous
(docs/configuration.md).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from lightrank.errors import ConfigError
from lightrank.models.config_model import ConfigModel, config_error
from lightrank.models.paths import is_remote
from lightrank.models.settings import ModelConfig
from lightrank.models.tuning.space import TuningConfig
from lightrank.models.yaml_loader import load_yaml
from lightrank.pipeline.config.cloud import (
    BigQueryConfig,
    CloudConfig,
    DataflowConfig,
    VertexServingConfig,
    VertexTrainingConfig,
)
from lightrank.pipeline.config.data import DataConfig, SpansConfig
from lightrank.pipeline.config.loader import apply_overrides

#: The config `make run` and every command use by default: the embedded sample data.
SAMPLE_CONFIG = str(Path(__file__).resolve().parents[1] / "configs" / "sample.yaml")


class SchemaConfig(ConfigModel):
    """The curated schema and the feature spec (the single source of truth for features)."""

    path: str
    feature_spec: str


class MySQLConfig(ConfigModel):
    """A shared ML Metadata store; the password is read from an environment variable."""

    host: str
    database: str
    port: int = 3306
    user: str = "root"
    password_env: str = "LIGHTRANK_MLMD_PASSWORD"


class MetadataConfig(ConfigModel):
    """Which ML Metadata store records the runs: local SQLite (default) or MySQL."""

    sqlite: str | None = None
    mysql: MySQLConfig | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> MetadataConfig:
        if (self.sqlite is None) == (self.mysql is None):
            raise ValueError("metadata needs exactly one of 'sqlite' (a file path) or 'mysql'")
        return self


class ThresholdConfig(ConfigModel):
    """A quality gate on one metric: an absolute bound and/or a change bound.

    A change bound compares with the last blessed model; the first run of a
    pipeline has none and is blessed on the absolute bounds alone.
    """

    lower_bound: float | None = None
    upper_bound: float | None = None
    change: Literal["higher_is_better", "lower_is_better"] | None = None
    absolute: float | None = None
    relative: float | None = None

    @model_validator(mode="after")
    def _check(self) -> ThresholdConfig:
        if self.lower_bound is None and self.upper_bound is None and self.change is None:
            raise ValueError("a threshold needs lower_bound, upper_bound or change")
        if self.change is not None and self.absolute is None and self.relative is None:
            raise ValueError("a change threshold needs 'absolute' or 'relative'")
        return self


class EvaluationConfig(ConfigModel):
    """What the Evaluator measures and which gates a model must pass to be pushed.

    Attributes:
        thresholds: Gates by metric name (see docs/evaluation.md for the names).
        slices: Feature-key lists to slice by, e.g. `[[candidate.source]]`.
        compare_to_baseline: Resolve the last blessed model and apply change
            thresholds against it. Set to false explicitly to start a new
            baseline (e.g. after a schema change); it is never dropped silently.
        grouped: The cut-offs of the grouped (per-request) metrics, see `GroupedConfig`.
    """

    class GroupedConfig(ConfigModel):
        """Which cut-offs the grouped light-ranking metrics use (docs/evaluation.md, Metrics).

        How much of the heavy ranker's top K survives the light ranker's top N depends on the
        serving funnel, so the (N, K) grid is configurable. A threshold on a grouped metric is
        valid only for an N and K listed here (`config/names.py`).

        Attributes:
            light_n: The light ranker's top N kept. Each N gets `cgr_atLight_{N}_atHeavy_{K}`
                for every K, `recall_atLight_{N}_atHeavy_{K}` for every K <= N, and
                `expected_loss_atLight_{N}`.
            heavy_k: The heavy (reference) ranker's top K that CGR and recall measure
                against. NDCG is always `ndcg_at_10`, whatever the two lists hold.

        The defaults are `DEFAULT_N_VALUES` and `DEFAULT_K_VALUES` of
        `models/metrics/grouped.py`, written out because loading a config must not import
        TFMA (a test keeps the two equal).
        """

        light_n: list[int] = Field(default_factory=lambda: [50, 100, 200])
        heavy_k: list[int] = Field(default_factory=lambda: [1, 3, 10, 20, 50])

        @model_validator(mode="after")
        def _check(self) -> EvaluationConfig.GroupedConfig:
            for key, values in (("light_n", self.light_n), ("heavy_k", self.heavy_k)):
                if not values or any(value <= 0 for value in values):
                    raise ValueError(
                        f"evaluation.grouped.{key} must be a non-empty list of positive integers, "
                        f"got {values}"
                    )
                repeated = sorted({value for value in values if values.count(value) > 1})
                if repeated:
                    raise ValueError(f"evaluation.grouped.{key} lists {repeated} more than once")
            return self

    thresholds: dict[str, ThresholdConfig] = Field(
        default_factory=lambda: {"auc_unweighted": ThresholdConfig(lower_bound=0.5)}
    )
    slices: list[list[str]] = Field(default_factory=list)
    compare_to_baseline: bool = True
    grouped: GroupedConfig = Field(default_factory=GroupedConfig)

    @model_validator(mode="after")
    def _gated(self) -> EvaluationConfig:
        if not self.thresholds:
            raise ValueError(
                "evaluation.thresholds is empty: without a threshold TFX writes no blessing "
                "and nothing could ever be pushed"
            )
        return self


# `schema` is the config's key (docs/configuration.md) and the attribute every caller reads; it
# shadows pydantic's deprecated `BaseModel.schema()`, which nothing here uses, so the warning
# pydantic gives for that once at import is not shown to every command.
warnings.filterwarnings(
    "ignore", message='Field name "schema" in "PipelineConfig" shadows', category=UserWarning
)


class PipelineConfig(ConfigModel):
    """Everything one pipeline run needs.

    `model_dump(mode="json")` is its plain, JSON-safe form (recorded in ML Metadata by
    `components/run_settings.py`); `from_dict` turns it back into an equal config.

    Attributes:
        name: Pipeline name; the MLMD `pipeline` context and the run history
            are keyed by it.
        root: Pipeline root: where every component writes its artifacts.
        serving_dir: Where the Pusher writes versioned (timestamped) models.
        data, schema, metadata, model, evaluation: See their classes.
        tuning: The hyperparameter search TFX's Tuner runs before the Trainer
            (`TuningConfig`); None (the default) trains the model section's settings as given.
        beam_args: Apache Beam pipeline arguments for the data components.
        enable_cache: Reuse component outputs whose inputs did not change.
        cloud: Vertex AI / Kubeflow Pipelines settings; None (the default) for
            purely local use.
    """

    name: str
    root: str
    serving_dir: str
    data: DataConfig
    schema: SchemaConfig  # see the warnings filter above
    metadata: MetadataConfig
    model: ModelConfig = Field(default_factory=ModelConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    tuning: TuningConfig | None = None
    beam_args: list[str] = Field(
        default_factory=lambda: ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    )
    enable_cache: bool = True
    cloud: CloudConfig | None = None

    def digest(self) -> str:
        """A short, stable fingerprint of the effective config (recorded in MLMD).

        Keys added to the config after runs were recorded (`_LATER_KEYS`) are left out while
        they hold their default, so a config that does not use them keeps its digest.
        """
        values = self.model_dump(mode="json")
        required = {key: values[key] for key in ("name", "root", "serving_dir", "schema", "metadata")}
        defaults = PipelineConfig.model_validate({**required, "data": {"path": "-"}}).model_dump(mode="json")
        for section, key in _LATER_KEYS:
            if key in values[section] and values[section][key] == defaults[section].get(key):
                del values[section][key]
        for section in _LATER_SECTIONS:
            if values.get(section) is None:
                values.pop(section, None)
        text = yaml.safe_dump(values, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


#: (section, key) pairs added after the digest was first pinned (see `PipelineConfig.digest`).
_LATER_KEYS = (
    ("data", "splits"),
    ("data", "spans"),
    ("evaluation", "grouped"),
    ("model", "calibration"),
    ("model", "scale_with_data"),
)
#: Optional top-level sections added after the digest was first pinned, left out while unset.
_LATER_SECTIONS = ("tuning",)


def _absolute(path: str) -> str:
    return path if not path or is_remote(path) else os.path.abspath(os.path.expanduser(path))


def _absolute_data(data: DataConfig) -> DataConfig:
    if data.splits is not None:
        return data.model_copy(
            update={"splits": {name: _absolute(glob) for name, glob in data.splits.items()}}
        )
    return data.model_copy(update={"path": _absolute(data.path or "")})


def from_dict(data: dict[str, Any], *, source: str = "") -> PipelineConfig:
    """Validates a raw mapping into a `PipelineConfig` with absolute local paths.

    Raises:
        ConfigError: A key or value is invalid; one line naming the key and `source`.
    """
    try:
        config = PipelineConfig.model_validate(data)
    except ValidationError as error:
        raise config_error(error, PipelineConfig, source) from error
    model, metadata = config.model, config.metadata
    if model.warm_start_from is not None:
        model = model.model_copy(update={"warm_start_from": _absolute(model.warm_start_from)})
    if metadata.sqlite is not None:
        metadata = metadata.model_copy(update={"sqlite": _absolute(metadata.sqlite)})
    return config.model_copy(
        update={
            "root": _absolute(config.root),
            "serving_dir": _absolute(config.serving_dir),
            "data": _absolute_data(config.data),
            "schema": SchemaConfig(
                path=_absolute(config.schema.path), feature_spec=_absolute(config.schema.feature_spec)
            ),
            "metadata": metadata,
            "model": model,
        }
    )


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
    return from_dict(apply_overrides(data, overrides or []), source=str(path))


__all__ = [
    "SAMPLE_CONFIG",
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
    "SpansConfig",
    "ThresholdConfig",
    "TuningConfig",
    "VertexServingConfig",
    "VertexTrainingConfig",
    "from_dict",
    "load_config",
]
