"""Reading pipeline runs back from ML Metadata.

TFX records each run as a `pipeline_run` context, each component as a `node`
context named `<pipeline>.<component id>`, and each component execution with
its state and timestamps. This module turns that into plain records: which
component ran (or was served from the cache) for how long, whether the model was
blessed and pushed, and where it went. It only reads the store.

A run's status comes first from what `lightrank run` recorded when it ended early: the
custom properties `lightrank_status` (`cancelled` or `failed`) and `lightrank_ended` (ms since
the epoch) on its `pipeline_run` context (written by `lightrank.pipeline.local_runner`). Only
then from its executions: a run whose process died records nothing, and its executions stay
RUNNING for ever; on a SQLite store the run lock (`lightrank.pipeline.run_lock`) tells such an
`abandoned` run from one still `running`.
"""

from __future__ import annotations

import dataclasses
import datetime
import os

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

from lightrank.pipeline.config import MetadataConfig
from lightrank.pipeline.io import utc_from_millis
from lightrank.pipeline.metadata.journal import roll_back_interrupted_write
from lightrank.pipeline.metadata.spans import spans_read
from lightrank.pipeline.run_lock import LockState, lock_path, lock_state

#: Custom properties of a `pipeline_run` context that `lightrank run` writes when a run ends early.
STATUS_PROPERTY = "lightrank_status"
ENDED_PROPERTY = "lightrank_ended"
#: The values of `STATUS_PROPERTY`.
CANCELLED, FAILED, COMPLETE = "cancelled", "failed", "complete"
#: The last component of every run `create_pipeline` builds (its report).
LAST_COMPONENT = "RunReport"
#: PushedModel custom property the verified Pusher writes when the model is already pushed, whole
#: (`lightrank.components.verified_pusher.ALREADY_PUSHED_PROPERTY`; not imported: it loads TensorFlow).
ALREADY_PUSHED_PROPERTY = "already_pushed_destination"

_STATES = {
    metadata_store_pb2.Execution.NEW: "new",
    metadata_store_pb2.Execution.RUNNING: "running",
    metadata_store_pb2.Execution.COMPLETE: "complete",
    metadata_store_pb2.Execution.FAILED: "failed",
    metadata_store_pb2.Execution.CACHED: "cached",
    metadata_store_pb2.Execution.CANCELED: "canceled",
}


@dataclasses.dataclass(frozen=True)
class ComponentRun:
    """One component's execution within a run."""

    component: str
    state: str
    seconds: float
    execution_id: int


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """One pipeline run as recorded in ML Metadata.

    Attributes:
        status: "complete" (every recorded component finished or came from the
            cache), "failed" (a component failed, e.g. the anomaly gate, or the run
            recorded a failure), "cancelled" (stopped by Ctrl-C or SIGTERM),
            "running" (a component has not finished and the run's process holds the
            run lock, or the lock cannot be checked: a MySQL store) or "abandoned"
            (a component has not finished, yet no process holds the SQLite store's run
            lock for this run: its process died without recording an outcome).
        failed_component: The first component that failed, if any.
        started, ended: UTC times of the first execution's start and the last
            execution's last update, or the recorded end of a cancelled or failed run
            (None while running, when abandoned or without executions).
        evaluation_id: The id of the ModelEvaluation artifact at `evaluation_uri`.
        already_pushed: When the Pusher pushed nothing because this model already has a
            complete push: that version directory.
    """

    run_id: str
    components: tuple[ComponentRun, ...]
    blessed: bool | None
    pushed_model: str | None
    evaluation_uri: str | None
    model_uri: str | None
    status: str = "complete"
    failed_component: str | None = None
    started: datetime.datetime | None = None
    ended: datetime.datetime | None = None
    evaluation_id: int | None = None
    spans: dict[str, list[int]] | None = None
    already_pushed: str | None = None


def _mysql_connection(config: MetadataConfig) -> metadata_store_pb2.ConnectionConfig:
    assert config.mysql is not None
    mysql = config.mysql
    return metadata_store_pb2.ConnectionConfig(
        mysql=metadata_store_pb2.MySQLDatabaseConfig(
            host=mysql.host,
            port=mysql.port,
            database=mysql.database,
            user=mysql.user,
            password=os.environ.get(mysql.password_env, ""),
        )
    )


