"""Migrations on SQLite and PostgreSQL: the revisions make the models' schema, start-up refuses a database that is
not at head, a failed revision leaves nothing behind, an older database is adopted, bad URLs are named."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, inspect, text
from sqlmodel import SQLModel

from voice_app.config import PROJECT_ROOT
from voice_app.database import DatabaseUnreachable, SchemaOutdated, connect_database, create_schema, make_engine
from voice_app.migrations import (
    BASELINE_REVISION,
    REVISIONS,
    VERSIONS_DIR,
    MigrationFailed,
    Revisions,
    current_revision,
    differences,
    ensure_at_head,
    upgrade_database,
)

EXTRA_REVISION = "test_extra"
PROBE_TABLE = "migration_probe"


def revisions_with_extra(folder: Path, upgrade_body: str) -> Revisions:
    """A copy of the shipped revisions plus one after the head, whose upgrade() runs `upgrade_body`."""
    folder.mkdir()
    for script in VERSIONS_DIR.glob("*.py"):
        shutil.copy(script, folder)
    (folder / f"{EXTRA_REVISION}.py").write_text(
        f'"""A revision of this test only."""\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f"revision = {EXTRA_REVISION!r}\ndown_revision = {REVISIONS.head()!r}\nbranch_labels = None\n"
        f"depends_on = None\n\n\ndef upgrade() -> None:\n{textwrap.indent(textwrap.dedent(upgrade_body), '    ')}\n"
    )
    return Revisions(folder)


CREATES_PROBE_TABLE = f"""
op.create_table({PROBE_TABLE!r}, sa.Column("id", sa.Integer(), primary_key=True))
op.execute("INSERT INTO {PROBE_TABLE} (id) VALUES (1)")
"""


def state(engine):
    with engine.connect() as connection:
        return current_revision(connection), set(inspect(connection).get_table_names())


def run_cli(*args: str, database_url: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "VOICE_APP_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "voice_app.cli", *args], env=environment, capture_output=True, text=True, timeout=120
    )


def test_the_migrations_make_the_models_schema(database_url):
    engine = make_engine(database_url)
    report = upgrade_database(engine)
    assert report.applied[0] == BASELINE_REVISION and report.after == REVISIONS.head()
    with engine.connect() as connection:
        assert differences(connection) == []
    engine.dispose()


def test_db_check_passes_at_head_and_a_model_column_missing_from_the_migrations_is_found(database_url):
    assert run_cli("db", "check", database_url=database_url).returncode == 1  # empty: not at head
    upgraded = run_cli("db", "upgrade", database_url=database_url)
    assert upgraded.returncode == 0, upgraded.stderr
    checked = run_cli("db", "check", database_url=database_url)
    assert checked.returncode == 0, checked.stderr
    assert "agree" in checked.stdout

    models_with_a_new_column = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(models_with_a_new_column)
    models_with_a_new_column.tables["calls"].append_column(Column("wait_seconds", Integer, nullable=True))
    engine = make_engine(database_url)
    with engine.connect() as connection:
        found = differences(connection, models_with_a_new_column)
    engine.dispose()
    assert [(kind, table, column.name) for kind, _schema, table, column in found] == [
        ("add_column", "calls", "wait_seconds")
    ]


def test_start_up_makes_an_empty_database_and_refuses_one_behind_the_head(database_url, tmp_path):
    engine = make_engine(database_url)
    create_schema(engine)
    assert state(engine)[0] == REVISIONS.head()
    create_schema(engine)  # at head: nothing to do

    newer = revisions_with_extra(tmp_path / "versions", CREATES_PROBE_TABLE)
    with pytest.raises(
        SchemaOutdated,
        match=rf"at revision {REVISIONS.head()}, this version needs {EXTRA_REVISION}: "
        r"run `voice-app db upgrade`",
    ):
        ensure_at_head(engine, newer)
    assert upgrade_database(engine, revisions=newer).applied == [EXTRA_REVISION]
    ensure_at_head(engine, newer)
    # and an older version meets a revision it does not know
    with pytest.raises(SchemaOutdated, match=f"revision {EXTRA_REVISION}, which this version does not know"):
        create_schema(engine)
    engine.dispose()


def test_a_failed_revision_leaves_the_database_as_it_was(database_url, tmp_path):
    engine = make_engine(database_url)
    upgrade_database(engine)
    before = state(engine)
    failing = revisions_with_extra(
        tmp_path / "versions", CREATES_PROBE_TABLE + 'raise RuntimeError("this revision breaks on purpose")\n'
    )
    with pytest.raises(
        MigrationFailed,
        match=rf"revision {EXTRA_REVISION} \(A revision of this test only.\) failed.*"
        r"breaks on purpose.*rolled back",
    ):
        upgrade_database(engine, revisions=failing)
    assert state(engine) == before
    assert PROBE_TABLE not in before[1]
    engine.dispose()


def test_pysqlite_on_its_own_would_keep_the_ddl_of_a_failed_transaction(tmp_path):
    """Why the migrations take SQLite's transactions into their own hands: Python's sqlite3 (before 3.12's
    autocommit attribute) begins a transaction only before INSERT, UPDATE and DELETE, so a CREATE TABLE is committed
    at once. If this test fails, the driver has changed and the explicit BEGIN may no longer be needed."""
    engine = make_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    with pytest.raises(RuntimeError), engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE TABLE {PROBE_TABLE} (id INTEGER PRIMARY KEY)")
        raise RuntimeError("rolled back")
    assert PROBE_TABLE in inspect(engine).get_table_names()
    engine.dispose()


def test_a_database_of_the_release_before_migrations_is_adopted(database_url):
    engine = make_engine(database_url)
    # What the previous release made at start-up: the baseline's tables, no version table. Not today's models'
    # create_all, which later revisions have moved on from.
    upgrade_database(engine, BASELINE_REVISION)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    with pytest.raises(SchemaOutdated, match="made by the release before migrations; run `voice-app db upgrade`"):
        create_schema(engine)
    report = upgrade_database(engine)
    assert report.adopted and report.after == REVISIONS.head()
    with engine.connect() as connection:
        assert differences(connection) == []
    engine.dispose()


def test_a_database_that_is_not_the_previous_releases_is_not_adopted(database_url):
    engine = make_engine(database_url)
    # The previous release's tables but one index, so that the difference named is that one (today's models differ
    # from the baseline in more than the ten differences the message lists).
    upgrade_database(engine, BASELINE_REVISION)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(text("DROP INDEX ix_calls_caller"))
    with pytest.raises(SchemaOutdated, match=r"not the baseline's.*refusing to adopt it.*ix_calls_caller"):
        upgrade_database(engine)
    revision, tables = state(engine)
    assert revision is None and "alembic_version" not in tables
    engine.dispose()


@pytest.mark.parametrize(
    "url, reason",
    [
        ("mysqlish://db.example/hotline", "names a database or driver SQLAlchemy does not know"),
        ("postgresql+pg8000://hotline@127.0.0.1/hotline", "driver .* needs is not installed"),
        (
            "postgresql+psycopg://hotline:secret@127.0.0.1:1/hotline",
            "cannot connect to .*:\\*\\*\\*@.*Connection refused",
        ),
        ("sqlite:///{tmp}/a-file/hotline.db", "cannot create the folder"),
    ],
)
def test_a_bad_database_url_is_named_without_a_traceback(url, reason, tmp_path):
    (tmp_path / "a-file").write_text("a file where a folder should be")
    url = url.format(tmp=tmp_path)
    with pytest.raises(DatabaseUnreachable, match=f"^VOICE_APP_DATABASE_URL: .*{reason}") as raised:
        connect_database(url, "VOICE_APP_DATABASE_URL")
    assert "secret" not in str(raised.value)
    shown = run_cli("db", "current", database_url=url)
    assert shown.returncode == 1
    assert shown.stderr.startswith("Error: VOICE_APP_DATABASE_URL: ") and "Traceback" not in shown.stderr


def test_a_database_name_the_server_does_not_have_is_named(postgres_server):
    with pytest.raises(DatabaseUnreachable, match='database.url: cannot connect .*"no_such_database" does not exist'):
        connect_database(postgres_server.url("no_such_database"), "database.url")


def test_the_server_names_the_setting_before_loading_anything(base_settings, tmp_path):
    import dataclasses

    from voice_app.services import build_services

    (tmp_path / "a-file").write_text("")
    settings = dataclasses.replace(base_settings, database_url=f"sqlite:///{tmp_path}/a-file/hotline.db")
    with pytest.raises(DatabaseUnreachable, match="^database.url: cannot create the folder"):
        build_services(settings, auth_token="t", secret_key="k" * 32)


def test_instances_starting_together_on_an_empty_database_both_come_up_at_head(database_url):
    """Several instances started at once (a deploy, a restart after a crash) must not race to create the schema:
    the migration lock makes the later ones wait and then find the database at head."""
    import threading

    engines = [make_engine(database_url) for _ in range(4)]
    start = threading.Barrier(len(engines))
    failures: list[BaseException] = []

    def start_up(engine):
        start.wait()
        try:
            create_schema(engine)
        except BaseException as error:  # collected: an exception on a thread would otherwise be lost
            failures.append(error)

    threads = [threading.Thread(target=start_up, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert failures == []
        assert state(engines[0])[0] == REVISIONS.head()
        with engines[0].connect() as connection:
            assert differences(connection) == []
    finally:
        for engine in engines:
            engine.dispose()
