"""The database engine: one per process, shared by the web requests, the media sessions and the CLI."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlmodel import create_engine

import consent.audit  # noqa: F401  (registers the audit log in the shared metadata)
import consent.models  # noqa: F401  (registers the consent tables in the shared metadata)
import voice_app.accounts.models  # noqa: F401
import voice_app.handoff.models  # noqa: F401
import voice_app.models  # noqa: F401
import voice_app.users.models  # noqa: F401  (users: callback requests name who closed them)
from voice_app.migrations import DatabaseNotReady, SchemaOutdated, ensure_at_head  # noqa: F401  (SchemaOutdated: callers catch it from here)

SQLITE_BUSY_TIMEOUT_SECONDS = 30
WAL_SWITCH_RETRY_SECONDS = 0.05


def make_engine(url: str) -> Engine:
    # hide_parameters: a failed statement's error (logged with its traceback) would otherwise carry the values it
    # wrote, a caller's transcript or pseudonym among them.
    if url.startswith("sqlite:"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            hide_parameters=True,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql"):
        # PostgreSQL hands timestamps back in the session's time zone, which defaults to the server's. Pinning it
        # to UTC makes what the app reads (and any date the database computes) independent of where it runs.
        return create_engine(url, pool_pre_ping=True, hide_parameters=True, connect_args={"options": "-c timezone=UTC"})
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def _sqlite_pragmas(connection, _record) -> None:
    # WAL lets the web requests read while a media session writes; foreign keys are off by default in SQLite.
    cursor = connection.cursor()
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _switch_to_wal(cursor) -> None:
    """WAL is kept in the file, so only the first connection to a new file switches it. Connections opening a new
    file at the same moment (workers, instances, a command beside the server) all try, and the switch fails at
    once with "database is locked" instead of waiting for the busy timeout: retry until the file is in WAL."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_SECONDS
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(WAL_SWITCH_RETRY_SECONDS)


class DatabaseUnreachable(DatabaseNotReady):
    """The database URL is malformed, names a driver that is not installed, or the database does not answer."""


def connect_database(url: str, setting: str = "database.url") -> Engine:
    """An engine whose database answers, whatever revision it is at (the `db` commands need no more). A bad URL or
    a database that cannot be reached raises DatabaseUnreachable naming `setting`, where the URL came from."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        # the message of SQLAlchemy's error repeats the URL, password and all
        raise DatabaseUnreachable(f"{setting} is not a database URL like sqlite:///var/voice_app.db") from None
    try:
        engine = make_engine(url)
    except NoSuchModuleError:
        raise DatabaseUnreachable(
            f"{setting}: {shown} names a database or driver SQLAlchemy does not know; use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DATABASE"
        ) from None
    except ImportError as error:
        raise DatabaseUnreachable(f"{setting}: the driver {shown} needs is not installed ({error})") from None
    except OSError as error:
        raise DatabaseUnreachable(f"{setting}: cannot create the folder of {shown}: {error.strerror}") from None
    try:
        with engine.connect():
            pass
    except DBAPIError as error:
        engine.dispose()
        reason = " ".join(str(error.orig).split())
        raise DatabaseUnreachable(f"{setting}: cannot connect to {shown}: {reason}") from None
    return engine


def open_database(url: str, setting: str = "database.url") -> Engine:
    """The engine a server or command works with: reachable (see connect_database) and at the head revision
    (see create_schema)."""
    engine = connect_database(url, setting)
    try:
        create_schema(engine)
    except DatabaseNotReady:
        engine.dispose()
        raise
    return engine


def create_schema(engine: Engine) -> None:
    """Makes sure the database is at the head revision before anything uses it: an empty database gets the whole
    schema at once; one at head is left alone; anything else raises SchemaOutdated naming `voice-app db upgrade`.
    A clear stop at start-up beats failing on the first call."""
    ensure_at_head(engine)
