"""Notice texts, times and engines shared by the consent tests."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlmodel import create_engine

from consent.audit import AuditEntry
from consent.models import ConsentChainHead, ConsentEvent, NoticeVersion

NOTICE_TEXTS = {
    ("disclosure", "en"): "Hello, you are speaking with an AI assistant.",
    ("disclosure", "de"): "Hallo, Sie sprechen mit einem KI-Assistenten.",
    ("consent", "en"): "May we process your call data? Say yes or press 1, say no or press 2.",
    ("consent", "de"): "Dürfen wir Ihre Anrufdaten verarbeiten? Sagen Sie ja oder drücken Sie 1.",
}

PLAYED_AT = datetime(2025, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
ANSWERED_AT = PLAYED_AT + timedelta(seconds=4)

NoticeMap = dict[tuple[str, str], NoticeVersion]

# Only the consent package's own tables: it knows nothing of the app's, which other tests register.
CONSENT_TABLES = (NoticeVersion, ConsentEvent, ConsentChainHead, AuditEntry)


def write_notice_files(directory: Path, texts: dict[tuple[str, str], str] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for (kind, language), text in (texts or NOTICE_TEXTS).items():
        (directory / f"{kind}.{language}.txt").write_text(text, encoding="utf-8")
    return directory


def engine_for(database_url: str, explicit_begin: bool = False) -> Engine:
    """An engine on the test's database, SQLite or PostgreSQL. On SQLite, explicit_begin applies
    SQLAlchemy's documented recipe where SQLAlchemy, not the sqlite3 driver, emits BEGIN. The app may use
    either, and their locking differs: with the recipe, reads open the transaction."""
    if not database_url.startswith("sqlite"):
        return create_engine(database_url)
    engine = create_engine(database_url, connect_args={"timeout": 30})
    if explicit_begin:
        event.listen(engine, "connect", _leave_transactions_to_sqlalchemy)
        event.listen(engine, "begin", _emit_begin)
    return engine


def make_engine(db_path: Path, explicit_begin: bool = False) -> Engine:
    """An engine on the SQLite file (see engine_for)."""
    return engine_for(f"sqlite:///{db_path}", explicit_begin)


def _leave_transactions_to_sqlalchemy(dbapi_connection: Any, connection_record: Any) -> None:
    dbapi_connection.isolation_level = None


def _emit_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")
