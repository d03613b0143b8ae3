"""What the agent learns before the caller is connected: who (name only if verified), verified or not, what the
caller asked about, why the assistant handed over. Spoken to the agent when they answer, shown in the console."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from voice_app import calls
from voice_app.dialogue.assistance import WITHHELD
from voice_app.handoff.models import Handoff
from voice_app.handoff.queries import record_handoff
from voice_app.models import HandoffReason, utcnow

EXCERPT_TURNS = 3

_REASONS = {
    "en": {
        HandoffReason.CALLER_ASKED: "the caller asked for a person",
        HandoffReason.CONSENT_REFUSED: "the caller did not consent to the assistant",
        HandoffReason.CONSENT_UNCLEAR: "the consent answer was unclear",
        HandoffReason.CONSENT_SILENCE: "the caller did not answer the consent question",
        HandoffReason.CONSENT_WITHDRAWN: "the caller withdrew consent",
        HandoffReason.SENSITIVE_TOPIC: "a sensitive topic",
        HandoffReason.OUT_OF_SCOPE: "a request the assistant does not handle",
        HandoffReason.VERIFICATION_FAILED: "identity verification failed",
        HandoffReason.UNCLEAR_TWICE: "the assistant did not understand twice",
        HandoffReason.SILENCE: "the caller stayed silent",
        HandoffReason.STREAM_ERROR: "a technical fault",
        HandoffReason.STREAM_LOST: "a technical fault",
        HandoffReason.INTERNAL_ERROR: "a technical fault",
        HandoffReason.SERVER_SHUTDOWN: "server maintenance",
        HandoffReason.CALLER_FRUSTRATED: "the caller was frustrated",
    },
    "de": {
        HandoffReason.CALLER_ASKED: "der Anrufer wollte einen Mitarbeiter",
        HandoffReason.CONSENT_REFUSED: "keine Einwilligung in den Assistenten",
        HandoffReason.CONSENT_UNCLEAR: "die Antwort zur Einwilligung war unklar",
        HandoffReason.CONSENT_SILENCE: "keine Antwort auf die Einwilligungsfrage",
        HandoffReason.CONSENT_WITHDRAWN: "die Einwilligung wurde widerrufen",
        HandoffReason.SENSITIVE_TOPIC: "ein sensibles Thema",
        HandoffReason.OUT_OF_SCOPE: "ein Anliegen, das der Assistent nicht bearbeitet",
        HandoffReason.VERIFICATION_FAILED: "die Identitätsprüfung ist gescheitert",
        HandoffReason.UNCLEAR_TWICE: "der Assistent hat zweimal nicht verstanden",
        HandoffReason.SILENCE: "der Anrufer hat nichts gesagt",
        HandoffReason.STREAM_ERROR: "ein technischer Fehler",
        HandoffReason.STREAM_LOST: "ein technischer Fehler",
        HandoffReason.INTERNAL_ERROR: "ein technischer Fehler",
        HandoffReason.SERVER_SHUTDOWN: "eine Wartung des Servers",
        HandoffReason.CALLER_FRUSTRATED: "der Anrufer war verärgert",
    },
}
_TOPICS = {
    "en": {
        "payment_status": "whether an invoice is paid",
        "open_payments": "open payments",
        "next_due_date": "the next due date",
        "refund_status": "a refund",
        "payment_options": "how to pay",
        "fraud": "possible fraud",
        "stolen_data": "stolen card or data",
        "merchant_dispute": "a dispute with a merchant",
        "complaint": "a complaint",
        "financial_hardship": "difficulty paying",
        "human": "talking to a person",
        "withdraw_consent": "withdrawing consent",
        "out_of_scope": "something outside the hotline's topics",
        "fees": "fees and charges",
        "merchant_question": "a question for a merchant",
        "return_not_registered": "a return the merchant has not registered",
        "frustrated": "being frustrated with the assistant",
    },
    "de": {
        "payment_status": "ob eine Rechnung bezahlt ist",
        "open_payments": "offene Zahlungen",
        "next_due_date": "die nächste Fälligkeit",
        "refund_status": "eine Rückerstattung",
        "payment_options": "Zahlungswege",
        "fraud": "möglichen Betrug",
        "stolen_data": "gestohlene Karte oder Daten",
        "merchant_dispute": "einen Streit mit einem Händler",
        "complaint": "eine Beschwerde",
        "financial_hardship": "Zahlungsschwierigkeiten",
        "human": "ein Gespräch mit einem Mitarbeiter",
        "withdraw_consent": "den Widerruf der Einwilligung",
        "out_of_scope": "ein anderes Thema",
        "fees": "Gebühren",
        "merchant_question": "eine Frage an einen Händler",
        "return_not_registered": "eine Rücksendung, die der Händler nicht erfasst hat",
        "frustrated": "Unzufriedenheit mit dem Assistenten",
    },
}
_TEMPLATES = {
    "en": "{who}, {verified}. Asked about {topic}. Handed over because {reason}.",
    "de": "{who}, {verified}. Anliegen: {topic}. Übergeben, weil: {reason}.",
}
_WHO = {
    "en": ("Caller not identified", "verified", "not verified", "nothing yet"),
    "de": ("Anrufer nicht identifiziert", "verifiziert", "nicht verifiziert", "noch nichts"),
}


def summary_text(
    language: str, *, customer_name: str | None, verified: bool, topic: str | None, reason: HandoffReason
) -> str:
    unknown, yes, no, nothing = _WHO[language]
    return _TEMPLATES[language].format(
        who=customer_name if verified and customer_name else unknown,
        verified=yes if verified else no,
        topic=_TOPICS[language].get(topic or "", nothing),
        reason=_REASONS[language][reason],
    )


def record_transfer(
    engine: Engine,
    call_id: int,
    *,
    reason: HandoffReason,
    topic: str | None,
    customer_name: str | None,
    verified: bool,
    dial_target: str,
) -> Handoff:
    """Stores the handoff of a call once (the first decision stands), with the last few things the caller said
    when, and only when, consent was granted."""
    call = calls.find_call_by_id(engine, call_id)
    if call is None:
        raise ValueError(f"no call with id {call_id} to hand over")
    turns = calls.turns_of(engine, call_id) if call.consent_decision == "granted" else []
    excerpt = "\n".join(turn.transcript for turn in turns[-EXCERPT_TURNS:] if turn.transcript != WITHHELD)
    return record_handoff(
        engine,
        call_id,
        reason=reason,
        summary=summary_text(call.language, customer_name=customer_name, verified=verified, topic=topic, reason=reason),
        transcript_excerpt=excerpt or None,
        customer_name=customer_name,
        verified=verified,
        consent_decision=call.consent_decision,
        language=call.language,
        dial_target=dial_target,
    )


def issue_whisper_token(engine: Engine, call_id: int, valid_for: timedelta) -> str:
    """The token under which the agent hears the call's briefing. A token still valid is kept: Twilio retries the
    request that dials, may act on any of the answers, and each must lead to the briefing."""
    now = utcnow()
    with Session(engine) as session:
        session.exec(
            update(Handoff)
            .where(
                col(Handoff.call_id) == call_id,
                or_(col(Handoff.whisper_token).is_(None), col(Handoff.whisper_expires_at) <= now),
            )
            .values(whisper_token=secrets.token_urlsafe(32), whisper_expires_at=now + valid_for)
        )
        session.commit()
        token = session.exec(select(Handoff.whisper_token).where(Handoff.call_id == call_id)).first()
    if token is None:
        raise LookupError(f"call {call_id} has no hand-over to brief an agent on")
    return token


def handoff_for_whisper(engine: Engine, token: str, now: datetime | None = None) -> Handoff | None:
    """The handoff a whisper token belongs to, while the token is valid."""
    if not token or len(token) > 64:
        return None
    with Session(engine) as session:
        handoff = session.exec(select(Handoff).where(Handoff.whisper_token == token)).first()
    if handoff is None or handoff.whisper_expires_at is None:
        return None
    expires = handoff.whisper_expires_at
    if expires.tzinfo is None:  # SQLite hands back UTC without its zone
        expires = expires.replace(tzinfo=UTC)
    return handoff if expires > (now or utcnow()) else None
