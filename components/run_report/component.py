"""The run report as a pipeline artifact, written at the end of every run.

`lightrank report` renders a run's report from ML Metadata on demand; this
component writes the same page (`lightrank.pipeline.views`) into an artifact of the run
itself, so it sits next to the run in the Kubeflow / Vertex UI and in the local
pipeline root. Like the AnomalyGate, it records what produced the run (the full
pipeline config, its digest and the code version, `lightrank.components.run_settings`) as
execution properties in ML Metadata, where `lightrank lineage`, `compare` and
`report` read them back.

The component cannot query ML Metadata (on Vertex it has no connection), so its
lineage graph is drawn from the artifacts it is handed, wired as
`create_pipeline` wires them, with their real artifact ids.
"""

# No `from __future__ import annotations`: TFX reads the component signature at runtime.

import json
import os
from typing import Any

from tfx import v1 as tfx
from tfx.types import artifact, standard_artifacts

from lightrank.components.run_settings import run_settings

#: The page inside the artifact directory.
REPORT_FILE = "report.html"

#: (component, its input roles, its output roles) as `create_pipeline` wires them.
_WIRING = (
    ("ImportExampleGen", (), ("examples",)),
    ("StatisticsGen", ("examples",), ("statistics",)),
    ("ImportSchemaGen", (), ("schema",)),
    ("ExampleValidator", ("statistics", "schema"), ("anomalies",)),
    ("Transform", ("examples", "schema"), ("transform_graph",)),
    ("Trainer", ("transform_graph", "schema"), ("model", "model_run")),
    ("Evaluator", ("examples", "model"), ("evaluation", "blessing")),
)


class RunReportArtifact(artifact.Artifact):
    """A directory holding `report.html`. The type name satisfies Vertex's schema-title rule."""

    TYPE_NAME = "lightrank.RunReport"


def _drawing(inputs: dict[str, artifact.Artifact]) -> tuple[list[Any], list[tuple[str, str]]]:
    from lightrank.components.run_report.svg import GraphNode

    nodes = [
        GraphNode(f"a{a.id}", a.type_name, f"artifact {a.id}\n{a.uri}", is_execution=False)
        for a in inputs.values()
    ]
    edges = []
    for component, sources, targets in _WIRING:
        if not any(role in inputs for role in targets):
            continue
        nodes.append(GraphNode(f"c{component}", component, "component of this run", is_execution=True))
        edges += [(f"a{inputs[role].id}", f"c{component}") for role in sources if role in inputs]
        edges += [(f"c{component}", f"a{inputs[role].id}") for role in targets if role in inputs]
    return nodes, edges


