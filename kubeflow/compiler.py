"""`lightrank compile`: the same `create_pipeline(config)` as a Vertex AI or Kubeflow Pipelines v2 spec.

KubeflowV2DagRunner turns the TFX pipeline into a KFP `PipelineSpec`: a
`PipelineJob` JSON for Vertex AI Pipelines, the bare `PipelineSpec` YAML for
Kubeflow Pipelines. This module adds what the runner leaves out or leaves to
fail later, in the cloud:

- checks first: resolver strategies the V2 compiler rejects, resolvers on open-source
  Kubeflow (its backend has no resolver executor), local paths a cloud run cannot read
  (with a `cloud:` section, or when submitting, errors; otherwise one warning line, so the
  sample config still compiles for `lightrank run-spec`), a pipeline name the target
  rejects (always an error: no spec can be built with it);
- the run parameters' defaults and descriptions, which TFX 1.16 drops from the
  spec (without them every run would have to pass every value);
- a parse of the result with kfp-pipeline-spec's protobuf classes, so a spec the
  backend would reject never leaves this machine;
- an atomic write (no half-written spec on failure).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
from collections.abc import Mapping
from typing import Any, Literal

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx
from tfx.components import InfraValidator
from tfx.dsl.components.common import resolver
from tfx.orchestration.data_types import RuntimeParameter
from tfx.utils import deprecation_utils

from lightrank.errors import shorten
from lightrank.kubeflow.cloud import cloud_of, pipeline_image
from lightrank.kubeflow.errors import CompileError
from lightrank.kubeflow.run_parameters import collect_runtime_parameters
from lightrank.kubeflow.runner import runner_settings
from lightrank.kubeflow.ui_outputs import add_ui_outputs
from lightrank.pipeline.config import PipelineConfig
from lightrank.pipeline.config.names import check_config_names
from lightrank.pipeline.pipeline import create_pipeline

Target = Literal["vertex", "kubeflow"]
TARGETS: tuple[Target, ...] = ("vertex", "kubeflow")
#: The file each target is written as (KubeflowV2DagRunner's convention).
EXTENSIONS = {"vertex": (".json",), "kubeflow": (".yaml", ".yml")}
#: The only resolver strategies KubeflowV2DagRunner compiles (tfx/orchestration/kubeflow/v2/step_builder.py).
SUPPORTED_STRATEGIES = (
    tfx.dsl.experimental.LatestBlessedModelStrategy,
    tfx.dsl.experimental.LatestArtifactStrategy,
)
#: Vertex AI pipeline (and job id) names: lower-case letters, digits and hyphens.
_VERTEX_NAME = re.compile(r"^[a-z][a-z0-9-]{0,127}$")
#: What TFX's V2 pipeline builder accepts for either target (`pipeline_builder._check_name`).
_KFP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")


@dataclasses.dataclass(frozen=True)
class CompiledPipeline:
    """A compiled pipeline written to `path`.

    Attributes:
        path: The written file.
        target: `vertex` (PipelineJob JSON) or `kubeflow` (PipelineSpec YAML).
        image: The image every task runs.
        job: The PipelineJob as a dict (for `kubeflow`, only its `pipelineSpec` is written).
        parameters: The run parameters, by name.
        warnings: Problems that did not stop the compile, one line each (see `cloud_warnings`).
    """

    path: str
    target: Target
    image: str
    job: dict[str, Any]
    parameters: dict[str, RuntimeParameter]
    warnings: tuple[str, ...]

    @property
    def pipeline_spec(self) -> dict[str, Any]:
        """The KFP PipelineSpec."""
        return self.job["pipelineSpec"]


def _local_paths(config: PipelineConfig) -> dict[str, str]:
    """The config's paths a cloud task must read or write but that are not `gs://`, by key."""
    cloud = cloud_of(config)
    paths = {"root": config.root}
    if cloud.bigquery is None:
        key = "data.path" if config.data.splits is None else "data.splits"
        for name, pattern in config.data.patterns.items():
            paths[key if config.data.splits is None else f"{key}.{name}"] = pattern
    if cloud.vertex_serving is None:
        paths["serving_dir"] = config.serving_dir
    return {key: value for key, value in paths.items() if not value.startswith("gs://")}


def _other_problems(config: PipelineConfig) -> list[str]:
    training = cloud_of(config).vertex_training
    if training is not None and training.accelerator_type is not None:
        return [
            f"cloud.vertex_training.accelerator_type {training.accelerator_type} asks for a GPU, but the "
            "pipeline image has no CUDA libraries: the job would train on the CPU. Remove "
            "cloud.vertex_training.accelerator_type and accelerator_count (GPU training needs TensorFlow's "
            "CUDA wheels in the lock and the image)"
        ]
    return []


