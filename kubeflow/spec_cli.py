"""`lightrank run-spec`: run a compiled Vertex AI / Kubeflow spec here, before submitting it.

    lightrank run-spec SPEC [--config FILE] [--set KEY=VALUE ...] [--param NAME=VALUE ...] [--root DIR]

SPEC is what `lightrank compile` wrote (`.json` for Vertex AI, `.yaml` for Kubeflow). Every task
runs through its own container command (`lightrank.kubeflow.spec_runner`), so a spec that runs
here runs the same code on the orchestrator, given an image built from this checkout. The
config must be the one the spec was compiled from (its digest is in the spec), because the
config names the pipeline root and says which data a run may read.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from lightrank.models.paths import is_remote
from lightrank.pipeline.commands.common import add_config_arguments


def _values(compiled: Any, assignments: list[str]) -> dict[str, Any]:
    """The run parameter values: the spec's defaults, then `--param`, type- and range-checked."""
    from tfx.orchestration.data_types import RuntimeParameter

    from lightrank.components.run_values import DATA_ROOT, check_range
    from lightrank.kubeflow.run_parameters import parse_assignments
    from lightrank.kubeflow.spec_file import SpecError

    definitions = compiled.parameters()
    parameters = {name: RuntimeParameter(name=name, ptype=ptype, default=default)
                  for name, (ptype, default) in definitions.items()}  # fmt: skip
    values = {name: default for name, (_, default) in definitions.items()}
    values.update(parse_assignments(assignments, parameters))
    for name, value in values.items():
        check_range(name, value)
    data_root = values.get(DATA_ROOT)
    if data_root is not None and (is_remote(data_root) or not os.path.isdir(data_root)):
        raise SpecError(
            f"run parameter {DATA_ROOT}={data_root} is not a directory on this machine: a local spec "
            f"run reads local data; pass --param {DATA_ROOT}=DIR"
        )
    return values


def _run_spec(args: argparse.Namespace) -> int:
    from lightrank.kubeflow.spec_file import SpecError, read_spec
    from lightrank.pipeline.config import load_config

    compiled = read_spec(args.spec)
    config = load_config(args.config, args.set)
    recorded = compiled.config_digest()
    if recorded is None:
        raise SpecError(
            f"{args.spec} records no config digest: it was not written by `lightrank compile`, "
            "so no config says where its runs go or which data they read"
        )
    if recorded != config.digest():
        raise SpecError(
            f"{args.spec} was compiled from another config (digest {recorded}; {args.config} with "
            f"{args.set or 'no'} --set gives {config.digest()}): pass the config and --set overrides "
            "it was compiled with, or compile it again"
        )
    values = _values(compiled, args.param)
    root = os.path.abspath(args.root or config.root)
    if is_remote(root):
        raise SpecError(
            f"pipeline root {root} is remote: a local spec run writes to this machine (--root DIR)"
        )

    from lightrank.kubeflow.cloud import IMAGE_WORKDIR, PROJECT_ROOT
    from lightrank.kubeflow.spec_runner import SpecRunner
    from lightrank.pipeline.commands.common import quiet_tensorflow

    runner = SpecRunner(
        compiled,
        pipeline_root=root,
        values=values,
        console=sys.stdout,
        image_paths={IMAGE_WORKDIR: str(PROJECT_ROOT)},
    )
    runner.check()
    print(f"Running {args.spec} ({compiled.target}, {len(compiled.tasks)} tasks) under {root}")
    for name, value in sorted(values.items()):
        print(f"  {name} = {value!r}")
    with quiet_tensorflow("kfp.local.placeholder_utils"):
        run = runner.run()
    print(f"Run {run.run_id}: {sum(r.status == 'complete' for r in run.tasks)} tasks complete, "
          f"{sum(r.status == 'skipped' for r in run.tasks)} skipped")  # fmt: skip
    blessing = run.outputs.get("Evaluator", {}).get("blessing", [])
    if blessing:
        print(f"Blessed:        {'yes' if blessing[0]['metadata'].get('blessed') == 1.0 else 'no'}")
    pushed = run.outputs.get("Pusher", {}).get("pushed_model", [])
    destination = pushed[0]["metadata"].get("pushed_destination") if pushed else None
    print(f"Pushed model:   {destination or 'nothing was pushed'}")
    print(f"Artifacts:      {run.run_root}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Adds `run-spec` to the `lightrank` sub-commands."""
    parser = commands.add_parser(
        "run-spec", help="run a compiled Vertex AI / Kubeflow spec here, task by task through its containers"
    )
    parser.add_argument(
        "spec", help="the file `lightrank compile` wrote (.json for vertex, .yaml for kubeflow)"
    )
    add_config_arguments(parser)
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="a run parameter value"
    )
    parser.add_argument("--root", default=None, help="pipeline root of the run (default: the config's root)")
    parser.set_defaults(handler=_run_spec)