def write_report(
    inputs: dict[str, artifact.Artifact],
    report_dir: str,
    *,
    pipeline_name: str,
    pipeline_config: str,
    config_digest: str,
    code_version: str,
) -> str:
    """Renders the report of the given artifacts into `report_dir/report.html`; returns its path."""
    import tensorflow as tf

    from lightrank.components.run_report.content import ArtifactRef, RunFacts, collect
    from lightrank.components.run_report.html import render_html

    blessing = inputs.get("blessing")
    blessed = bool(blessing.get_int_custom_property("blessed")) if blessing is not None else None
    run = RunFacts(
        pipeline_name=pipeline_name,
        run_id=None,
        status="evaluated (this report is the run's last step)",
        blessed=blessed,
        pushed_destination=(
            "decided by the Pusher after this report: it pushes a blessed model that is not the baseline"
            if blessed
            else None
        ),
        config_digest=config_digest or None,
        code_version=code_version or None,
        config=json.loads(pipeline_config) if pipeline_config else None,
        source="by the pipeline's RunReport component",
    )
    refs = [ArtifactRef(role, a.id, a.type_name, a.uri) for role, a in inputs.items()]
    nodes, edges = _drawing(inputs)
    page = render_html(collect(run, refs, nodes, edges))
    tf.io.gfile.makedirs(report_dir)
    path = os.path.join(report_dir, REPORT_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(page)
    return path


@tfx.dsl.components.component
def RunReport(  # noqa: N802  (TFX component names are classes by convention)
    examples: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
    statistics: tfx.dsl.components.InputArtifact[standard_artifacts.ExampleStatistics],
    anomalies: tfx.dsl.components.InputArtifact[standard_artifacts.ExampleAnomalies],
    schema: tfx.dsl.components.InputArtifact[standard_artifacts.Schema],
    transform_graph: tfx.dsl.components.InputArtifact[standard_artifacts.TransformGraph],
    model: tfx.dsl.components.InputArtifact[standard_artifacts.Model],
    model_run: tfx.dsl.components.InputArtifact[standard_artifacts.ModelRun],
    evaluation: tfx.dsl.components.InputArtifact[standard_artifacts.ModelEvaluation],
    blessing: tfx.dsl.components.InputArtifact[standard_artifacts.ModelBlessing],
    report: tfx.dsl.components.OutputArtifact[RunReportArtifact],
    pipeline_name: tfx.dsl.components.Parameter[str],
    pipeline_config: tfx.dsl.components.Parameter[str],
    config_digest: tfx.dsl.components.Parameter[str],
    code_version: tfx.dsl.components.Parameter[str],
) -> None:
    """Writes `report.html` (data, training, evaluation, lineage, model card) for this run.

    Args:
        examples: ImportExampleGen's examples.
        statistics: StatisticsGen's statistics of them.
        anomalies: ExampleValidator's anomalies.
        schema: The curated schema.
        transform_graph: Transform's graph.
        model: The trained model.
        model_run: The Trainer's run directory (training history).
        evaluation: The Evaluator's metrics and plots.
        blessing: The Evaluator's blessing.
        report: The output directory; `report.html` goes in it.
        pipeline_name: The pipeline's name.
        pipeline_config: The full pipeline config as JSON (recorded in MLMD).
        config_digest: `PipelineConfig.digest()` (recorded in MLMD).
        code_version: `code_version()` when the pipeline was built or compiled (recorded in MLMD).
    """
    inputs = {
        "examples": examples,
        "statistics": statistics,
        "anomalies": anomalies,
        "schema": schema,
        "transform_graph": transform_graph,
        "model": model,
        "model_run": model_run,
        "evaluation": evaluation,
        "blessing": blessing,
    }
    write_report(
        inputs,
        report.uri,
        pipeline_name=pipeline_name,
        pipeline_config=pipeline_config,
        config_digest=config_digest,
        code_version=code_version,
    )
    report.set_int_custom_property("blessed", int(bool(blessing.get_int_custom_property("blessed"))))
    report.set_string_custom_property("config_digest", config_digest)


def run_report_node(
    config: Any,
    *,
    example_gen: Any,
    statistics_gen: Any,
    schema_gen: Any,
    example_validator: Any,
    transform: Any,
    trainer: Any,
    evaluator: Any,
) -> Any:
    """The RunReport of a pipeline built by `create_pipeline` (the last component of the list).

    Args:
        config: The `PipelineConfig` the pipeline was built from.
        example_gen: The pipeline's ImportExampleGen.
        statistics_gen: Its StatisticsGen.
        schema_gen: Its ImportSchemaGen.
        example_validator: Its ExampleValidator.
        transform: Its Transform.
        trainer: Its Trainer.
        evaluator: Its Evaluator.
    """
    return RunReport(
        examples=example_gen.outputs["examples"],
        statistics=statistics_gen.outputs["statistics"],
        anomalies=example_validator.outputs["anomalies"],
        schema=schema_gen.outputs["schema"],
        transform_graph=transform.outputs["transform_graph"],
        model=trainer.outputs["model"],
        model_run=trainer.outputs["model_run"],
        evaluation=evaluator.outputs["evaluation"],
        blessing=evaluator.outputs["blessing"],
        pipeline_name=config.name,
        **run_settings(config),
    )