def connection_config(config: MetadataConfig) -> metadata_store_pb2.ConnectionConfig:
    """The MLMD connection the pipeline writes through (SQLite file, created if missing, or MySQL).

    Built from ml-metadata's protos directly (as TFX's helpers do) so that reading
    runs does not import TFX, and with it TensorFlow (about 15 s).
    """
    if config.sqlite is None:
        return _mysql_connection(config)
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = config.sqlite
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return connection


def read_only_connection_config(config: MetadataConfig) -> metadata_store_pb2.ConnectionConfig:
    """A connection that cannot change the store: SQLite opened READONLY, MySQL never creating a database."""
    if config.sqlite is None:
        connection = _mysql_connection(config)
        connection.mysql.skip_db_creation = True
        return connection
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = config.sqlite
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return connection


class ConfiguredStore(mlmd.MetadataStore):
    """A store that remembers the config it was opened with.

    Every reader gets its store from `open_store`; keeping the config on it lets
    `list_runs` find the SQLite store's run lock without a new argument on every caller.
    """

    def __init__(self, config: MetadataConfig) -> None:
        super().__init__(read_only_connection_config(config))
        self.metadata_config = config


def open_store(config: MetadataConfig) -> mlmd.MetadataStore:
    """Opens the store for reading: a missing SQLite file is an error, never created.

    An SQLite write cut short by a killed process is rolled back first (`journal`): a
    READONLY connection cannot read past it.
    """
    if config.sqlite is not None and not os.path.isfile(config.sqlite):
        raise FileNotFoundError(f"no ML Metadata store at {config.sqlite} (has the pipeline run yet?)")
    if config.sqlite is not None:
        roll_back_interrupted_write(config.sqlite)
    return ConfiguredStore(config)


def _lock_state(store: mlmd.MetadataStore) -> LockState | None:
    """The SQLite store's run lock, probed once per listing (None: not knowable, e.g. MySQL).

    On MySQL the lock is per machine and other orchestrators (Kubeflow, Vertex AI) write
    runs too, so a free local lock says nothing about a run there.
    """
    config = getattr(store, "metadata_config", None)
    if not isinstance(config, MetadataConfig) or config.sqlite is None:
        return None
    return lock_state(lock_path(config, "", ""))


def _output_artifacts(store: mlmd.MetadataStore, execution_id: int) -> list[metadata_store_pb2.Artifact]:
    events = store.get_events_by_execution_ids([execution_id])
    ids = [
        e.artifact_id
        for e in events
        if e.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.PENDING_OUTPUT)
    ]
    return list(store.get_artifacts_by_id(ids)) if ids else []


def latest_run(store: mlmd.MetadataStore, pipeline_name: str) -> RunRecord | None:
    """The newest run of a pipeline, or None if it never ran."""
    runs = list_runs(store, pipeline_name)
    return runs[0] if runs else None


def run_by_id(store: mlmd.MetadataStore, pipeline_name: str, run_id: str) -> RunRecord | None:
    """Exactly the run `run_id` of a pipeline (None if it recorded nothing yet).

    `lightrank run` reads its own run back by the id it gave TFX: the newest run
    of the pipeline may be another process's (docs/reliability.md, Concurrent and interrupted runs).
    """
    context = store.get_context_by_type_and_name("pipeline_run", run_id)
    if context is None:
        return None
    return _run_record(store, context, _Known(_node_names(store, pipeline_name), _lock_state(store)))


def _node_names(store: mlmd.MetadataStore, pipeline_name: str) -> dict[int, str]:
    """Component id by execution id, from the pipeline's `node` contexts."""
    node_names = {}
    for node in store.get_contexts_by_type("node"):
        if node.name.startswith(pipeline_name + "."):
            for execution in store.get_executions_by_context(node.id):
                node_names[execution.id] = node.name[len(pipeline_name) + 1 :]
    return node_names


def list_runs(store: mlmd.MetadataStore, pipeline_name: str, limit: int = 0) -> list[RunRecord]:
    """The runs of a pipeline, newest first: all of them, or only the newest `limit` (when > 0).

    The limit is applied to the run contexts before any run's record is read
    (each record reads its executions' output events), so `lightrank runs
    --limit 5` costs the same on a store of five runs as on one of five thousand.
    """
    pipeline_context = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if pipeline_context is None:
        return []
    run_contexts = [
        c for c in store.get_children_contexts_by_context(pipeline_context.id) if c.type == "pipeline_run"
    ] or [c for c in store.get_contexts_by_type("pipeline_run")]
    run_contexts.sort(key=lambda c: (c.create_time_since_epoch, c.id), reverse=True)
    if limit > 0:
        run_contexts = run_contexts[:limit]
    known = _Known(_node_names(store, pipeline_name), _lock_state(store))
    return [_run_record(store, context, known) for context in run_contexts]


