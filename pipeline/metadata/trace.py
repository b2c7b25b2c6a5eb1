"""The full trace of one model: its data, checks, training, evaluation and push.

Built from a handful of `get_lineage_subgraph` calls (see `lightrank.pipeline.metadata.lineage`):
upstream from the model (what it was trained on), downstream from its raw
examples (the statistics and anomalies computed on them: the anomaly gate is a
control dependency of Transform, not a data input, so the checks are not
upstream of the model in MLMD's event graph), and downstream from the model
(its evaluation, blessing, push and run report). Each role is resolved by the
event keys the TFX components use (`examples`, `schema`, `transform_graph`,
`model_blessing`, ...), never by a component id a pipeline may rename.

The upstream trace stops at an earlier Model (a warm start's base model): the
base model is named, and its own history is its own trace.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any

import ml_metadata as mlmd

from lightrank.components.run_settings import CODE_PROPERTY, CONFIG_PROPERTY, DIGEST_PROPERTY
from lightrank.pipeline.metadata.graph import (
    ArtifactInfo,
    ExecutionInfo,
    LineageGraph,
    execution_info,
    quoted,
    subgraph,
)

#: Roles of a model's trace, in the order a person reads them.
ROLES = (
    "examples",
    "statistics",
    "anomalies",
    "schema",
    "transform_graph",
    "transformed_examples",
    "base_model",
    "hyperparameters",
    "model",
    "model_run",
    "evaluation",
    "blessing",
    "pushed_model",
    "run_report",
)
#: The execution type (its last dotted part) of the component that stops a run on anomalies. The
#: gate is the one consumer known by identity: it outputs nothing, and RunReport (and, on Vertex,
#: the Pusher) read the same artifacts, so "the newest consumer" named the wrong execution.
GATE_TYPE = "AnomalyGate"
#: The type name (its last dotted part) of the artifact RunReport writes.
REPORT_ARTIFACT_TYPE = "RunReport"
#: Upstream depth: model <- Trainer <- transformed examples <- Transform <- examples <- ExampleGen is 5.
_UPSTREAM_HOPS = 12


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What produced a run, as its AnomalyGate or RunReport recorded it (`lightrank.components.run_settings`).

    Attributes:
        config: The full pipeline config (None when the run recorded none).
        digest: `PipelineConfig.digest()` of it.
        code_version: The git commit (or `LIGHTRANK_CODE_VERSION`) when the pipeline was built.
        run_id: The run they were recorded in.
    """

    config: dict[str, Any] | None = None
    digest: str | None = None
    code_version: str | None = None
    run_id: str | None = None


def settings_of(executions: Iterable[ExecutionInfo]) -> RunSettings:
    """The settings recorded by whichever of a run's executions holds them (the newest such)."""
    holders = [x for x in executions if x.properties.get(DIGEST_PROPERTY)]
    if not holders:
        return RunSettings()
    holder = max(holders, key=lambda x: x.id)
    text = holder.properties.get(CONFIG_PROPERTY)
    code = holder.properties.get(CODE_PROPERTY)
    return RunSettings(
        config=json.loads(text) if isinstance(text, str) and text else None,
        digest=str(holder.properties[DIGEST_PROPERTY]),
        code_version=str(code) if code else None,
        run_id=holder.run_id,
    )


def run_settings(store: mlmd.MetadataStore, run_id: str) -> RunSettings:
    """The settings one pipeline run recorded (on its AnomalyGate, its RunReport, or both).

    One `filter_query` on the run's context and the recorded digest; cache hits
    count, since TFX records a cached execution's parameters too.
    """
    found = store.get_executions(
        list_options=mlmd.ListOptions(
            filter_query=(
                f"contexts_a.type = 'pipeline_run' AND contexts_a.name = {quoted(run_id)} AND "
                f"custom_properties.{DIGEST_PROPERTY}.string_value != ''"
            )
        )
    )
    return settings_of(execution_info(x, run_id) for x in found)


