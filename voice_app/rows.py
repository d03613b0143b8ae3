"""What SQLModel's types leave open about stored rows: every primary key is typed `int | None`, because a row has
none before it is first written, and a model's `__table__` is not declared at all."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Table
from sqlmodel import SQLModel


class StoredRow(Protocol):
    @property
    def id(self) -> int | None: ...


def stored_id(row: StoredRow) -> int:
    """The id of a row read from or written to the database, which always has one."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id: it was never stored")
    return row.id


def table_of(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined]  # set on every table=True model, declared nowhere
