"""A small ML Metadata store laid out as TFX 1.16 lays out runs, for fast lineage tests.

Contexts `pipeline`, `pipeline_run` (a child of the pipeline) and `node`
(`<pipeline>.<component>`); executions with INPUT/OUTPUT events keyed by input
and output names; cache hits as CACHED executions re-recording the same events;
resolvers with INTERNAL_OUTPUT events. The layout was checked against a real
tiny LocalDagRunner store (see tests/e2e/test_lineage.py for the real thing).
"""

from __future__ import annotations

import json

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2 as pb

PIPELINE = "fake-pipeline"
RESOLVER = "tfx.dsl.components.common.resolver.Resolver"
Event = pb.Event


class FakeTfxStore:
    """Writes TFX-shaped runs into a SQLite MLMD store."""

    def __init__(self, path: str) -> None:
        config = pb.ConnectionConfig()
        config.sqlite.filename_uri = path
        config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.store = mlmd.MetadataStore(config)
        self._types: dict[tuple[str, str], int] = {}
        self._pipeline = self._context("pipeline", PIPELINE)
        self._clock = 1_795_900_000_000

    def _type(self, kind: str, name: str) -> int:
        if (kind, name) not in self._types:
            put = {
                "context": (self.store.put_context_type, pb.ContextType),
                "artifact": (self.store.put_artifact_type, pb.ArtifactType),
                "execution": (self.store.put_execution_type, pb.ExecutionType),
            }[kind]
            self._types[(kind, name)] = put[0](put[1](name=name))
        return self._types[(kind, name)]

    def _context(self, kind: str, name: str) -> pb.Context:
        existing = self.store.get_context_by_type_and_name(kind, name)
        if existing is not None:
            return existing
        context = pb.Context(type_id=self._type("context", kind), name=name)
        [context.id] = self.store.put_contexts([context])
        return self.store.get_contexts_by_id([context.id])[0]

    def run(self, run_id: str) -> pb.Context:
        """A new `pipeline_run` context, child of the pipeline context."""
        context = self._context("pipeline_run", run_id)
        self.store.put_parent_contexts([pb.ParentContext(child_id=context.id, parent_id=self._pipeline.id)])
        return context

    def artifact(self, type_name: str, uri: str, **custom: int | str) -> pb.Artifact:
        """An artifact (not yet attached to any execution)."""
        artifact = pb.Artifact(type_id=self._type("artifact", type_name), uri=uri, state=pb.Artifact.LIVE)
        for key, value in custom.items():
            if isinstance(value, int):
                artifact.custom_properties[key].int_value = value
            else:
                artifact.custom_properties[key].string_value = value
        return artifact

    def execute(
        self,
        run: pb.Context,
        component: str,
        inputs: dict[str, int] | None = None,
        outputs: dict[str, pb.Artifact | int] | None = None,
        *,
        state: int = pb.Execution.COMPLETE,
        execution_type: str | None = None,
        seconds: float = 1.0,
        **properties: str,
    ) -> tuple[int, dict[str, int]]:
        """Records one execution; `outputs` are new artifacts, or ids of existing ones (a cache hit)."""
        self._clock += 1000
        execution = pb.Execution(
            type_id=self._type("execution", execution_type or f"tfx.components.{component}"),
            last_known_state=state,
        )
        for key, value in properties.items():
            execution.custom_properties[key].string_value = value
        pairs = []
        for key, artifact_id in (inputs or {}).items():
            (artifact,) = self.store.get_artifacts_by_id([artifact_id])
            pairs.append((artifact, self._event(Event.INPUT, key)))
        output_kind = Event.INTERNAL_OUTPUT if execution_type == RESOLVER else Event.OUTPUT
        for key, value in (outputs or {}).items():
            artifact = self.store.get_artifacts_by_id([value])[0] if isinstance(value, int) else value
            pairs.append((artifact, self._event(output_kind, key)))
        node = self._context("node", f"{PIPELINE}.{component}")
        execution_id, artifact_ids, _ = self.store.put_execution(
            execution, pairs, [self._pipeline, run, node], reuse_context_if_already_exist=True
        )
        ids = dict(zip([*(inputs or {}), *(outputs or {})], artifact_ids, strict=True))
        return execution_id, {key: ids[key] for key in outputs or {}}

    def end_early(self, run: pb.Context, status: str, ended_millis: int) -> None:
        """Records what `lightrank run` records when a run ends: complete, cancelled or failed."""
        run.custom_properties["lightrank_status"].string_value = status
        run.custom_properties["lightrank_ended"].int_value = ended_millis
        self.store.put_contexts([run])

    @staticmethod
    def _event(kind: int, key: str) -> pb.Event:
        event = pb.Event(type=kind)
        event.path.steps.add().key = key
        event.path.steps.add().index = 0
        return event