def cloud_problems(config: PipelineConfig, target: Target) -> list[str]:
    """What stops this config from running on `target`, one sentence each.

    Paths must be `gs://`: the workers cannot read this machine's disk, and the
    image's TensorFlow file system reaches no other remote store (`s3://` needs
    tensorflow-io, which is not in the lock; KFP's `minio://` none at all). Data
    and serving paths are not needed when BigQuery or a Vertex endpoint replaces
    them. A GPU for the Vertex AI training job is refused until a GPU image exists: the
    pipeline image has no CUDA libraries, so TensorFlow would quietly train on the
    CPU of an expensive accelerator machine. (The pipeline name is checked by
    `check_name`: a bad name is always an error, no spec can be built with it.)

    These are errors whenever the config has a `cloud` section (see `compile_pipeline`);
    otherwise `cloud_warnings` words them for the person compiling.
    """
    problems = [
        f"{key} {value} must be a gs:// location: {target} tasks cannot read this machine's disk, "
        "and the image reads no other remote store"
        for key, value in _local_paths(config).items()
    ]
    return problems + _other_problems(config)


def cloud_warnings(config: PipelineConfig, target: Target) -> list[str]:
    """The `cloud_problems` of a non-strict compile, the local paths in ONE line.

    A spec with local paths cannot run in the cloud but is still useful here: `lightrank
    run-spec` runs it task by task on this machine (docs/deploy.md, "Dry-run a compiled spec
    here"). So the compile goes on, and one line lists every local path and says so, instead of
    one warning per path that reads as three separate faults.
    """
    local = _local_paths(config)
    warnings = []
    if local:
        listed = ", ".join(f"{key} {value}" for key, value in local.items())
        warnings.append(
            f"local paths ({listed}): this {target} spec runs only with `lightrank run-spec` on this "
            "machine; set them to gs:// locations (or add a cloud: section) for a cloud run"
        )
    return warnings + _other_problems(config)


def check_name(config: PipelineConfig, target: Target) -> None:
    """The pipeline name must be one the target accepts, before anything is built.

    TFX's V2 pipeline builder raises a bare ValueError (with a broken format string) for
    `my_pipeline`, printed as a traceback; Vertex AI further wants a leading letter.

    Raises:
        CompileError: Naming the name and the rule.
    """
    if target == "vertex" and not _VERTEX_NAME.match(config.name):
        raise CompileError(
            f"name {shorten(config.name, 140)!r} is not a valid Vertex AI pipeline name (lower-case "
            "letters, digits and hyphens, starting with a letter, at most 128): e.g. --set name=my-pipeline"
        )
    if not _KFP_NAME.match(config.name):
        raise CompileError(
            f"name {shorten(config.name, 140)!r} is not a valid Kubeflow pipeline name (lower-case "
            "letters, digits and hyphens, at most 128): e.g. --set name=my-pipeline"
        )


def check_nodes(nodes: list[Any], target: Target) -> None:
    """Rejects nodes the compiler or the backend cannot run, naming them.

    Raises:
        CompileError: A resolver strategy KubeflowV2DagRunner does not support (it
            would raise a bare TypeError), an InfraValidator (no V2 support), or any
            resolver on open-source Kubeflow Pipelines, whose v2 backend fails such a
            run with "resolver executors not implemented".
    """
    for node in nodes:
        if isinstance(node, InfraValidator):
            raise CompileError(
                f"{node.id}: InfraValidator cannot be compiled for Vertex AI / Kubeflow Pipelines"
            )
        if not isinstance(node, resolver.Resolver):
            continue
        strategy = deprecation_utils.get_first_nondeprecated_class(
            node.exec_properties[resolver.RESOLVER_STRATEGY_CLASS]
        )
        if not issubclass(strategy, SUPPORTED_STRATEGIES):
            supported = ", ".join(s.__name__ for s in SUPPORTED_STRATEGIES)
            raise CompileError(
                f"{node.id}: resolver strategy {strategy.__name__} cannot be compiled for Vertex AI / "
                f"Kubeflow Pipelines (supported: {supported})"
            )
        if target == "kubeflow":
            raise CompileError(
                f"{node.id}: open-source Kubeflow Pipelines cannot run resolver tasks (its v2 backend "
                "rejects them: 'resolver executors not implemented'). Set "
                "evaluation.compare_to_baseline=false and model.warm_start=false for --target kubeflow "
                "(to warm start there, name the model in model.warm_start_from: an importer task), "
                "or use --target vertex"
            )


