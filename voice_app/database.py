"""The database engine: one per process, shared by the web requests, the media sessions and the CLI."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, create_engine

import consent.audit  # noqa: F401  (registers the audit log in the shared metadata)
import consent.models  # noqa: F401  (registers the consent tables in the shared metadata)
import voice_app.accounts.models  # noqa: F401
import voice_app.handoff.models  # noqa: F401
import voice_app.models  # noqa: F401
import voice_app.web.auth  # noqa: F401  (users: callback requests name who closed them)
from voice_app.migrations import DatabaseNotReady, SchemaOutdated, ensure_at_head  # noqa: F401  (raised to callers)

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
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(connection, _record) -> None:
    # WAL lets the web requests read while a media session writes; foreign keys are off by default in SQLite.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_schema(engine: Engine) -> None:
    """Makes sure the database is at the head revision before anything uses it: an empty database gets the whole
    schema at once; one at head is left alone; anything else raises SchemaOutdated naming `voice-app db upgrade`.
    A clear stop at start-up beats failing on the first call."""
    ensure_at_head(engine)