def recorded(run_id: str, learning_rate: float) -> dict[str, str]:
    """The settings a run's AnomalyGate (and RunReport) record (`lightrank.components.run_settings`)."""
    config = {"name": PIPELINE, "model": {"training": {"learning_rate": learning_rate}}}
    return {
        "pipeline_config": json.dumps(config, sort_keys=True),
        "config_digest": f"digest-{run_id}",
        "code_version": f"commit-{run_id}",
    }


def _trainer_config(learning_rate: float) -> str:
    return json.dumps(
        {"kind": "deepnorm", "training": {"learning_rate": learning_rate}, "features": {"continuous": ["a"]}}
    )


#: What SpanExampleGen records: a rolling window of days trains, the newest evaluates.
SPANS = '{"eval": [20402], "train": [20399, 20400, 20401]}'


def populate(fake: FakeTfxStore, root: str) -> dict[str, int]:
    """Three runs: a full one; one with cached data steps, a resolver and a new model; a failed gate.

    Returns:
        Artifact and execution ids by name (`examples`, `model_1`, `trainer_2`, ...).
    """
    ids: dict[str, int] = {}
    run_1 = fake.run("run-1")
    ids["examplegen_1"], out = fake.execute(
        run_1,
        "ImportExampleGen",
        outputs={"examples": fake.artifact("Examples", f"{root}/examples/1", span=0, lightrank_spans=SPANS)},
    )
    ids["examples"] = out["examples"]
    _, out = fake.execute(
        run_1,
        "ImportSchemaGen",
        outputs={"schema": fake.artifact("Schema", f"{root}/schema/2")},
        schema_file="/schemas/schema.pbtxt",
    )
    ids["schema"] = out["schema"]
    ids["statisticsgen_1"], out = fake.execute(
        run_1,
        "StatisticsGen",
        {"examples": ids["examples"]},
        {"statistics": fake.artifact("ExampleStatistics", f"{root}/statistics/3")},
    )
    ids["statistics"] = out["statistics"]
    _, out = fake.execute(
        run_1,
        "ExampleValidator",
        {"statistics": ids["statistics"], "schema": ids["schema"]},
        {"anomalies": fake.artifact("ExampleAnomalies", f"{root}/anomalies/4")},
    )
    ids["anomalies"] = out["anomalies"]
    ids["gate_1"], _ = fake.execute(
        run_1, "AnomalyGate", {"anomalies": ids["anomalies"]}, **recorded("run-1", 0.05)
    )
    ids["transform_1"], out = fake.execute(
        run_1,
        "Transform",
        {"examples": ids["examples"], "schema": ids["schema"]},
        {
            "transform_graph": fake.artifact("TransformGraph", f"{root}/transform_graph/5"),
            "transformed_examples": fake.artifact("Examples", f"{root}/transformed/5"),
            "post_transform_stats": fake.artifact("ExampleStatistics", f"{root}/post_stats/5"),
        },
    )
    ids.update(transform_graph=out["transform_graph"], transformed=out["transformed_examples"])
    ids["post_stats"] = out["post_transform_stats"]
    trainer_inputs = {
        "examples": ids["transformed"],
        "transform_graph": ids["transform_graph"],
        "schema": ids["schema"],
    }
    ids["trainer_1"], out = fake.execute(
        run_1,
        "Trainer",
        trainer_inputs,
        {
            "model": fake.artifact("Model", f"{root}/model/6"),
            "model_run": fake.artifact("ModelRun", f"{root}/run/6"),
        },
        custom_config=_trainer_config(0.05),
        run_fn="lightrank.models.trainer.run_fn",
    )
    ids.update(model_1=out["model"], model_run_1=out["model_run"])
    ids["evaluator_1"], out = fake.execute(
        run_1,
        "Evaluator",
        {"examples": ids["examples"], "model": ids["model_1"]},
        {
            "evaluation": fake.artifact("ModelEvaluation", f"{root}/evaluation/7"),
            "blessing": fake.artifact("ModelBlessing", f"{root}/blessing/7", blessed=1),
        },
    )
    ids.update(evaluation_1=out["evaluation"], blessing_1=out["blessing"])
    ids["pusher_1"], out = fake.execute(
        run_1,
        "Pusher",
        {"model": ids["model_1"], "model_blessing": ids["blessing_1"]},
        {
            "pushed_model": fake.artifact(
                "PushedModel", f"{root}/pushed/8", pushed=1, pushed_destination=f"{root}/serving/100"
            )
        },
    )
    ids["pushed_1"] = out["pushed_model"]

    run_2 = fake.run("run-2")
    cached = pb.Execution.CACHED
    fake.execute(run_2, "ImportExampleGen", outputs={"examples": ids["examples"]}, state=cached)
    fake.execute(run_2, "ImportSchemaGen", outputs={"schema": ids["schema"]}, state=cached)
    # A new learning rate changes the gate's parameters, so it runs again (and records them).
    ids["gate_2"], _ = fake.execute(
        run_2, "AnomalyGate", {"anomalies": ids["anomalies"]}, **recorded("run-2", 0.01)
    )
    fake.execute(
        run_2, "latest_blessed_model_resolver", outputs={"model": ids["model_1"]}, execution_type=RESOLVER
    )
    fake.execute(
        run_2,
        "Transform",
        {"examples": ids["examples"], "schema": ids["schema"]},
        {"transform_graph": ids["transform_graph"], "transformed_examples": ids["transformed"]},
        state=cached,
    )
    ids["trainer_2"], out = fake.execute(
        run_2,
        "Trainer",
        trainer_inputs,
        {
            "model": fake.artifact("Model", f"{root}/model/9"),
            "model_run": fake.artifact("ModelRun", f"{root}/run/9"),
        },
        custom_config=_trainer_config(0.01),
        run_fn="lightrank.models.trainer.run_fn",
    )
    ids.update(model_2=out["model"], model_run_2=out["model_run"])
    ids["evaluator_2"], out = fake.execute(
        run_2,
        "Evaluator",
        {"examples": ids["examples"], "model": ids["model_2"], "baseline_model": ids["model_1"]},
        {
            "evaluation": fake.artifact("ModelEvaluation", f"{root}/evaluation/10"),
            "blessing": fake.artifact("ModelBlessing", f"{root}/blessing/10", blessed=1),
        },
    )
    ids.update(evaluation_2=out["evaluation"], blessing_2=out["blessing"])
    ids["pusher_2"], out = fake.execute(
        run_2,
        "Pusher",
        {"model": ids["model_2"], "model_blessing": ids["blessing_2"]},
        {
            "pushed_model": fake.artifact(
                "PushedModel", f"{root}/pushed/11", pushed=1, pushed_destination=f"{root}/serving/200"
            )
        },
    )
    ids["pushed_2"] = out["pushed_model"]

    run_3 = fake.run("run-3")
    fake.execute(run_3, "ImportExampleGen", outputs={"examples": ids["examples"]}, state=cached)
    fake.execute(
        run_3, "StatisticsGen", {"examples": ids["examples"]}, {"statistics": ids["statistics"]}, state=cached
    )
    ids["gate_3"], _ = fake.execute(
        run_3,
        "AnomalyGate",
        {"anomalies": ids["anomalies"]},
        state=pb.Execution.FAILED,
        **recorded("run-3", 0.01),
    )
    return ids


