"""The call records: created by the voice webhook, updated by the media session and the status callbacks.

Everything another request of the same call may need (the outcome above all) is written here at once,
because Twilio's next request may reach another server instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from telephony.webhooks import CALL_STATUSES, TERMINAL_CALL_STATUSES
from voice_app.models import STAGES, AnswerLatency, Call, CallEvent, CallOutcome, HandoffReason, Turn, utcnow
from voice_app.observability import metrics
from voice_app.understanding.text import MAX_TRANSCRIPT_CHARS


def register_call(
    engine: Engine, call_sid: str, caller: str, called_number: str, language: str, customer_ref: str | None = None
) -> Call:
    """Creates the call, or returns the existing one when Twilio retries the webhook."""
    with Session(engine) as session:
        existing = session.exec(select(Call).where(Call.call_sid == call_sid)).first()
        if existing:
            return existing
        call = Call(
            call_sid=call_sid, caller=caller, called_number=called_number, language=language, customer_ref=customer_ref
        )
        session.add(call)
        try:
            session.commit()
        except IntegrityError:
            # A concurrent retry of the same webhook created it first.
            session.rollback()
            return session.exec(select(Call).where(Call.call_sid == call_sid)).one()
        session.refresh(call)
        return call


def id_of(call: Call) -> int:
    """A stored call's id (SQLModel types it optional only for calls not yet inserted)."""
    if call.id is None:
        raise ValueError("the call is not stored")
    return call.id


def find_call(engine: Engine, call_sid: str) -> Call | None:
    with Session(engine) as session:
        return session.exec(select(Call).where(Call.call_sid == call_sid)).first()


def find_call_by_id(engine: Engine, call_id: int) -> Call | None:
    with Session(engine) as session:
        return session.get(Call, call_id)


def attach_stream(engine: Engine, call_id: int, stream_sid: str) -> bool:
    """Binds the media stream to the call; False when the call already has a stream (a replayed start)."""
    with Session(engine) as session:
        result = session.exec(
            update(Call)
            .where(col(Call.id) == call_id, col(Call.stream_sid).is_(None))
            .values(stream_sid=stream_sid, status="in-progress", updated_at=utcnow())
        )
        session.commit()
        return result.rowcount == 1


def decide_outcome(
    engine: Engine, call_id: int, outcome: CallOutcome, reason: HandoffReason | None, topic: str | None = None
) -> bool:
    """Stores how the call ends. The first decision stands; later ones (a stream error after a goodbye) don't
    overwrite it."""
    with Session(engine) as session:
        result = session.exec(
            update(Call)
            .where(col(Call.id) == call_id, col(Call.outcome).is_(None))
            .values(
                outcome=outcome.value,
                handoff_reason=reason.value if reason else None,
                handoff_topic=topic,
                updated_at=utcnow(),
            )
        )
        session.commit()
    decided = result.rowcount == 1
    if decided:  # counted once per call, by whichever instance decided it
        metrics.call_ended(outcome.value, reason.value if reason and outcome is CallOutcome.TRANSFER else None)
    return decided


def record_consent_decision(engine: Engine, call_id: int, decision: str) -> None:
    with Session(engine) as session:
        session.exec(update(Call).where(col(Call.id) == call_id).values(consent_decision=decision, updated_at=utcnow()))
        session.commit()
    metrics.consent_decided(decision)


def update_status(engine: Engine, call_sid: str, status: str) -> bool:
    if status not in CALL_STATUSES:
        raise ValueError(f"unknown call status {status!r}")
    """Records the status Twilio reports; False for a call we do not know. Callbacks come late, twice and out of
    order: an ended call stays ended, with the time it was first reported ended."""
    now = utcnow()
    values = {"status": status, "updated_at": now}
    if status in TERMINAL_CALL_STATUSES:
        values["ended_at"] = now
    with Session(engine) as session:
        session.exec(
            update(Call)
            .where(col(Call.call_sid) == call_sid, col(Call.status).not_in(sorted(TERMINAL_CALL_STATUSES)))
            .values(**values)
        )
        session.commit()
        return session.exec(select(Call.id).where(Call.call_sid == call_sid)).first() is not None


def add_event(engine: Engine, call_id: int, kind: str, detail: str = "", at: datetime | None = None) -> None:
    """Adds to the call's timeline; `at` when it happened, if not now (a prompt's end, as its mark came back)."""
    with Session(engine) as session:
        session.add(CallEvent(call_id=call_id, kind=kind, detail=detail, at=at or utcnow()))
        session.commit()


def events_of(engine: Engine, call_id: int) -> list[CallEvent]:
    with Session(engine) as session:
        return list(session.exec(select(CallEvent).where(CallEvent.call_id == call_id).order_by(col(CallEvent.id))))


def store_turn(
    engine: Engine,
    call_id: int,
    *,
    transcript: str,
    confidence: float,
    language: str,
    intent: str,
    intent_confidence: float,
    route: str,
    reply: str,
) -> int | None:
    """Keeps one exchange, but only on a call whose consent is recorded as granted: a last guard, so that no
    bug elsewhere can store what a caller said without consent. Returns the turn's id, or None if not kept."""
    with Session(engine) as session:
        call = session.get(Call, call_id)
        if call is None or call.consent_decision != "granted":
            return None
        turn = Turn(
            call_id=call_id,
            transcript=transcript[:MAX_TRANSCRIPT_CHARS],
            transcript_confidence=confidence,
            language=language,
            intent=intent,
            intent_confidence=intent_confidence,
            route=route,
            reply=reply[:MAX_TRANSCRIPT_CHARS],
        )
        session.add(turn)
        session.commit()
        return turn.id


def record_answer_latency(
    engine: Engine,
    call_id: int,
    latency_ms: int,
    turn_id: int | None = None,
    stages_ms: Mapping[str, int] | None = None,
) -> None:
    """Keeps how long the caller waited for a reply (see `AnswerLatency`), with the time of each stage (`STAGES`)
    measured, and on the turn it answered, if kept."""
    stages = dict(stages_ms or {})
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown turn stages {sorted(unknown)}; stages are {', '.join(STAGES)}")
    with Session(engine) as session:
        latency = AnswerLatency(call_id=call_id, latency_ms=latency_ms)
        for stage, ms in stages.items():
            setattr(latency, f"{stage}_ms", ms)
        session.add(latency)
        if turn_id is not None:
            session.exec(update(Turn).where(col(Turn.id) == turn_id).values(answer_latency_ms=latency_ms))
        session.commit()


def answer_latencies_of(engine: Engine, call_id: int) -> list[AnswerLatency]:
    with Session(engine) as session:
        return list(
            session.exec(select(AnswerLatency).where(AnswerLatency.call_id == call_id).order_by(col(AnswerLatency.id)))
        )


def turns_of(engine: Engine, call_id: int) -> list[Turn]:
    with Session(engine) as session:
        return list(session.exec(select(Turn).where(Turn.call_id == call_id).order_by(col(Turn.id))))
