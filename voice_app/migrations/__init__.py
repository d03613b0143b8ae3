"""Schema migrations with Alembic: which revision a database is at, bringing it to the head revision in one
transaction, adopting a database made by the release before migrations, and checking that the models and the
migrations agree.

This module does not import the models; `voice_app.database` does, and imports this module, so the shared
metadata is complete whenever these functions run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command as alembic_command  # as: this package has a `command` submodule of its own
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

MIGRATIONS_DIR = Path(__file__).resolve().parent
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
BASELINE_REVISION = "0001"
UPGRADE_COMMAND = "voice-app db upgrade"
VERSION_TABLE = "alembic_version"
# Any fixed number: every instance takes the same PostgreSQL lock before it reads or changes the schema, so two
# instances starting on an empty database do not both create it.
MIGRATION_LOCK_KEY = 7_402_118_001
BASELINE_PROBE_SCHEMA = "voice_app_baseline_probe"


class DatabaseNotReady(RuntimeError):
    """The database cannot be used as it is; the message says what to do."""


class SchemaOutdated(DatabaseNotReady):
    """The database is not at the head revision of this version."""


class MigrationFailed(DatabaseNotReady):
    """A revision failed; the transaction was rolled back, so the database is as it was before the upgrade."""


@dataclass(frozen=True)
class Revisions:
    """The migration scripts of one versions folder (tests use a copy with revisions of their own)."""

    versions_dir: Path = VERSIONS_DIR

    def config(self, connection: Connection | None = None, **attributes: Any) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        # split version_locations on os.pathsep only, so a folder with a space in its name stays one folder
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", str(self.versions_dir))
        config.attributes.update(connection=connection, **attributes)
        return config

    def script(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(self.config())

    def head(self) -> str:
        head = self.script().get_current_head()
        if head is None:
            raise RuntimeError(f"no revisions in {self.versions_dir}: the package is incomplete")
        return head

    def known(self, revision: str) -> bool:
        return revision in {script.revision for script in self.script().walk_revisions()}

    def pending(self, current: str | None, target: str = "head") -> list[str]:
        """The revisions an upgrade from `current` to `target` applies, oldest first."""
        steps = self.script().iterate_revisions(target, current or "base")
        return [script.revision for script in reversed(list(steps))]


REVISIONS = Revisions()


def describe(engine_or_connection: Engine | Connection) -> str:
    return engine_or_connection.engine.url.render_as_string(hide_password=True)


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def application_tables(connection: Connection) -> list[str]:
    return [name for name in inspect(connection).get_table_names() if name != VERSION_TABLE]


@contextmanager
def migration_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside one transaction that holds the migration lock: everything done with it is kept
    together on success, or none of it on an exception."""
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            with _sqlite_transaction(connection):
                yield connection
            return
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            yield connection


@contextmanager
def _sqlite_transaction(connection: Connection) -> Iterator[None]:
    # pysqlite (Python < 3.12) opens a transaction only before INSERT, UPDATE and DELETE, so CREATE, ALTER and
    # DROP would each commit at once and a failed revision would leave half its changes. With the driver's own
    # transaction handling off, an explicit BEGIN covers DDL as well; IMMEDIATE takes the write lock at once, so
    # a second process waits instead of migrating the same file. Foreign keys are off meanwhile because batch
    # mode copies and drops tables others refer to; the pragma only works outside a transaction, and
    # foreign_key_check before the commit makes sure nothing was left dangling.
    driver = connection.connection.driver_connection
    assert driver is not None  # the connection is open: the caller holds it
    isolation_level = driver.isolation_level
    driver.isolation_level = None
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield
            dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if dangling:
                raise MigrationFailed(f"the migration left rows whose foreign keys point nowhere: {dangling[:5]}")
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
        driver.isolation_level = isolation_level


def upgrade(connection: Connection, target: str = "head", revisions: Revisions = REVISIONS) -> list[str]:
    """Applies the revisions from the current one to `target` on a connection from `migration_transaction`;
    returns those applied. A failure is raised as MigrationFailed naming the revision."""
    current = current_revision(connection)
    try:
        pending = revisions.pending(current, target)
    except CommandError as error:  # e.g. a target older than the current revision: upgrades only go forward
        raise DatabaseNotReady(f"cannot upgrade from revision {current} to {target}: {error}") from None
    applied: list[str] = []

    def record(*, step, **_ignored) -> None:
        applied.extend(step.up_revision_ids)

    try:
        alembic_command.upgrade(revisions.config(connection, on_version_apply=record), target)
    except Exception as error:
        failed = next((revision for revision in pending if revision not in applied), target)
        script = revisions.script().get_revision(failed) if failed in pending else None
        title = f" ({script.doc})" if script is not None and script.doc else ""
        raise MigrationFailed(
            f"migration to revision {failed}{title} failed on {describe(connection)}: {error}; the upgrade was "
            f"rolled back, so the database is as it was before it"
        ) from error
    return applied