def add_rerun_with_cached_trainer(fake: FakeTfxStore, ids: dict[str, int], root: str) -> dict[str, int]:
    """Run 4: new settings, the Trainer served from the cache (run 2's model), evaluated, pushed, reported.

    The code version and config digest of run 4 are not those of the model,
    which run 2 trained.
    """
    run_4 = fake.run("run-4")
    ids["gate_4"], _ = fake.execute(
        run_4, "AnomalyGate", {"anomalies": ids["anomalies"]}, **recorded("run-4", 0.01)
    )
    fake.execute(
        run_4,
        "Trainer",
        {"examples": ids["transformed"], "transform_graph": ids["transform_graph"], "schema": ids["schema"]},
        {"model": ids["model_2"], "model_run": ids["model_run_2"]},
        state=pb.Execution.CACHED,
        custom_config=_trainer_config(0.01),
        run_fn="lightrank.models.trainer.run_fn",
    )
    ids["evaluator_4"], out = fake.execute(
        run_4,
        "Evaluator",
        {"examples": ids["examples"], "model": ids["model_2"]},
        {
            "evaluation": fake.artifact("ModelEvaluation", f"{root}/evaluation/12"),
            "blessing": fake.artifact("ModelBlessing", f"{root}/blessing/12", blessed=1),
        },
    )
    ids.update(evaluation_4=out["evaluation"], blessing_4=out["blessing"])
    ids["pusher_4"], out = fake.execute(
        run_4,
        "Pusher",
        {"model": ids["model_2"], "model_blessing": ids["blessing_4"]},
        {
            "pushed_model": fake.artifact(
                "PushedModel", f"{root}/pushed/13", pushed=1, pushed_destination=f"{root}/serving/400"
            )
        },
    )
    ids["pushed_4"] = out["pushed_model"]
    ids["report_4"], _ = fake.execute(
        run_4,
        "RunReport",
        {"evaluation": ids["evaluation_4"], "model": ids["model_2"]},
        {"report": fake.artifact("lightrank.RunReport", f"{root}/report/14")},
        **recorded("run-4", 0.01),
    )
    return ids


