"""A pipeline run recorded in a MySQL ML Metadata store, read back by `runs`, `lineage` and `compare`.

Platform teams share one MySQL store between pipelines and people. This runs the tiny
pipeline against a real MySQL-protocol server (MariaDB in CI: `.ci/run` installs and starts
it) and reads it back through the same commands as the SQLite store, read-only.

The server comes from `LIGHTRANK_TEST_MYSQL` (`host:port:user`, the password in
`LIGHTRANK_TEST_MYSQL_PASSWORD`); each test module uses a database of its own and drops it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from e2e_support import run, tiny_config

from lightrank.cli import main
from lightrank.pipeline.config import PipelineConfig

pytestmark = pytest.mark.e2e

PASSWORD_ENV = "LIGHTRANK_TEST_MYSQL_PASSWORD"


def _server() -> tuple[str, int, str]:
    spec = os.environ.get("LIGHTRANK_TEST_MYSQL")
    if not spec:
        if os.environ.get("CI"):
            pytest.fail("LIGHTRANK_TEST_MYSQL is not set (.ci/run starts MariaDB and sets it)")
        pytest.skip("no MySQL server: set LIGHTRANK_TEST_MYSQL=host:port:user (see .ci/run)")
    host, port, user = spec.split(":")
    return host, int(port), user


def _connection(database: str | None):
    import ml_metadata as mlmd
    from ml_metadata.proto import metadata_store_pb2

    host, port, user = _server()
    return mlmd, metadata_store_pb2.ConnectionConfig(
        mysql=metadata_store_pb2.MySQLDatabaseConfig(
            host=host,
            port=port,
            user=user,
            password=os.environ.get(PASSWORD_ENV, ""),
            database=database or "",
        )
    )


def _metadata_override(database: str) -> str:
    host, port, user = _server()
    return (
        f"metadata={{mysql: {{host: '{host}', port: {port}, database: {database}, user: {user}, "
        f"password_env: {PASSWORD_ENV}}}}}"
    )


def _config_file(config: PipelineConfig, path: Path) -> str:
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return str(path)


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def mysql_run(tmp_path_factory: pytest.TempPathFactory, tiny_data: str):
    """One pushed run in a fresh MySQL database; the database is dropped afterwards."""
    _server()
    database = f"lightrank_e2e_{uuid.uuid4().hex[:10]}"
    workdir = tmp_path_factory.mktemp("mysql")
    config = tiny_config(workdir, tiny_data, _metadata_override(database))
    assert config.metadata.sqlite is None and config.metadata.mysql.database == database
    run(config, workdir)
    yield config, _config_file(config, workdir / "config.yaml")
    _drop(database)


def _sql(statements: str, *, check: bool = True) -> str:
    """Runs SQL with the server's own client (ml-metadata cannot create users or drop databases)."""
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        pytest.skip("no mariadb/mysql client to administer the test server")
    host, port, user = _server()
    done = subprocess.run(
        [client, f"-h{host}", f"-P{port}", f"-u{user}", "--batch", "--skip-column-names", "-e", statements],
        env={**os.environ, "MYSQL_PWD": os.environ.get(PASSWORD_ENV, "")},
        check=check,
        capture_output=True,
        text=True,
    )
    return done.stdout


def _drop(database: str) -> None:
    _sql(f"DROP DATABASE IF EXISTS {database}", check=False)


def _store_counts(database: str) -> tuple[int, int, int, int]:
    mlmd, connection = _connection(database)
    store = mlmd.MetadataStore(connection)
    executions = store.get_executions()
    events = store.get_events_by_execution_ids([execution.id for execution in executions])
    return len(executions), len(store.get_artifacts()), len(events), len(store.get_contexts())


def test_runs_and_lineage_read_a_mysql_store_without_writing_to_it(mysql_run, capsys):
    config, config_file = mysql_run
    before = _store_counts(config.metadata.mysql.database)

    code, out, err = _cli(["runs", "--json", "--config", config_file], capsys)
    assert code == 0, err
    (listed,) = json.loads(out)
    assert listed["status"] == "complete" and listed["blessed"] is True
    assert listed["pushed_model"].startswith(config.serving_dir)
    components = {c["component"]: c["state"] for c in listed["components"]}
    assert {"ImportExampleGen", "Transform", "Trainer", "Evaluator", "Pusher"} <= set(components)

    code, out, err = _cli(["lineage", "latest-pushed", "--json", "--config", config_file], capsys)
    assert code == 0, err
    traced = json.loads(out)
    assert traced["push"]["destination"] == listed["pushed_model"]
    assert traced["model"]["run_id"] == listed["run_id"]
    assert traced["evaluation"]["blessing"]["blessed"] is True
    assert traced["trainer"]["config_digest"] == config.digest()

    code, out, err = _cli(["compare", "latest", "latest", "--config", config_file], capsys)
    assert code == 0, err
    assert "auc_unweighted" in out

    assert _store_counts(config.metadata.mysql.database) == before


def test_an_unreachable_mysql_server_is_one_clear_error(tmp_path, capsys):
    port = _server()[1]
    config = tiny_config(
        tmp_path, "unused", _metadata_override("nowhere").replace(f"port: {port}", "port: 1")
    )
    code, _, err = _cli(["runs", "--config", _config_file(config, tmp_path / "c.yaml")], capsys)
    assert code == 2
    assert err.startswith("lightrank: error: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_read_only_user_on_an_empty_database_is_told_so_and_creates_nothing(tmp_path, capsys, monkeypatch):
    database = f"lightrank_empty_{uuid.uuid4().hex[:10]}"
    reader = f"reader_{uuid.uuid4().hex[:8]}"
    host = _server()[0]
    grants = "; ".join(
        f"CREATE USER '{reader}'@'{name}' IDENTIFIED BY 'read-only'; "
        f"GRANT SELECT ON {database}.* TO '{reader}'@'{name}'"
        for name in ("localhost", "127.0.0.1")
    )
    _sql(f"CREATE DATABASE {database}; {grants}")
    try:
        override = _metadata_override(database).replace(f"user: {_server()[2]}", f"user: {reader}")
        override = override.replace(PASSWORD_ENV, "READER_PASSWORD")
        config = tiny_config(tmp_path, "unused", override)
        monkeypatch.setenv("READER_PASSWORD", "read-only")
        code, _, err = _cli(["runs", "--config", _config_file(config, tmp_path / "c.yaml")], capsys)
        assert code == 2
        assert err.strip() == (
            f"lightrank: error: the ML Metadata store mysql://{reader}@{host}:{_server()[1]}/{database} is "
            "empty: it has no ML Metadata tables (no pipeline has run against it), and this user may not "
            "create them, which is as it should be"
        )
        assert _sql(f"SHOW TABLES FROM {database}") == ""
    finally:
        _sql(f"DROP USER IF EXISTS '{reader}'@'localhost', '{reader}'@'127.0.0.1'", check=False)
        _drop(database)
