"""Tables of the hand-over to a person: one `Handoff` per transferred call, and the callbacks callers ask for.

What an agent may see is decided when the row is written (see `queries.record_handoff`): the customer's name
only once they were verified, words from the conversation only with consent.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from voice_app.models import utcnow

SUMMARY_MAX_LENGTH = 1000
TRANSCRIPT_EXCERPT_MAX_LENGTH = 4000
CALLBACK_NOTE_MAX_LENGTH = 500


def _timestamp(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class HandoffOutcome(StrEnum):
    CONNECTED = "connected"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    AFTER_HOURS = "after_hours"
    CALLBACK_REQUESTED = "callback_requested"
    VOICEMAIL = "voicemail"


class CallbackStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class Handoff(SQLModel, table=True):
    __tablename__ = "handoffs"

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="calls.id", unique=True, index=True)
    reason: str = Field(max_length=32, description="a voice_app.models.HandoffReason value")
    summary: str = Field(max_length=SUMMARY_MAX_LENGTH, description="who, verified or not, what was asked, why")
    transcript_excerpt: str | None = Field(
        default=None, max_length=TRANSCRIPT_EXCERPT_MAX_LENGTH, description="only when consent was granted"
    )
    customer_name: str | None = Field(default=None, max_length=200, description="only when verified")
    verified: bool = False
    consent_decision: str | None = Field(default=None, max_length=16)
    language: str = Field(max_length=2)
    dial_target: str = Field(max_length=64)
    requested_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    agent_answered_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    ended_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    outcome: str | None = Field(default=None, max_length=24, description="a HandoffOutcome value")
    # The spoken summary holds personal data: it is served only under this random token, and only until it expires.
    whisper_token: str | None = Field(default=None, max_length=64, unique=True, index=True)
    whisper_expires_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class CallbackRequest(SQLModel, table=True):
    __tablename__ = "callback_requests"

    id: int | None = Field(default=None, primary_key=True)
    handoff_id: int = Field(foreign_key="handoffs.id", index=True)
    call_id: int = Field(foreign_key="calls.id", unique=True, index=True)  # one callback per call
    requested_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    status: str = Field(default=CallbackStatus.OPEN.value, max_length=8, index=True)
    done_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    # Users are deactivated, never deleted, so the reference stays valid as evidence of who closed it.
    done_by: int | None = Field(default=None, foreign_key="users.id")
    note: str = Field(default="", max_length=CALLBACK_NOTE_MAX_LENGTH)
