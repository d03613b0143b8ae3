"""The audit log: who looked at, exported, erased or deleted what, and when.

Entries name people by their login and callers only by pseudonym; the details never hold a phone number,
a transcript or a name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine, Text
from sqlmodel import Field, Session, SQLModel, col, select

from consent.timestamps import UTCDateTime, utc_now

ACTOR_MAX_LENGTH = 64
DETAILS_MAX_LENGTH = 4000
MAX_ENTRIES = 500
SYSTEM_ACTOR = "system"


class AuditAction(StrEnum):
    SEARCH = "search"
    VIEW_TIMELINE = "view_timeline"
    EXPORT = "export"
    SUBJECT_EXPORT = "subject_export"
    SUBJECT_ERASE = "subject_erase"
    RETENTION_RUN = "retention_run"
    VIEW_DASHBOARD = "view_dashboard"
    VIEW_AUDIT_LOG = "view_audit_log"
    VIEW_HANDOFF = "view_handoff"
    PLAY_VOICE_MESSAGE = "play_voice_message"


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=ACTOR_MAX_LENGTH, index=True)
    action: str = Field(max_length=32, index=True)
    details: str = Field(default="{}", sa_type=Text)

    def details_dict(self) -> dict[str, object]:
        return json.loads(self.details)


def record(engine: Engine, actor: str, action: AuditAction, details: Mapping[str, object] | None = None) -> AuditEntry:
    """Write one entry; committed when this returns, so nothing is shown or exported without its trace."""
    if not isinstance(actor, str) or not actor.strip() or len(actor) > ACTOR_MAX_LENGTH:
        raise ValueError(f"actor must be non-blank text of at most {ACTOR_MAX_LENGTH} characters")
    text = json.dumps(dict(details or {}), sort_keys=True, ensure_ascii=False, default=str)
    if len(text) > DETAILS_MAX_LENGTH:
        raise ValueError(f"audit details have {len(text)} characters, at most {DETAILS_MAX_LENGTH} allowed")
    entry = AuditEntry(at=utc_now(), actor=actor, action=AuditAction(action).value, details=text)
    with Session(engine, expire_on_commit=False) as session:
        session.add(entry)
        session.commit()
    return entry


def entries(engine: Engine, limit: int = 100, actor: str | None = None, action: str | None = None) -> list[AuditEntry]:
    """The newest entries first."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ENTRIES:
        raise ValueError(f"limit must be an integer from 1 to {MAX_ENTRIES}")
    statement = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if actor:
        statement = statement.where(AuditEntry.actor == actor)
    if action:
        statement = statement.where(AuditEntry.action == action)
    with Session(engine) as session:
        return list(session.exec(statement))
