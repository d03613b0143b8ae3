"""The database engine: one per process, shared by the web requests, the media sessions and the CLI."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, create_engine

import consent.audit  # noqa: F401  (registers the audit log in the shared metadata)
import consent.models  # noqa: F401  (registers the consent tables in the shared metadata)
import voice_app.accounts.models  # noqa: F401
import voice_app.handoff.models  # noqa: F401
import voice_app.models  # noqa: F401
import voice_app.web.auth  # noqa: F401  (users: callback requests name who closed them)

SQLITE_BUSY_TIMEOUT_SECONDS = 30


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql"):
        # PostgreSQL hands timestamps back in the session's time zone, which defaults to the server's. Pinning it
        # to UTC makes what the app reads (and any date the database computes) independent of where it runs.
        return create_engine(url, pool_pre_ping=True, connect_args={"options": "-c timezone=UTC"})
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(connection, _record) -> None:
    # WAL lets the web requests read while a media session writes; foreign keys are off by default in SQLite.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class SchemaOutdated(RuntimeError):
    """The database was created by an older version and lacks columns this version needs."""


def create_schema(engine: Engine) -> None:
    """Creates missing tables, then checks that existing ones have every column this version uses: a clear
    stop at start-up beats failing on the first call."""
    SQLModel.metadata.create_all(engine)
    inspector = inspect(engine)
    missing = [
        f"{table.name}.{column.name}"
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if column.name not in {existing["name"] for existing in inspector.get_columns(table.name)}
    ]
    if missing:
        raise SchemaOutdated(
            f"the database at {engine.url.render_as_string(hide_password=True)} was made by an older version and "
            f"lacks {', '.join(missing)}; migrate it, or for a demo database delete it and seed it again"
        )
