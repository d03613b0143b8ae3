"""What a conversation leaves in the database, whichever channel carried it (a phone call's executor, the text
chat): the consent decision in the ledger, the stored turns, and how the conversation ended with its hand-over.

One place for these side effects, so that a typed conversation is recorded exactly as a call is.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.engine import Engine

from consent.ledger import ConsentRecord, append_event
from consent.models import ConsentEvent, NoticeVersion
from voice_app import calls
from voice_app.accounts.directory import AccountDirectory, AccountSummary
from voice_app.dialogue.messages import EndCall, PauseInvoice, RecordConsent, Say, StoreTurn
from voice_app.handoff.briefing import record_transfer
from voice_app.models import Call, CallOutcome

Notices = Mapping[tuple[str, str], NoticeVersion]


def record_notice_played(engine: Engine, notices: Notices, call: Call, say: Say, at: datetime | None = None) -> None:
    """Proof that the disclosure or the consent notice reached the caller to its end, naming the exact version;
    `at` when it ended (a call's mark came back), if not now."""
    if not say.evidence:
        return
    notice = notices[("consent" if say.evidence == "notice" else say.evidence, say.language)]
    calls.add_event(
        engine,
        calls.id_of(call),
        f"{say.evidence}_played",
        f"{notice.kind} {notice.language} v{notice.version} sha256:{notice.sha256}",
        at=at,
    )


def record_consent(engine: Engine, notices: Notices, call: Call, record: RecordConsent) -> ConsentEvent:
    """Appends the decision to the ledger first, then notes it on the call."""
    event = append_event(
        engine,
        ConsentRecord(
            call_ref=call.call_sid,
            subject=call.caller,
            notice=notices[("consent", record.language)],
            disclosure=notices[("disclosure", record.language)],
            language=record.language,
            decision=record.decision,
            method=record.method,
            recognised_answer=record.recognised_answer,
            prompt_count=record.prompt_count,
            notice_played_at=record.notice_played_at,
            answered_at=record.answered_at,
        ),
    )
    call_id = calls.id_of(call)
    calls.record_consent_decision(engine, call_id, record.decision.value)
    calls.add_event(engine, call_id, "consent_recorded", f"{record.decision.value} seq {event.seq}")
    return event


def store_turn(engine: Engine, call: Call, turn: StoreTurn) -> int | None:
    """The turn's id, or None when it was not kept (no consent)."""
    return calls.store_turn(
        engine,
        calls.id_of(call),
        transcript=turn.transcript,
        confidence=turn.confidence,
        language=turn.language,
        intent=turn.intent,
        intent_confidence=turn.intent_confidence,
        route=turn.route,
        reply=turn.reply,
    )


def pause_invoice(engine: Engine, accounts: AccountDirectory, call: Call, pause: PauseInvoice) -> None:
    """Moves the invoice's due date for a return the merchant has not registered, and notes it on the call.

    A refusal by the directory (the invoice was paid or changed meanwhile) raises: the caller then goes to a person
    rather than hear that it was paused."""
    due = accounts.pause_invoice(pause.customer_id, pause.invoice_id, until=pause.until)
    calls.add_event(engine, calls.id_of(call), "invoice_paused", f"invoice {pause.invoice_id} due {due.isoformat()}")


def record_end(engine: Engine, call: Call, end: EndCall, account: AccountSummary | None, *, dial_target: str) -> None:
    """The outcome, and for a transfer the agent's briefing (the name only when the caller was verified)."""
    call_id = calls.id_of(call)
    outcome, reason = end.outcome, end.reason
    calls.decide_outcome(engine, call_id, outcome, reason, end.topic)
    if outcome is CallOutcome.TRANSFER and reason is not None:
        record_transfer(
            engine,
            call_id,
            reason=reason,
            topic=end.topic,
            customer_name=f"{account.first_name} {account.last_name}" if account else None,
            verified=account is not None,
            dial_target=dial_target,
        )
    calls.add_event(engine, call_id, outcome.value, reason.value if reason else "")