def stamp(connection: Connection, revision: str, revisions: Revisions = REVISIONS) -> None:
    MigrationContext.configure(connection).stamp(revisions.script(), revision)


def differences(connection: Connection, metadata: MetaData | None = None) -> list[Any]:
    """What autogenerate would write to make the database match the models: empty when they agree."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, SQLModel.metadata if metadata is None else metadata)


def baseline_differences(connection: Connection, revisions: Revisions = REVISIONS) -> list[Any]:
    """How a database without a revision differs from the baseline revision's schema, compared with a
    reference built by the baseline migration on the same kind of database."""
    if connection.dialect.name == "sqlite":
        reference = create_engine("sqlite://")
        with reference.begin() as reference_connection:
            alembic_command.upgrade(revisions.config(reference_connection), BASELINE_REVISION)
            baseline = _reflect(reference_connection)
        reference.dispose()
        return differences(connection, baseline)
    if connection.dialect.name != "postgresql":
        raise DatabaseNotReady(f"adopting a {connection.dialect.name} database is not supported")
    # Built in a schema of its own inside the caller's transaction; the savepoint's rollback removes it again.
    with connection.begin_nested() as probe:
        connection.exec_driver_sql(f"CREATE SCHEMA {BASELINE_PROBE_SCHEMA}")
        connection.exec_driver_sql(f"SET LOCAL search_path TO {BASELINE_PROBE_SCHEMA}")
        alembic_command.upgrade(revisions.config(connection), BASELINE_REVISION)
        baseline = _reflect(connection)
        probe.rollback()
    return differences(connection, baseline)


def _reflect(connection: Connection) -> MetaData:
    metadata = MetaData()
    metadata.reflect(connection)
    metadata.remove(metadata.tables[VERSION_TABLE])
    return metadata


@dataclass(frozen=True)
class UpgradeReport:
    before: str | None
    after: str | None
    applied: list[str]
    adopted: bool


def upgrade_database(engine: Engine, target: str = "head", revisions: Revisions = REVISIONS) -> UpgradeReport:
    """`voice-app db upgrade`: applies the revisions up to `target` in one transaction. A database made by the
    release before migrations (tables but no revision) is adopted first: stamped with the baseline if its schema is
    the baseline's, refused otherwise."""
    with migration_transaction(engine) as connection:
        before = current_revision(connection)
        if target != "head" and not revisions.known(target):
            raise DatabaseNotReady(f"there is no revision {target!r}; the head is {revisions.head()}")
        if before is not None and not revisions.known(before):
            raise SchemaOutdated(_unknown_revision_message(connection, before, revisions))
        adopted = before is None and bool(application_tables(connection))
        if adopted:
            found = baseline_differences(connection, revisions)
            if found:
                raise SchemaOutdated(
                    f"the database at {describe(connection)} has tables but no migration revision, and its schema "
                    f"is not the baseline's, so the previous release of voice-app did not make it; refusing to "
                    f"adopt it. Differences: {_summarise(found)}"
                )
            stamp(connection, BASELINE_REVISION, revisions)
        applied = upgrade(connection, target, revisions)
        return UpgradeReport(before, current_revision(connection), applied, adopted)


def _summarise(found: list[Any], limit: int = 10) -> str:
    shown = "; ".join(repr(difference) for difference in found[:limit])
    return shown + (f"; and {len(found) - limit} more" if len(found) > limit else "")


def _unversioned_message(connection: Connection) -> str:
    return (
        f"the database at {describe(connection)} has tables but no migration revision: it was made by the release "
        f"before migrations; run `{UPGRADE_COMMAND}` to adopt and upgrade it"
    )


def _unknown_revision_message(connection: Connection, current: str, revisions: Revisions) -> str:
    return (
        f"the database at {describe(connection)} is at revision {current}, which this version does not know: a "
        f"newer version of voice-app upgraded it (this one's head is {revisions.head()})"
    )


def ensure_at_head(engine: Engine, revisions: Revisions = REVISIONS) -> None:
    """The start-up rule: an empty database is brought to head at once; one at head is left alone; anything else
    is refused with the command to run."""
    with engine.connect() as connection:
        if current_revision(connection) == revisions.head():
            return
    with migration_transaction(engine) as connection:
        current = current_revision(connection)
        head = revisions.head()
        if current == head:  # another process finished while this one waited for the lock
            return
        if current is None and not application_tables(connection):
            # The models are the head revision's schema (`voice-app db check` proves it in CI), and creating them
            # directly is faster than replaying every revision.
            SQLModel.metadata.create_all(connection)
            stamp(connection, head, revisions)
            return
        if current is None:
            raise SchemaOutdated(_unversioned_message(connection))
        if not revisions.known(current):
            raise SchemaOutdated(_unknown_revision_message(connection, current, revisions))
        raise SchemaOutdated(
            f"the database at {describe(connection)} is at revision {current}, this version needs {head}: "
            f"run `{UPGRADE_COMMAND}`"
        )