@dataclasses.dataclass(frozen=True)
class ModelTrace:
    """Everything recorded about one model.

    Attributes:
        model: The Model artifact.
        roles: Role (see `ROLES`) -> artifact, for the roles the store records.
        trainer, transform, evaluator, pusher, report: The executions that
            trained it, built its transform graph, evaluated it (the evaluation
            its push relied on, else the newest), pushed it, and reported on it.
        gate: The AnomalyGate that checked its data's anomalies (of the training run,
            else the newest), found by its type, never as "a consumer of the anomalies".
        run_id: The pipeline run that trained it.
        graph: Every artifact and execution above, with the events between them.
        settings: The config and code version of the run that trained it
            (not of a later run whose Trainer came from the cache).
    """

    model: ArtifactInfo
    roles: dict[str, ArtifactInfo]
    trainer: ExecutionInfo | None
    transform: ExecutionInfo | None
    evaluator: ExecutionInfo | None
    pusher: ExecutionInfo | None
    report: ExecutionInfo | None
    run_id: str | None
    graph: LineageGraph
    settings: RunSettings = dataclasses.field(default_factory=RunSettings)
    gate: ExecutionInfo | None = None

    @property
    def pushed(self) -> bool:
        """Whether the model was pushed (a PushedModel with `pushed` = 1)."""
        pushed = self.roles.get("pushed_model")
        return pushed is not None and pushed.properties.get("pushed") == 1


def _is_type_name(type_name: str, name: str) -> bool:
    """Whether a dotted MLMD type name (`pkg.module.AnomalyGate`, `lightrank.RunReport`) names `name`."""
    return type_name.rsplit(".", 1)[-1] == name


def _is_type(execution: ExecutionInfo, name: str) -> bool:
    """Whether an execution is of the component type `name`."""
    return _is_type_name(execution.type, name)


def _preferred(executions: list[ExecutionInfo], run_id: str | None) -> ExecutionInfo | None:
    """The execution of the given run if there is one, else the newest."""
    same_run = [x for x in executions if run_id is not None and x.run_id == run_id]
    pool = same_run or executions
    return max(pool, key=lambda x: x.id) if pool else None


def _data_checks(
    store: mlmd.MetadataStore, examples: ArtifactInfo, schema: ArtifactInfo | None, run_id: str | None
) -> tuple[LineageGraph, set[int], set[int], dict[str, ArtifactInfo], ExecutionInfo | None]:
    """Statistics of the examples, anomalies against the model's schema, and the gate that read them.

    Each execution is chosen by what it is (the outputs its component declares, the gate by its
    type), because other components read the same artifacts: RunReport reads the examples,
    statistics and anomalies.
    """
    graph = subgraph(store, artifact_query=f"id = {examples.id}", direction="downstream", hops=5)
    artifacts: set[int] = set()
    executions: set[int] = set()
    roles: dict[str, ArtifactInfo] = {}
    statistics_gen = _preferred(
        [x for x in graph.consumers(examples.id, "examples") if "statistics" in graph.outputs(x.id)], run_id
    )
    if statistics_gen is None:
        return graph, artifacts, executions, roles, None
    statistics = graph.outputs(statistics_gen.id)["statistics"]
    roles["statistics"] = statistics
    artifacts.add(statistics.id)
    executions.add(statistics_gen.id)
    validators = [
        x
        for x in graph.consumers(statistics.id, "statistics")
        if "anomalies" in graph.outputs(x.id)
        and (schema is None or graph.inputs(x.id).get("schema", schema).id == schema.id)
    ]
    validator = _preferred(validators, run_id)
    if validator is not None:
        anomalies = graph.outputs(validator.id)["anomalies"]
        roles["anomalies"] = anomalies
        artifacts.add(anomalies.id)
        executions.add(validator.id)
        gate = _preferred(
            [x for x in graph.consumers(anomalies.id, "anomalies") if _is_type(x, GATE_TYPE)], run_id
        )
        if gate is not None:
            executions.add(gate.id)
    else:
        gate = None
    return graph, artifacts, executions, roles, gate


