"""The pipeline image's self-check: everything a compiled spec will import, imported at build time.

A task on Vertex AI or Kubeflow imports, inside the image, the executor class its spec names,
every artifact type it reads or writes (TFX's entry point imports a type's schema title as a
class path), the Trainer's `run_fn` and the Transform's `preprocessing_fn`, and the module a
kfp component runs. A path that does not import fails the task at run time, an hour into a
run. `kubeflow/Dockerfile` runs this module after installing the package; it imports every
path in `image_imports.txt`, which `--write` derives from the compiled example specs: the
shipped configs for both targets, and the variants that change an executor (Vertex with the
registry Pusher, Vertex reading BigQuery, Kubeflow reading daily spans).
`tests/kubeflow/test_image_check.py` compiles them again and fails if the file is stale.

    python -m lightrank.kubeflow.image_check            # in the image: import every path
    python -m lightrank.kubeflow.image_check --write    # in a checkout: derive the file again
"""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

#: Task parameters that name user code by dotted path (the Trainer's and the Transform's).
CODE_PARAMETERS = ("run_fn", "preprocessing_fn", "tuner_fn")
#: The shipped configs whose compiled specs the image must run: (config, target, `--set`s).
#: Each variant is a config section that swaps an executor: `cloud.vertex_serving` the Pusher's,
#: `cloud.bigquery` and `data.spans` ImportExampleGen's; `tuning` adds the Tuner.
EXAMPLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("vertex.example.yaml", "vertex", ()),
    ("kubeflow.example.yaml", "kubeflow", ()),
    (
        "vertex.example.yaml",
        "vertex",
        ("cloud.vertex_serving={endpoint_name: lightrank, serving_image: 'us-docker.pkg.dev/p/r/i:1'}",),
    ),
    ("vertex.example.yaml", "vertex", ("cloud.bigquery={query: 'SELECT * FROM `p.d.candidates`'}",)),
    (
        "kubeflow.example.yaml",
        "kubeflow",
        ("data.path=gs://my-bucket/candidates/day={SPAN}/*", "data.spans={latest: 2, eval: newest}"),
    ),
    ("vertex.example.yaml", "vertex", ("tuning={space: {learning_rate: [0.05, 0.1]}}",)),
)
#: The derived list, one dotted path a line (package data of `lightrank.kubeflow`).
IMPORTS_FILE = Path(__file__).resolve().parent / "image_imports.txt"


def _artifact_types(spec: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for component in spec["components"].values():
        for side in ("inputDefinitions", "outputDefinitions"):
            for definition in component.get(side, {}).get("artifacts", {}).values():
                yield definition["artifactType"]


def import_paths(spec: Mapping[str, Any]) -> set[str]:
    """Every dotted path a task of `spec` imports: classes, functions and `python -m` modules."""
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils

    paths = set()
    for executor in spec["deploymentSpec"]["executors"].values():
        container = executor.get("container")
        if container is None:
            continue
        args, command = container.get("args", []), container.get("command", [])
        if "--executor_class_path" in args:
            paths.add(args[args.index("--executor_class_path") + 1])
        if "-m" in command:
            paths.add(command[command.index("-m") + 1])
    for artifact_type in _artifact_types(spec):
        schema = json_format.ParseDict(artifact_type, pipeline_spec_pb2.ArtifactTypeSchema())
        if schema.WhichOneof("kind") == "instance_schema":  # TFX's types; system.* are kfp's own
            paths.add(kubeflow_v2_entrypoint_utils._retrieve_class_path(schema))
    for task in spec["root"]["dag"]["tasks"].values():
        for name in CODE_PARAMETERS:
            constant = task.get("inputs", {}).get("parameters", {}).get(name, {}).get("runtimeValue", {})
            if "constant" in constant:
                paths.add(constant["constant"])
    return paths


def _import(path: str) -> object:
    """`path` as a module, else as a module attribute (a class or function), as TFX imports it."""
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as error:
        if error.name != path:
            raise  # the module exists but something it imports does not
    from tfx.utils import import_utils

    return import_utils.import_class_by_path(path)


def check(paths: Iterable[str]) -> list[str]:
    """Imports each path; returns the ones that fail, each with the reason."""
    failures = []
    for path in sorted(paths):
        try:
            _import(path)
        except Exception as error:  # every reason a task would fail to start
            failures.append(f"{path}: {type(error).__name__}: {error}")
    return failures


def compiled_examples(out_dir: str) -> list[dict[str, Any]]:
    """The PipelineSpecs of the shipped example configs, compiled for their targets."""
    from lightrank.kubeflow.compiler import compile_pipeline
    from lightrank.pipeline.config import SAMPLE_CONFIG, load_config

    specs = []
    for index, (name, target, overrides) in enumerate(EXAMPLES):
        config = load_config(str(Path(SAMPLE_CONFIG).parent / name), list(overrides))
        out = str(Path(out_dir) / f"{index}.{'json' if target == 'vertex' else 'yaml'}")
        specs.append(compile_pipeline(config, target, out).job["pipelineSpec"])
    return specs


def derived_paths() -> list[str]:
    """What the compiled example specs import, sorted (what `image_imports.txt` must hold)."""
    with tempfile.TemporaryDirectory() as out_dir:
        return sorted(set().union(*(import_paths(spec) for spec in compiled_examples(out_dir))))


def listed_paths() -> list[str]:
    """The paths `image_imports.txt` lists."""
    return [line.strip() for line in IMPORTS_FILE.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    """Imports every listed path (exit 1 naming any that fails), or `--write` derives the list."""
    if (argv if argv is not None else sys.argv[1:]) == ["--write"]:
        IMPORTS_FILE.write_text("".join(f"{path}\n" for path in derived_paths()))
        print(f"wrote {IMPORTS_FILE}")
        return 0
    paths = listed_paths()
    failures = check(paths)
    for failure in failures:
        print(f"image check: {failure}", file=sys.stderr)
    print(json.dumps({"imported": len(paths) - len(failures), "failed": len(failures)}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