def populate_shared_readers(fake: FakeTfxStore, root: str) -> dict[str, int]:
    """One run in which later components read what earlier ones made, as lightrank's do.

    RunReport reads the examples, statistics, anomalies, schema, transform graph, model, its
    run, the evaluation and the blessing; the Pusher (as on Vertex) reads the evaluation as well
    as the model and blessing. Each reader comes after the component a trace role names, so a
    trace that picks "the newest consumer" of an artifact names the wrong execution.

    Returns:
        Artifact and execution ids by name (`gate`, `report`, `pusher`, ...).
    """
    ids: dict[str, int] = {}
    run = fake.run("shared-1")
    _, out = fake.execute(
        run, "ImportExampleGen", outputs={"examples": fake.artifact("Examples", f"{root}/s/examples", span=0)}
    )
    ids["examples"] = out["examples"]
    _, out = fake.execute(
        run, "ImportSchemaGen", outputs={"schema": fake.artifact("Schema", f"{root}/s/schema")}
    )
    ids["schema"] = out["schema"]
    ids["statisticsgen"], out = fake.execute(
        run,
        "StatisticsGen",
        {"examples": ids["examples"], "schema": ids["schema"]},
        {"statistics": fake.artifact("ExampleStatistics", f"{root}/s/statistics")},
    )
    ids["statistics"] = out["statistics"]
    ids["validator"], out = fake.execute(
        run,
        "ExampleValidator",
        {"statistics": ids["statistics"], "schema": ids["schema"]},
        {"anomalies": fake.artifact("ExampleAnomalies", f"{root}/s/anomalies")},
    )
    ids["anomalies"] = out["anomalies"]
    ids["gate"], _ = fake.execute(
        run,
        "AnomalyGate",
        {"anomalies": ids["anomalies"]},
        execution_type="lightrank.components.anomaly_gate.AnomalyGate",
        **recorded("shared-1", 0.05),
    )
    ids["transform"], out = fake.execute(
        run,
        "Transform",
        {"examples": ids["examples"], "schema": ids["schema"]},
        {
            "transform_graph": fake.artifact("TransformGraph", f"{root}/s/transform_graph"),
            "transformed_examples": fake.artifact("Examples", f"{root}/s/transformed"),
        },
    )
    ids.update(transform_graph=out["transform_graph"], transformed=out["transformed_examples"])
    ids["trainer"], out = fake.execute(
        run,
        "Trainer",
        {"examples": ids["transformed"], "transform_graph": ids["transform_graph"], "schema": ids["schema"]},
        {
            "model": fake.artifact("Model", f"{root}/s/model"),
            "model_run": fake.artifact("ModelRun", f"{root}/s/model_run"),
        },
        custom_config=_trainer_config(0.05),
    )
    ids.update(model=out["model"], model_run=out["model_run"])
    ids["evaluator"], out = fake.execute(
        run,
        "Evaluator",
        {"examples": ids["examples"], "model": ids["model"], "schema": ids["schema"]},
        {
            "evaluation": fake.artifact("ModelEvaluation", f"{root}/s/evaluation"),
            "blessing": fake.artifact("ModelBlessing", f"{root}/s/blessing", blessed=1),
        },
    )
    ids.update(evaluation=out["evaluation"], blessing=out["blessing"])
    ids["pusher"], out = fake.execute(
        run,
        "Pusher",
        {"model": ids["model"], "model_blessing": ids["blessing"], "evaluation": ids["evaluation"]},
        {"pushed_model": fake.artifact("PushedModel", f"{root}/s/pushed", pushed=1)},
    )
    ids["pushed"] = out["pushed_model"]
    shared = ("examples", "statistics", "anomalies", "schema", "transform_graph", "model", "model_run")
    ids["report"], out = fake.execute(
        run,
        "RunReport",
        {**{key: ids[key] for key in shared}, "evaluation": ids["evaluation"], "blessing": ids["blessing"]},
        {"report": fake.artifact("lightrank.RunReport", f"{root}/s/report")},
        execution_type="lightrank.components.run_report.component.RunReport",
        **recorded("shared-1", 0.05),
    )
    ids["run_report"] = out["report"]
    return ids