def add_parameter_defaults(spec: dict[str, Any], parameters: Mapping[str, RuntimeParameter]) -> None:
    """Writes each run parameter's default and description into the spec's root inputs."""
    definitions = spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    for name, parameter in parameters.items():
        definition = definitions[name]
        definition["defaultValue"] = parameter.default
        definition["isOptional"] = True
        if parameter.description:
            definition["description"] = parameter.description


def validate_spec(job: Mapping[str, Any]) -> None:
    """Parses the job with kfp-pipeline-spec's protobuf classes: unknown or mistyped fields fail.

    Raises:
        CompileError: The spec does not match the PipelineSpec schema.
    """
    try:
        json_format.ParseDict(job, pipeline_spec_pb2.PipelineJob())
        json_format.ParseDict(job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
        json_format.ParseDict(
            job["pipelineSpec"]["deploymentSpec"], pipeline_spec_pb2.PipelineDeploymentConfig()
        )
    except json_format.ParseError as error:
        raise CompileError(
            f"the compiled spec does not match the KFP PipelineSpec schema: {error}"
        ) from error


def _yaml_header(spec: Mapping[str, Any]) -> str:
    lines = ["# PIPELINE DEFINITION", f"# Name: {spec['pipelineInfo']['name']}"]
    parameters = spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    if parameters:
        lines.append("# Inputs:")
        for name, definition in sorted(parameters.items()):
            lines.append(
                f"#    {name}: {definition['parameterType']} [Default: {definition.get('defaultValue')!r}]"
            )
    return "\n".join(lines) + "\n"


def write_spec(job: Mapping[str, Any], target: Target, path: str) -> None:
    """Writes the PipelineJob JSON (vertex) or the PipelineSpec YAML (kubeflow), atomically."""
    if target == "vertex":
        text = json.dumps(job, indent=2, sort_keys=True) + "\n"
    else:
        spec = job["pipelineSpec"]
        text = _yaml_header(spec) + yaml.safe_dump(spec, sort_keys=True, width=100)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    umask = os.umask(0)
    os.umask(umask)
    with tempfile.NamedTemporaryFile("w", dir=directory, suffix=".tmp", delete=False) as handle:
        try:
            handle.write(text)
            handle.flush()
            os.chmod(handle.name, 0o666 & ~umask)  # as a plain open() would create it
        except BaseException:
            os.unlink(handle.name)
            raise
    os.replace(handle.name, path)


def compile_pipeline(
    config: PipelineConfig, target: Target, out: str, *, strict: bool | None = None
) -> CompiledPipeline:
    """Compiles `config` for `target` into `out`.

    Args:
        config: The pipeline config.
        target: `vertex` or `kubeflow`.
        out: The output file: `.json` for vertex, `.yaml` / `.yml` for kubeflow.
        strict: Treat `cloud_problems` as errors. Default: when the config has a
            `cloud` section (`submit` always passes True).

    Returns:
        What was written, with the run parameters and any warnings.

    Raises:
        CompileError: A wrong target or file extension, an unsupported node, or
            (strict) a cloud problem; the message says what to change.
        RunParameterError: A run parameter's default has the wrong type or range.
    """
    if target not in TARGETS:
        raise CompileError(f"unknown target {target!r}; expected one of {', '.join(TARGETS)}")
    if not out.endswith(EXTENSIONS[target]):
        raise CompileError(
            f"--out {out}: a {target} pipeline is written as {' or '.join(EXTENSIONS[target])}"
        )
    check_name(config, target)
    problems = cloud_problems(config, target)
    strict = config.cloud is not None if strict is None else strict
    if strict and problems:
        raise CompileError("; ".join(problems))
    warnings = cloud_warnings(config, target) if problems else []

    features = check_config_names(config)
    pipeline = create_pipeline(config, features=features, runner=runner_settings(config, features))
    check_nodes(pipeline.components, target)
    parameters = collect_runtime_parameters(pipeline.components)
    image = pipeline_image(config)
    dag_runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            display_name=config.name, default_image=image, use_pipeline_spec_2_1=True
        )
    )
    job = dag_runner.run(pipeline, write_out=False)
    add_ui_outputs(job["pipelineSpec"], config, image)
    add_parameter_defaults(job["pipelineSpec"], parameters)
    validate_spec(job)
    write_spec(job, target, out)
    return CompiledPipeline(
        path=out, target=target, image=image, job=job, parameters=parameters, warnings=tuple(warnings)
    )
