"""Finding things in ML Metadata by the names people use: `latest-pushed`, a path, an id, a run.

Platform teams ask "which data, code and settings produced the model that is
serving now?". MLMD can answer, but its raw API needs to know how TFX lays out
runs (tensorflow/tfx-addons#12). This module opens the configured store so that
it cannot be written, resolves a model reference (with MLMD `filter_query`s on
types, custom properties and contexts) and a run reference, and turns MLMD's
failures into one clear `LineageError`. The traversal itself is
`lightrank.pipeline.metadata.graph`; the trace of a model is `lightrank.pipeline.metadata.trace`.
"""

from __future__ import annotations

import os
import re

import ml_metadata as mlmd

from lightrank.errors import UserError
from lightrank.models.paths import is_remote
from lightrank.pipeline.config import MetadataConfig
from lightrank.pipeline.metadata.graph import ArtifactInfo, artifact_info, quoted, subgraph
from lightrank.pipeline.metadata.journal import has_journal, journal_path
from lightrank.pipeline.metadata.runs import RunRecord, list_runs, open_store

#: Artifact types `lineage` accepts as "a model".
MODEL_TYPES = ("Model", "PushedModel")


class LineageError(UserError):
    """A lineage question the store cannot answer: no such model, run or artifact, or no runs at all."""


def store_name(config: MetadataConfig) -> str:
    """The store as a person names it: the SQLite path, or `mysql://user@host:port/database`."""
    if config.sqlite is not None:
        return config.sqlite
    assert config.mysql is not None
    mysql = config.mysql
    return f"mysql://{mysql.user}@{mysql.host}:{mysql.port}/{mysql.database}"


def _mysql_failure(config: MetadataConfig, reason: str) -> LineageError:
    """What a failed MySQL connection needs to be fixed: where it went, as whom, and MySQL's own reason.

    ml-metadata words every refused connection as `mysql_real_connect failed:
    errno: <n>, error: <text>`, often with both empty (nothing listening).
    """
    assert config.mysql is not None
    mysql = config.mysql
    password = "set" if os.environ.get(mysql.password_env) else "not set"
    found = re.search(r"errno:\s*([^,]*),\s*error:\s*(.*)", reason, flags=re.DOTALL)
    errno, text = (found.group(1).strip(), found.group(2).strip()) if found else ("", reason)
    why = f"MySQL error {errno}: {text}" if errno or text else "no reason given by MySQL"
    return LineageError(
        f"cannot connect to the ML Metadata store on MySQL at {mysql.host}:{mysql.port}, database "
        f"'{mysql.database}', user '{mysql.user}', password variable {mysql.password_env} {password} "
        f"({why}); check that the server is running and reachable from here and that the user may read "
        "that database"
    )


def open_read_only(config: MetadataConfig) -> mlmd.MetadataStore:
    """Opens the configured store so that nothing can be written (SQLite READONLY; MySQL never created).

    ml-metadata's C++ log line about a failed connection is held back: the
    error raised here says more, in one line.

    Raises:
        FileNotFoundError: The SQLite file does not exist (it is not created).
        LineageError: The file is empty or not an ML Metadata store, or MySQL refused the connection.
    """
    from lightrank.pipeline.console import quiet_stderr

    where = store_name(config)
    with quiet_stderr():
        try:
            return open_store(config)
        except RuntimeError as error:
            failure = error
    reason = str(failure).removeprefix("Error when executing query: ").split(" query: ")[0].strip()
    if config.mysql is not None and "CREATE command denied" in reason:
        # ml-metadata creates its tables in an empty database; a read-only user may not.
        raise LineageError(
            f"the ML Metadata store {where} is empty: it has no ML Metadata tables (no pipeline has "
            "run against it), and this user may not create them, which is as it should be"
        ) from failure
    if config.mysql is not None:
        raise _mysql_failure(config, reason) from failure
    if "readonly database" in reason and has_journal(config.sqlite or ""):
        raise LineageError(
            f"the ML Metadata store {where} holds an unfinished write ({journal_path(config.sqlite or '')}) "
            "that cannot be rolled back from here: the file or its directory is not writable, or its "
            "writer still runs"
        ) from failure
    if "readonly database" in reason:
        raise LineageError(
            f"the ML Metadata store {where} is empty: it has no ML Metadata tables (no pipeline has "
            "run against it)"
        ) from failure
    if "not a database" in reason:
        raise LineageError(f"{where} is not an ML Metadata store ({reason})") from failure
    raise LineageError(f"cannot open the ML Metadata store {where}: {reason}") from failure


