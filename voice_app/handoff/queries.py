"""Writes from the call flow and reads for the consoles, over `handoffs` and `callback_requests`.

Writes are first-wins and idempotent, like `voice_app.calls.decide_outcome`: Twilio retries requests and a
call's next request may reach another instance, so a repeated write must neither fail nor overwrite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, exists, insert, literal, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from consent.ledger import Decision
from voice_app.config import E164, SUPPORTED_LANGUAGES
from voice_app.handoff.models import (
    CALLBACK_NOTE_MAX_LENGTH,
    SUMMARY_MAX_LENGTH,
    TRANSCRIPT_EXCERPT_MAX_LENGTH,
    CallbackRequest,
    CallbackStatus,
    Handoff,
    HandoffOutcome,
    Voicemail,
    VoicemailStatus,
)
from voice_app.handoff.voicemails import VoicemailInfo, voicemails_of_callbacks
from voice_app.models import Call, CallEvent, HandoffReason, Turn, utcnow
from voice_app.rows import stored_id

MAX_LIST_LIMIT = 500
CUSTOMER_NAME_MAX_LENGTH = 200
DIAL_TARGET_MAX_LENGTH = 64


@dataclass(frozen=True)
class OpenCallback:
    callback: CallbackRequest
    handoff: Handoff
    voicemail: VoicemailInfo | None = None


@dataclass(frozen=True)
class HandoffDetail:
    handoff: Handoff
    call: Call
    timeline: list[CallEvent]
    turns: list[Turn]  # empty unless the call's consent is granted
    callbacks: list[CallbackRequest]
    consent_granted: bool
    voicemails: dict[int, VoicemailInfo]  # by callback request id

    @property
    def transcript_excerpt(self) -> str | None:
        # Judged on the call's current consent, so a later withdrawal hides the words that were kept.
        return self.handoff.transcript_excerpt if self.consent_granted else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIST_LIMIT}, not {limit}")


def record_handoff(
    engine: Engine,
    call_id: int,
    *,
    reason: HandoffReason | str,
    summary: str,
    transcript_excerpt: str | None,
    customer_name: str | None,
    verified: bool,
    consent_decision: str | None,
    language: str,
    dial_target: str,
) -> Handoff:
    """Stores what the agent is told about a transferred call; returns the existing row when the call already
    has one. An unverified caller's name and, without consent, the caller's words are dropped here as a last
    guard, so that no bug in the call flow can show them to an agent."""
    reason = HandoffReason(reason).value
    summary = summary.strip()
    if not summary:
        raise ValueError("summary must not be empty")
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(SUPPORTED_LANGUAGES)}, not {language!r}")
    if consent_decision is not None:
        consent_decision = Decision(consent_decision).value
    dial_target = dial_target.strip()
    if not dial_target or len(dial_target) > DIAL_TARGET_MAX_LENGTH:
        raise ValueError(f"dial_target must be 1 to {DIAL_TARGET_MAX_LENGTH} characters")

    with Session(engine) as session:
        existing = session.exec(select(Handoff).where(Handoff.call_id == call_id)).first()
        if existing:
            return existing
        call = session.get(Call, call_id)
        if call is None:
            raise LookupError(f"no call with id {call_id}")
        consent_granted = consent_decision == Decision.GRANTED and call.consent_decision == Decision.GRANTED
        name = (customer_name or "").strip()
        excerpt = (transcript_excerpt or "").strip()
        handoff = Handoff(
            call_id=call_id,
            reason=reason,
            summary=_clip(summary, SUMMARY_MAX_LENGTH),
            transcript_excerpt=_clip(excerpt, TRANSCRIPT_EXCERPT_MAX_LENGTH) if consent_granted and excerpt else None,
            customer_name=_clip(name, CUSTOMER_NAME_MAX_LENGTH) if verified and name else None,
            verified=verified,
            consent_decision=consent_decision,
            language=language,
            dial_target=dial_target,
        )
        session.add(handoff)
        try:
            session.commit()
        except IntegrityError:
            # A concurrent request of the same call stored it first.
            session.rollback()
            return session.exec(select(Handoff).where(Handoff.call_id == call_id)).one()
        session.refresh(handoff)
        return handoff


def handoff_of_call(engine: Engine, call_id: int) -> Handoff | None:
    with Session(engine) as session:
        return session.exec(select(Handoff).where(Handoff.call_id == call_id)).first()


def mark_agent_answered(engine: Engine, call_id: int, at: datetime) -> bool:
    """False when the call has no hand-over or the answer was already recorded."""
    with Session(engine) as session:
        result = session.exec(
            update(Handoff)
            .where(col(Handoff.call_id) == call_id, col(Handoff.agent_answered_at).is_(None))
            .values(agent_answered_at=at)
        )
        session.commit()
        return result.rowcount == 1


def finish_handoff(engine: Engine, call_id: int, outcome: HandoffOutcome | str, at: datetime) -> bool:
    """Stores how the hand-over ended. The first outcome stands; False when one was already stored or the call
    has no hand-over."""
    outcome = HandoffOutcome(outcome).value
    with Session(engine) as session:
        result = session.exec(
            update(Handoff)
            .where(col(Handoff.call_id) == call_id, col(Handoff.ended_at).is_(None))
            .values(outcome=outcome, ended_at=at)
        )
        session.commit()
        return result.rowcount == 1


def request_callback(engine: Engine, call_id: int, callback_number: str | None = None) -> CallbackRequest:
    """Opens the call's callback request, or returns the one it already has. `callback_number` (E.164) is the
    number to call back; a request that has none yet takes it from a later request of the same call."""
    if callback_number is not None and not E164.match(callback_number):
        raise ValueError("callback_number must be an E.164 phone number")  # never the value: it is personal data
    with Session(engine) as session:
        existing = session.exec(select(CallbackRequest).where(CallbackRequest.call_id == call_id)).first()
        if existing:
            if callback_number and existing.callback_number is None and existing.status == CallbackStatus.OPEN:
                session.exec(
                    update(CallbackRequest)
                    .where(col(CallbackRequest.id) == existing.id, col(CallbackRequest.callback_number).is_(None))
                    .values(callback_number=callback_number)
                )
                session.commit()
                session.refresh(existing)
            return existing
        handoff = session.exec(select(Handoff).where(Handoff.call_id == call_id)).first()
        if handoff is None:
            raise LookupError(f"call {call_id} has no hand-over to attach a callback to")
        callback = CallbackRequest(handoff_id=stored_id(handoff), call_id=call_id, callback_number=callback_number)
        session.add(callback)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return session.exec(select(CallbackRequest).where(CallbackRequest.call_id == call_id)).one()
        session.refresh(callback)
        return callback


def note_once(engine: Engine, call_id: int, kind: str, detail: str = "") -> bool:
    """Adds an event of the hand-over to the call's timeline unless the call has one of that kind already (a
    retried request); False then. Retries may run at once on several instances: the call's row, locked until the
    commit, lets one at a time look and write on PostgreSQL; SQLite takes the insert below whole, one writer at a
    time."""
    with Session(engine) as session:
        session.exec(select(Call.id).where(col(Call.id) == call_id).with_for_update())
        noted = exists().where(col(CallEvent.call_id) == call_id, col(CallEvent.kind) == kind)
        result = session.exec(
            insert(CallEvent).from_select(
                ["call_id", "kind", "detail", "at"],
                select(
                    literal(call_id), literal(kind), literal(detail), literal(utcnow(), DateTime(timezone=True))
                ).where(~noted),
            )
        )
        session.commit()
        return result.rowcount == 1


def find_callback(engine: Engine, callback_id: int) -> CallbackRequest | None:
    with Session(engine) as session:
        return session.get(CallbackRequest, callback_id)


def mark_callback_done(engine: Engine, callback_id: int, user_id: int, note: str) -> bool:
    """False when there is no such callback or it was already done (by this agent or another). The number to call
    back is no longer needed then and is cleared; a voice message with it is done too (retention deletes it)."""
    note = note.strip()
    if len(note) > CALLBACK_NOTE_MAX_LENGTH:
        raise ValueError(f"note must be at most {CALLBACK_NOTE_MAX_LENGTH} characters")
    with Session(engine) as session:
        result = session.exec(
            update(CallbackRequest)
            .where(col(CallbackRequest.id) == callback_id, col(CallbackRequest.status) == CallbackStatus.OPEN)
            .values(
                status=CallbackStatus.DONE.value, done_at=utcnow(), done_by=user_id, note=note, callback_number=None
            )
        )
        if result.rowcount == 1:
            session.exec(
                update(Voicemail)
                .where(col(Voicemail.callback_id) == callback_id, col(Voicemail.status) != VoicemailStatus.RECORDING)
                .values(status=VoicemailStatus.DONE.value)
            )
        session.commit()
        return result.rowcount == 1


def recent_handoffs(engine: Engine, limit: int, since_id: int | None = None) -> list[Handoff]:
    """The latest hand-overs, newest first; with `since_id`, only those stored after that one."""
    _check_limit(limit)
    query = select(Handoff).order_by(col(Handoff.id).desc()).limit(limit)
    if since_id is not None:
        query = query.where(col(Handoff.id) > since_id)
    with Session(engine) as session:
        return list(session.exec(query))


def open_callbacks(engine: Engine, limit: int = MAX_LIST_LIMIT) -> list[OpenCallback]:
    """Callbacks still to be made, newest first, each with the hand-over it came from."""
    _check_limit(limit)
    with Session(engine) as session:
        rows = list(
            session.exec(
                select(CallbackRequest, Handoff)
                .join(Handoff, col(CallbackRequest.handoff_id) == col(Handoff.id))
                .where(CallbackRequest.status == CallbackStatus.OPEN)
                .order_by(col(CallbackRequest.id).desc())
                .limit(limit)
            )
        )
    voicemails = voicemails_of_callbacks(engine, [stored_id(callback) for callback, _ in rows])
    return [
        OpenCallback(callback=callback, handoff=handoff, voicemail=voicemails.get(stored_id(callback)))
        for callback, handoff in rows
    ]


def handoff_detail(engine: Engine, handoff_id: int) -> HandoffDetail | None:
    """One hand-over with its call, the call's timeline and callbacks, and its turns only if consent is
    granted."""
    with Session(engine) as session:
        handoff = session.get(Handoff, handoff_id)
        if handoff is None:
            return None
        call = session.get(Call, handoff.call_id)
        if call is None:
            raise LookupError(f"hand-over {handoff_id} names call {handoff.call_id}, which does not exist")
        consent_granted = call.consent_decision == Decision.GRANTED
        timeline = session.exec(
            select(CallEvent).where(CallEvent.call_id == call.id).order_by(col(CallEvent.at), col(CallEvent.id))
        )
        turns: list[Turn] = (
            list(session.exec(select(Turn).where(Turn.call_id == call.id).order_by(col(Turn.id))))
            if consent_granted
            else []
        )
        callbacks = list(
            session.exec(
                select(CallbackRequest)
                .where(CallbackRequest.handoff_id == handoff.id)
                .order_by(col(CallbackRequest.id))
            )
        )
        return HandoffDetail(
            handoff=handoff,
            call=call,
            timeline=list(timeline),
            turns=turns,
            callbacks=callbacks,
            consent_granted=consent_granted,
            voicemails=voicemails_of_callbacks(engine, [stored_id(callback) for callback in callbacks]),
        )
