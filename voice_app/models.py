"""Tables of the assistant: calls, what happened on them, and (only with consent) what was said."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from voice_app.understanding.text import MAX_TRANSCRIPT_CHARS


def utcnow() -> datetime:
    return datetime.now(UTC)


def _timestamp(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class CallOutcome(StrEnum):
    HANGUP = "hangup"  # the assistant finished the call
    TRANSFER = "transfer"  # the call goes to a person


class HandoffReason(StrEnum):
    CALLER_ASKED = "caller_asked"
    CONSENT_REFUSED = "consent_refused"
    CONSENT_UNCLEAR = "consent_unclear"
    CONSENT_SILENCE = "consent_silence"
    SENSITIVE_TOPIC = "sensitive_topic"
    OUT_OF_SCOPE = "out_of_scope"
    VERIFICATION_FAILED = "verification_failed"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    UNCLEAR_TWICE = "unclear_twice"
    SILENCE = "silence"
    STREAM_ERROR = "stream_error"
    STREAM_LOST = "stream_lost"
    INTERNAL_ERROR = "internal_error"
    SERVER_SHUTDOWN = "server_shutdown"  # the instance stopped; the call was handed over, not dropped
    CALLER_FRUSTRATED = "caller_frustrated"  # insults, "this is useless", asked again and again, talked over


class Call(SQLModel, table=True):
    __tablename__ = "calls"

    id: int | None = Field(default=None, primary_key=True)
    call_sid: str = Field(unique=True, index=True, max_length=64)
    caller: str = Field(index=True, max_length=64, description="HMAC pseudonym of the caller's number")
    called_number: str = Field(max_length=32)
    language: str = Field(max_length=2)
    status: str = Field(default="ringing", max_length=32)
    stream_sid: str | None = Field(default=None, max_length=64)
    consent_decision: str | None = Field(default=None, max_length=16)
    outcome: str | None = Field(default=None, max_length=16)
    handoff_reason: str | None = Field(default=None, max_length=32)
    handoff_topic: str | None = Field(default=None, max_length=32, description="the intent that led to the handoff")
    customer_ref: str | None = Field(default=None, max_length=64, description="account matched by caller ID")
    started_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    ended_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class CallEvent(SQLModel, table=True):
    """The evidence timeline of a call: what was played and decided, when. Holds no personal data."""

    __tablename__ = "call_events"

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="calls.id", index=True)
    kind: str = Field(max_length=32)
    detail: str = Field(default="", max_length=200)
    at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class Turn(SQLModel, table=True):
    """One exchange: what the caller said, how it was understood and what the assistant answered.
    Stored only with consent."""

    __tablename__ = "turns"

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="calls.id", index=True)
    transcript: str = Field(max_length=MAX_TRANSCRIPT_CHARS)
    transcript_confidence: float
    language: str = Field(max_length=2)
    intent: str = Field(max_length=32)
    intent_confidence: float
    route: str = Field(max_length=16)
    reply: str = Field(default="", max_length=MAX_TRANSCRIPT_CHARS)
    at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    answer_latency_ms: int | None = Field(
        default=None, description="from the end of the caller's speech to the first audio of the reply sent"
    )


class AnswerLatency(SQLModel, table=True):
    """How long a caller waited for the reply after they stopped speaking: from the moment turn detection closed
    the utterance to the moment the first audio frame of the reply was sent to Twilio.

    Timing alone, no personal data, so it is kept for every call, with or without consent (the answer to the
    consent question is timed too), and outlives the transcripts that retention and erasure delete. The
    dashboard reads answer latency from here; a turn kept with consent also holds its own in
    `Turn.answer_latency_ms`."""

    __tablename__ = "answer_latencies"

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="calls.id", index=True)
    latency_ms: int
    at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    # Where the time went (None for rows stored before stages were timed). end_of_turn_ms is before latency_ms
    # starts (from the caller's last voiced frame until the turn was declared over); the others lie within it.
    end_of_turn_ms: int | None = None
    transcription_ms: int | None = None  # waited for the transcript once the turn was over
    understanding_ms: int | None = None  # the dialogue's decision, account lookups included
    account_lookup_ms: int | None = None
    synthesis_ms: int | None = None
    first_frame_ms: int | None = None  # from the synthesised reply to its first frame sent to Twilio


STAGES = ("end_of_turn", "transcription", "understanding", "account_lookup", "synthesis", "first_frame")