def require_runs(
    store: mlmd.MetadataStore, pipeline_name: str, where: str, limit: int = 0
) -> list[RunRecord]:
    """The pipeline's runs, newest first (only the newest `limit` when > 0).

    Raises:
        LineageError: The store holds no run of this pipeline; names the pipelines it does hold.
    """
    runs = list_runs(store, pipeline_name, limit)
    if runs:
        return runs
    others = sorted(c.name for c in store.get_contexts_by_type("pipeline"))
    held = f"it holds runs of: {', '.join(others)}" if others else "it holds no pipeline runs at all"
    raise LineageError(f"the ML Metadata store {where} has no runs of pipeline '{pipeline_name}' ({held})")


def find_run(runs: list[RunRecord], reference: str) -> RunRecord:
    """A run by id, unique id prefix, `latest` or `previous`.

    Raises:
        LineageError: No run, or several runs, match.
    """
    if reference in ("latest", "previous"):
        index = 0 if reference == "latest" else 1
        if index >= len(runs):
            raise LineageError(f"there is no {reference} run (the pipeline has {len(runs)} run(s))")
        return runs[index]
    matches = [r for r in runs if r.run_id == reference] or [
        r for r in runs if r.run_id.startswith(reference)
    ]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(r.run_id for r in runs[:5])
    if not matches:
        raise LineageError(f"no run '{reference}'; the newest are: {known} (see `lightrank runs`)")
    raise LineageError(f"'{reference}' matches {len(matches)} runs; give more of the run id")


def _model_of_push(store: mlmd.MetadataStore, pushed_id: int) -> ArtifactInfo:
    graph = subgraph(store, artifact_query=f"id = {pushed_id}", direction="upstream", hops=2)
    pusher = graph.producer(pushed_id)
    model = graph.inputs(pusher.id).get("model") if pusher else None
    if model is None:
        raise LineageError(f"pushed model {pushed_id} has no recorded Model input")
    return model


def _artifact(store: mlmd.MetadataStore, artifact_id: int) -> ArtifactInfo | None:
    found = store.get_artifacts_by_id([artifact_id])
    return artifact_info(found[0]) if found else None


def resolve_model(store: mlmd.MetadataStore, pipeline_name: str, reference: str) -> ArtifactInfo:
    """The Model artifact named by `latest-pushed`, a path or an artifact id.

    A path may be a Model artifact's directory (or its `Format-Serving`), or a
    pushed (serving) directory; an id may be a Model's or a PushedModel's.

    Raises:
        LineageError: Nothing matches, or the artifact is not a model.
    """
    if reference == "latest-pushed":
        pushed = store.get_artifacts(
            list_options=mlmd.ListOptions(
                filter_query=(
                    "type = 'PushedModel' AND custom_properties.pushed.int_value = 1 AND "
                    f"contexts_a.type = 'pipeline' AND contexts_a.name = {quoted(pipeline_name)}"
                ),
                order_by=mlmd.OrderByField.CREATE_TIME,
                is_asc=False,
                limit=1,
            )
        )
        if not pushed:
            raise LineageError(f"pipeline '{pipeline_name}' has not pushed a model yet")
        return _model_of_push(store, pushed[0].id)
    artifact = find_artifact(store, reference)
    if artifact.type == "PushedModel":
        return _model_of_push(store, artifact.id)
    if artifact.type not in MODEL_TYPES:
        raise LineageError(
            f"artifact {artifact.id} is not a model but of type {artifact.type} ({artifact.uri}); lineage "
            f"traces a {' or '.join(MODEL_TYPES)}. To see what used it: "
            f"lightrank lineage --downstream {artifact.id}"
        )
    return artifact


def find_artifact(store: mlmd.MetadataStore, reference: str) -> ArtifactInfo:
    """Any artifact, by id or by path (its directory, a model's `Format-Serving`, or a pushed directory).

    Raises:
        LineageError: No artifact has that id or path.
    """
    if reference.isdigit():
        artifact = _artifact(store, int(reference))
        if artifact is None:
            raise LineageError(f"there is no artifact with id {reference} in the store")
        return artifact
    return _artifact_at(store, reference)


def _artifact_at(store: mlmd.MetadataStore, path: str) -> ArtifactInfo:
    path = path.rstrip("/") if is_remote(path) else os.path.abspath(path)
    candidates = [path, os.path.dirname(path)] if os.path.basename(path) == "Format-Serving" else [path]
    for uri in candidates:
        found = store.get_artifacts(list_options=mlmd.ListOptions(filter_query=f"uri = {quoted(uri)}"))
        if found:
            return artifact_info(found[-1])
    pushed = store.get_artifacts(
        list_options=mlmd.ListOptions(
            filter_query=f"custom_properties.pushed_destination.string_value = {quoted(path)}"
        )
    )
    if pushed:
        return artifact_info(pushed[-1])
    raise LineageError(f"no artifact in the store is at {path} (a model, Format-Serving or pushed directory)")
