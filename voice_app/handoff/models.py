"""Tables of the hand-over to a person: one `Handoff` per transferred call, the callbacks callers ask for, and
the voice messages they leave.

What an agent may see is decided when the row is written (see `queries.record_handoff`): the customer's name
only once they were verified, words from the conversation only with consent.

Personal data here that an erasure must delete along with the call: the callback number on
`callback_requests` and the recorded voice on `voicemails` (besides the names and excerpts on `handoffs`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, LargeBinary
from sqlmodel import Field, SQLModel

from voice_app.models import utcnow

SUMMARY_MAX_LENGTH = 1000
TRANSCRIPT_EXCERPT_MAX_LENGTH = 4000
CALLBACK_NOTE_MAX_LENGTH = 500
E164_MAX_LENGTH = 16  # "+" and at most 15 digits


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
    # The caller ID in E.164, the one number an agent can call back (accounts keep phones only as pseudonyms).
    # Shown only in the agent console, never logged, cleared when the callback is marked done; None when the
    # caller withheld their number.
    callback_number: str | None = Field(default=None, max_length=E164_MAX_LENGTH)


class VoicemailStatus(StrEnum):
    RECORDING = "recording"  # the caller chose a message; the stream has not finished
    NEW = "new"  # recorded, nobody has listened yet
    LISTENED = "listened"
    DONE = "done"  # its callback was marked done


class Voicemail(SQLModel, table=True):
    """A caller's voice message for a colleague: recorded on our own server from the media stream, never at Twilio,
    never transcribed. Personal data: kept with its callback request, deleted with the call."""

    __tablename__ = "voicemails"

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="calls.id", unique=True, index=True)  # one message per call
    callback_id: int = Field(foreign_key="callback_requests.id", index=True)
    stream_sid: str | None = Field(default=None, max_length=64, description="the stream it was recorded from")
    # G.711 mu-law WAV (format 7), 8 kHz mono: the caller's audio exactly as the phone line carried it.
    audio_wav: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    duration_seconds: float = 0.0
    ended_by: str | None = Field(default=None, max_length=16, description="hash key, silence, max length, hang-up")
    status: str = Field(default=VoicemailStatus.RECORDING.value, max_length=12, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    recorded_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    listened_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    listened_by: int | None = Field(default=None, foreign_key="users.id")