def _downstream_of_model(
    store: mlmd.MetadataStore, model: ArtifactInfo, run_id: str | None
) -> tuple[LineageGraph, dict[str, ArtifactInfo], dict[str, ExecutionInfo | None]]:
    """The model's evaluation, push and run report.

    With `run_id`, those of that run (a re-run whose Trainer came from the cache
    evaluates the same model again); otherwise the evaluation its push relied on,
    else the newest.
    """
    graph = subgraph(store, artifact_query=f"id = {model.id}", direction="downstream", hops=4)
    pushes = [
        x
        for x in graph.consumers(model.id, "model")
        if graph.outputs(x.id).get("pushed_model") is not None
        and graph.outputs(x.id)["pushed_model"].properties.get("pushed") == 1
        and (run_id is None or x.run_id == run_id)
    ]
    pusher = max(pushes, key=lambda x: x.id) if pushes else None
    evaluator = None
    if pusher is not None:
        blessing = graph.inputs(pusher.id).get("model_blessing")
        evaluator = graph.producer(blessing.id) if blessing else None
    if evaluator is None:
        evaluations = [x for x in graph.consumers(model.id, "model") if "evaluation" in graph.outputs(x.id)]
        evaluator = _preferred(evaluations, run_id)
    roles: dict[str, ArtifactInfo] = {}
    report = None
    if evaluator is not None:
        outputs = graph.outputs(evaluator.id)
        roles.update({key: outputs[key] for key in ("evaluation", "blessing") if key in outputs})
        if "evaluation" in outputs:
            # The RunReport by what it writes: on Vertex the Pusher reads the evaluation too.
            reports = [
                x
                for x in graph.consumers(outputs["evaluation"].id, "evaluation")
                if any(_is_type_name(a.type, REPORT_ARTIFACT_TYPE) for a in graph.outputs(x.id).values())
            ]
            report = _preferred(reports, evaluator.run_id)
            for artifact in graph.outputs(report.id).values() if report else ():
                if _is_type_name(artifact.type, REPORT_ARTIFACT_TYPE):
                    roles["run_report"] = artifact
    if pusher is not None:
        roles["pushed_model"] = graph.outputs(pusher.id)["pushed_model"]
    return graph, roles, {"evaluator": evaluator, "pusher": pusher, "report": report}


def trace_model(store: mlmd.MetadataStore, model: ArtifactInfo, run_id: str | None = None) -> ModelTrace:
    """Traces a Model artifact through ML Metadata (read-only).

    Args:
        store: The metadata store.
        model: The Model artifact (see `lightrank.pipeline.metadata.lineage.resolve_model`).
        run_id: Report the evaluation and push of this pipeline run (for a run
            report); by default, those of the model's push, else its newest.
    """
    upstream = subgraph(
        store,
        artifact_query=f"id = {model.id}",
        direction="upstream",
        hops=_UPSTREAM_HOPS,
        stop_at_artifacts=f"type = 'Model' AND id != {model.id}",
    )
    roles: dict[str, ArtifactInfo] = {"model": model}
    trainer = upstream.producer(model.id)
    transform = None
    graph = upstream
    keep_artifacts, keep_executions = set(upstream.artifacts), set(upstream.executions)
    if trainer is not None:
        inputs = upstream.inputs(trainer.id)
        roles.update(
            {
                key: inputs[key]
                for key in ("schema", "transform_graph", "base_model", "hyperparameters")
                if key in inputs
            }
        )
        if "transform_graph" in inputs:
            transform = upstream.producer(inputs["transform_graph"].id)
            roles["transformed_examples"] = inputs["examples"]
            if transform is not None and "examples" in upstream.inputs(transform.id):
                roles["examples"] = upstream.inputs(transform.id)["examples"]
        elif "examples" in inputs:
            roles["examples"] = inputs["examples"]
        trained = subgraph(store, execution_query=f"id = {trainer.id}", direction="downstream", hops=1)
        if "model_run" in trained.outputs(trainer.id):
            roles["model_run"] = trained.outputs(trainer.id)["model_run"]
            keep_artifacts.add(roles["model_run"].id)
        graph = graph.merged(trained)
    trained_in = trainer.run_id if trainer else None
    gate = None
    if "examples" in roles:
        checks, artifacts, executions, check_roles, gate = _data_checks(
            store, roles["examples"], roles.get("schema"), trained_in
        )
        graph = graph.merged(checks)
        keep_artifacts |= artifacts
        keep_executions |= executions
        roles.update(check_roles)
    downstream, model_roles, found = _downstream_of_model(store, model, run_id)
    graph = graph.merged(downstream)
    roles.update(model_roles)
    keep_artifacts |= {a.id for a in model_roles.values()}
    keep_executions |= {x.id for x in found.values() if x is not None}
    return ModelTrace(
        model=model,
        roles={role: roles[role] for role in ROLES if role in roles},
        trainer=trainer,
        transform=transform,
        evaluator=found["evaluator"],
        pusher=found["pusher"],
        report=found["report"],
        run_id=trained_in,
        graph=graph.restricted(keep_artifacts, keep_executions),
        settings=run_settings(store, trained_in) if trained_in else RunSettings(),
        gate=gate,
    )


def trace_downstream(store: mlmd.MetadataStore, artifact: ArtifactInfo, hops: int = 10) -> LineageGraph:
    """Everything that used an artifact, directly or through what was made from it."""
    return subgraph(store, artifact_query=f"id = {artifact.id}", direction="downstream", hops=hops)
