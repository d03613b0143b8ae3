"""The tables of console users, their sessions and wrong sign-ins, and the roles a user can have."""

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


class ConsoleSession(SQLModel, table=True):
    """One signed-in browser. Its cookie holds a random token and this row only the token's SHA-256, so that a
    copy of the table opens no session. Signing out, a changed password and a deactivation set `revoked_at`."""

    __tablename__ = "console_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class LoginFailure(SQLModel, table=True):
    """One wrong sign-in. The username and the client's address are kept only as keyed hashes: people type
    passwords into the username field, and this table must become neither a list of them nor of addresses."""

    __tablename__ = "login_failures"

    id: int | None = Field(default=None, primary_key=True)
    username_key: str = Field(index=True, max_length=64)
    client_key: str = Field(index=True, max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
