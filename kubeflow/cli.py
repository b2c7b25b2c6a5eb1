"""The `compile` and `submit` sub-commands of `lightrank` (wired in by `lightrank.cli`).

    lightrank compile --target vertex|kubeflow [--config FILE] [--set KEY=VALUE ...]
                      [--image IMAGE] [--out FILE]
    lightrank submit  --target vertex --project P --region R
                      | --target kubeflow --host URL [--namespace NS] [--experiment NAME] [--token T]
                      [--config FILE] [--set ...] [--image IMAGE] [--param NAME=VALUE ...]

Both build the pipeline from the same config as `lightrank run`. User-fixable
problems raise `lightrank.kubeflow.errors.DeploymentError` (or `ConfigError`), which the
CLI prints as one line with exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import TYPE_CHECKING

from lightrank.pipeline.commands.common import add_config_arguments, quiet_tensorflow

if TYPE_CHECKING:
    from lightrank.kubeflow.compiler import CompiledPipeline
    from lightrank.pipeline.config import PipelineConfig

TARGET_NAMES = {"vertex": "Vertex AI Pipelines", "kubeflow": "Kubeflow Pipelines"}
#: The API endpoint variable `kfp.Client` itself reads, and the bearer token's (ours: kfp reads none).
ENDPOINT_ENV = "KF_PIPELINES_ENDPOINT"
TOKEN_ENV = "KF_PIPELINES_TOKEN"


def _load(args: argparse.Namespace) -> PipelineConfig:
    from lightrank.pipeline.config import load_config

    overrides = list(args.set)
    if args.image:
        overrides.append(f"cloud.image={args.image}")
    return load_config(args.config, overrides)


def _default_out(name: str, target: str) -> str:
    extension = ".json" if target == "vertex" else ".yaml"
    return os.path.join("build", f"{name}-{target}{extension}")


def _report(compiled: CompiledPipeline, default_image: bool) -> None:
    from lightrank.kubeflow.run_parameters import describe

    tasks = compiled.pipeline_spec["root"]["dag"]["tasks"]
    print(f"Compiled for {TARGET_NAMES[compiled.target]}: {compiled.path}")
    note = " (the default; set cloud.image or --image to the image you pushed)" if default_image else ""
    print(f"Image:  {compiled.image}{note}")
    print(f"Tasks:  {len(tasks)} ({', '.join(sorted(tasks))})")
    print("Run parameters (set per run with `lightrank submit --param NAME=VALUE`):")
    for line in describe(compiled.parameters):
        print(f"  {line}")
    for warning in compiled.warnings:
        print(f"lightrank: warning: {warning}", file=sys.stderr)


def _compile(args: argparse.Namespace) -> int:
    config = _load(args)
    with quiet_tensorflow("lightrank.kubeflow.compiler"):
        from lightrank.kubeflow.compiler import compile_pipeline

        compiled = compile_pipeline(config, args.target, args.out or _default_out(config.name, args.target))
    _report(compiled, default_image=not (config.cloud and config.cloud.image))
    return 0


def _submit(args: argparse.Namespace) -> int:
    from lightrank.kubeflow.errors import SubmitError
    from lightrank.kubeflow.submit import require_image

    config = _load(args)
    require_image(config)
    cloud = config.cloud
    project = args.project or (cloud.project if cloud else None)
    region = args.region or (cloud.region if cloud else None)
    host = args.host or os.environ.get(ENDPOINT_ENV)
    if args.target == "vertex" and not (project and region):
        raise SubmitError("--target vertex needs --project and --region (or cloud.project and cloud.region)")
    if args.target == "kubeflow" and not host:
        raise SubmitError(
            f"--target kubeflow needs --host or ${ENDPOINT_ENV} (the Kubeflow Pipelines API endpoint)"
        )

    with quiet_tensorflow("lightrank.kubeflow.compiler"), tempfile.TemporaryDirectory() as workdir:
        from lightrank.kubeflow.compiler import compile_pipeline
        from lightrank.kubeflow.run_parameters import parse_assignments
        from lightrank.kubeflow.submit import check_cloud_values, submit_kubeflow, submit_vertex

        out = args.out or os.path.join(workdir, os.path.basename(_default_out(config.name, args.target)))
        compiled = compile_pipeline(config, args.target, out, strict=True)
        values = parse_assignments(args.param, compiled.parameters)
        check_cloud_values(values)
        if args.target == "vertex":
            submitted = submit_vertex(
                compiled,
                config,
                project=project,
                region=region,
                parameter_values=values,
                enable_caching=config.enable_cache and not args.no_cache,
            )
        else:
            submitted = submit_kubeflow(
                compiled,
                config,
                host=host,
                parameter_values=values,
                enable_caching=config.enable_cache and not args.no_cache,
                experiment=args.experiment,
                namespace=args.namespace,
                token=args.token or os.environ.get(TOKEN_ENV) or None,
            )
    print(f"Submitted '{config.name}' to {TARGET_NAMES[args.target]}: {submitted.run_id}")
    for name, value in sorted(values.items()):
        print(f"  {name} = {value!r}")
    print(f"Follow it at {submitted.url}")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        required=True,
        choices=sorted(TARGET_NAMES),
        help="vertex (Vertex AI) or kubeflow (KFP v2)",
    )
    add_config_arguments(parser)
    parser.add_argument("--image", default=None, help="the pipeline image (overrides cloud.image)")


def register(commands: argparse._SubParsersAction) -> None:
    """Adds `compile` and `submit` to the `lightrank` sub-command parsers."""
    compile_parser = commands.add_parser(
        "compile", help="compile the pipeline for Vertex AI (JSON) or Kubeflow Pipelines v2 (YAML)"
    )
    _common(compile_parser)
    compile_parser.add_argument(
        "--out", default=None, help="output file (.json for vertex, .yaml for kubeflow; default: build/)"
    )
    compile_parser.set_defaults(handler=_compile)

    submit = commands.add_parser("submit", help="compile and start a run on Vertex AI or Kubeflow Pipelines")
    _common(submit)
    submit.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="a run parameter value"
    )
    submit.add_argument(
        "--project", default=None, help="Google Cloud project (vertex; default cloud.project)"
    )
    submit.add_argument("--region", default=None, help="Vertex AI region (vertex; default cloud.region)")
    submit.add_argument(
        "--host",
        default=None,
        help=f"Kubeflow Pipelines API endpoint (kubeflow; default ${ENDPOINT_ENV})",
    )
    submit.add_argument(
        "--token",
        default=None,
        help=f"bearer token for a multi-user Kubeflow behind Dex / IAP (kubeflow; default ${TOKEN_ENV}; "
        "prefer the variable: a flag is visible in the process list)",
    )
    submit.add_argument("--namespace", default=None, help="Kubernetes namespace (kubeflow, multi-user)")
    submit.add_argument(
        "--experiment", default=None, help="experiment name (kubeflow; default the pipeline name)"
    )
    submit.add_argument("--no-cache", action="store_true", help="run every task, reuse no cached outputs")
    submit.add_argument("--out", default=None, help="also keep the compiled file here")
    submit.set_defaults(handler=_submit)
