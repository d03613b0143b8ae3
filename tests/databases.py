"""Reading and changing a test database behind the app's back, the same way on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, create_engine, inspect, text

DATABASE_BACKENDS = ["sqlite", "postgresql"]


def is_postgresql(database_url: str) -> bool:
    return database_url.startswith("postgresql")


def _raw_engine(database_url: str):
    # Literal timestamps without an offset mean UTC, as they do in a SQLite file the app wrote.
    connect_args = {"options": "-c timezone=UTC"} if is_postgresql(database_url) else {}
    return create_engine(database_url, connect_args=connect_args)


def run_sql(database_url: str, statement: str, **parameters: Any) -> None:
    """Run one statement and commit it, on a connection of its own (as an attacker, a bug or an operator would)."""
    engine = _raw_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(statement), parameters)
    finally:
        engine.dispose()


def query_sql(database_url: str, statement: str, **parameters: Any) -> Sequence[Row]:
    """The rows of one query, read on a connection of its own: only committed data is visible there."""
    engine = _raw_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(statement), parameters).all()
    finally:
        engine.dispose()


def dump_rows(database_url: str) -> str:
    """Every row of every table as text, to search for what must never be stored in the clear."""
    engine = _raw_engine(database_url)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
            return "\n".join(
                repr(tuple(row)) for table in tables for row in connection.execute(text(f'SELECT * FROM "{table}"'))
            )
    finally:
        engine.dispose()
