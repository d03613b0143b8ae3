"""The tables of console users and of wrong sign-ins, and the roles a user can have."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from voice_app.models import utcnow


class Role(StrEnum):
    AGENT = "agent"
    COMPLIANCE = "compliance"
    ADMIN = "admin"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class LoginFailure(SQLModel, table=True):
    """One wrong sign-in. The username is kept only as a keyed hash: people type passwords into the username
    field, and this table must not become a list of them."""

    __tablename__ = "login_failures"

    id: int | None = Field(default=None, primary_key=True)
    username_key: str = Field(index=True, max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