def _status(
    components: list[ComponentRun], context: metadata_store_pb2.Context, lock: LockState | None
) -> tuple[str, str | None]:
    """The run's status: what the run recorded when it ended, else what its executions and the lock say.

    Args:
        components: The run's executions.
        context: The run's `pipeline_run` context (its custom properties, its name = run id).
        lock: The store's run lock (None when it cannot be known: MySQL, or no lock file yet).
    """
    failed = [c.component for c in components if c.state == "failed"]
    properties = context.custom_properties
    recorded = properties[STATUS_PROPERTY].string_value if STATUS_PROPERTY in properties else ""
    if recorded in (CANCELLED, FAILED, COMPLETE):
        return recorded, failed[0] if failed else None
    if failed:
        return "failed", failed[0]
    unfinished = not components or any(c.state in ("new", "running") for c in components)
    if lock is None:  # MySQL, or a store no `lightrank run` has locked: the executions say it
        return ("running" if unfinished else "complete"), None
    holder_run = lock.holder.run_id if lock.holder else None
    if lock.held and (holder_run is None or holder_run == context.name):
        return "running", None
    # Not running and no end recorded: a run killed between components leaves only finished
    # executions, so "all finished" is not "complete"; only a run that got to its last
    # component (a run from before ends were recorded) counts as complete without a record.
    if not unfinished and any(c.component == LAST_COMPONENT for c in components):
        return "complete", None
    return "abandoned", None


@dataclasses.dataclass(frozen=True)
class _Known:
    """What every run's record needs, read once per listing.

    Attributes:
        node_names: Component id by execution id.
        lock: The store's run lock (None when it cannot be known).
    """

    node_names: dict[int, str]
    lock: LockState | None


def _run_record(store: mlmd.MetadataStore, context: metadata_store_pb2.Context, known: _Known) -> RunRecord:
    executions = sorted(
        store.get_executions_by_context(context.id), key=lambda e: (e.create_time_since_epoch, e.id)
    )
    components, blessed, pushed, evaluation_uri, model_uri, evaluation_id = [], None, None, None, None, None
    spans = already_pushed = None
    for execution in executions:
        name = known.node_names.get(execution.id, execution.type)
        seconds = max(
            0.0, (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000.0
        )
        components.append(
            ComponentRun(name, _STATES.get(execution.last_known_state, "unknown"), seconds, execution.id)
        )
        for artifact in _output_artifacts(store, execution.id):
            if artifact.type == "ModelBlessing":
                blessed = artifact.custom_properties["blessed"].int_value == 1
            elif artifact.type == "PushedModel" and artifact.custom_properties["pushed"].int_value == 1:
                pushed = artifact.custom_properties["pushed_destination"].string_value
            elif artifact.type == "PushedModel" and ALREADY_PUSHED_PROPERTY in artifact.custom_properties:
                already_pushed = artifact.custom_properties[ALREADY_PUSHED_PROPERTY].string_value or None
            elif artifact.type == "ModelEvaluation":
                evaluation_uri, evaluation_id = artifact.uri, artifact.id
            elif artifact.type == "Model":
                model_uri = artifact.uri
            elif artifact.type == "Examples":  # ExampleGen's, not Transform's (which has none)
                values = {k: v.string_value for k, v in artifact.custom_properties.items()}
                spans = spans_read(values) or spans
    status, failed_component = _status(components, context, known.lock)
    first = executions[0].create_time_since_epoch if executions else context.create_time_since_epoch
    started = utc_from_millis(first)
    ended = None
    if ENDED_PROPERTY in context.custom_properties:
        ended = utc_from_millis(context.custom_properties[ENDED_PROPERTY].int_value)
    elif executions and status not in ("running", "abandoned"):
        ended = utc_from_millis(max(e.last_update_time_since_epoch for e in executions))
    return RunRecord(
        context.name,
        tuple(components),
        blessed,
        pushed,
        evaluation_uri,
        model_uri,
        status=status,
        failed_component=failed_component,
        started=started,
        ended=ended,
        evaluation_id=evaluation_id,
        spans=spans,
        already_pushed=already_pushed,
    )
