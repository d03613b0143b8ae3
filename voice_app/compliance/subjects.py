"""Access and erasure requests of one caller, found by the pseudonym of their phone number."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, delete, update
from sqlmodel import Session, SQLModel, col, select

from consent.ledger import erase_answers
from consent.models import ConsentEvent, NoticeVersion
from consent.timestamps import utc_now
from voice_app.handoff.models import CallbackRequest, Handoff, Voicemail
from voice_app.models import Call, CallEvent, Turn
from voice_app.pseudonyms import UNKNOWN_CALLER, normalise_phone_number, pseudonymise
from voice_app.rows import table_of

# A row of one of the tables whose rows belong to one call, by its call_id.
CallRow = TypeVar("CallRow", CallEvent, Turn, Handoff, CallbackRequest, Voicemail)


class SubjectRequestError(ValueError):
    pass


def subject_for_phone(raw_number: str, secret_key: str) -> str:
    """The pseudonym a phone number is stored under; refuses what is no valid number, so that a typo can never
    address the shared pseudonym of all withheld numbers."""
    if not isinstance(raw_number, str) or normalise_phone_number(raw_number) is None:
        raise SubjectRequestError("not a valid phone number; give it in international form, e.g. +4915123456789")
    subject = pseudonymise(raw_number, secret_key)
    if subject == UNKNOWN_CALLER:
        raise SubjectRequestError("not a valid phone number")
    return subject


def subject_report(engine: Engine, subject: str) -> dict[str, Any]:
    """Everything stored about the caller behind `subject`, as plain JSON-ready values."""
    with Session(engine) as session:
        calls = session.exec(select(Call).where(Call.caller == subject).order_by(col(Call.started_at))).all()
        call_ids = [c.id for c in calls]
        events = _rows_by_call(session, CallEvent, call_ids)
        turns = _rows_by_call(session, Turn, call_ids)
        handoffs = _rows_by_call(session, Handoff, call_ids)
        callbacks = _rows_by_call(session, CallbackRequest, call_ids)
        voicemails = _rows_by_call(session, Voicemail, call_ids)
        consent = session.exec(
            select(ConsentEvent).where(ConsentEvent.subject == subject).order_by(col(ConsentEvent.seq))
        ).all()
        notices = {n.id: n for n in session.exec(select(NoticeVersion)).all()}
    return {
        "subject": subject,
        "generated_at": _plain(utc_now()),
        "calls": [
            {
                **_fields(call, exclude={"id", "caller"}),
                "events": [_fields(e, exclude={"id", "call_id"}) for e in events.get(call.id, [])],
                "turns": [_fields(t, exclude={"id", "call_id"}) for t in turns.get(call.id, [])],
                "handoff": next(
                    (_fields(h, exclude={"id", "call_id", "whisper_token"}) for h in handoffs.get(call.id, [])), None
                ),
                "callback_request": next(
                    (_fields(c, exclude={"id", "call_id", "handoff_id"}) for c in callbacks.get(call.id, [])), None
                ),
                "voice_message": next(
                    (
                        {
                            **_fields(v, exclude={"id", "call_id", "callback_id", "audio_wav", "listened_by"}),
                            "audio_file": voicemail_file_name(call) if v.audio_wav else None,
                        }
                        for v in voicemails.get(call.id, [])
                    ),
                    None,
                ),
            }
            for call in calls
        ],
        "consent_events": [
            {
                **_fields(e, exclude={"id", "answer_salt", "notice_version_id", "disclosure_version_id"}),
                "notice_text": notices[e.notice_version_id].text,
                "notice_version": notices[e.notice_version_id].version,
            }
            for e in consent
        ],
    }


def voicemail_file_name(call: Call) -> str:
    return f"voice-message-{call.call_sid}.wav"


def subject_voice_messages(engine: Engine, subject: str) -> dict[str, bytes]:
    """The caller's recorded voice messages by the file names the report gives them."""
    with Session(engine) as session:
        statement = select(Call, Voicemail).join(Voicemail, col(Voicemail.call_id) == col(Call.id))
        rows = session.exec(statement.where(Call.caller == subject)).all()
    return {voicemail_file_name(call): voicemail.audio_wav for call, voicemail in rows if voicemail.audio_wav}


def readable_summary(report: dict[str, Any]) -> str:
    """The report in sentences, for a reply to the person who asked."""
    calls = report["calls"]
    consent = report["consent_events"]
    lines = [f"Data held about caller pseudonym {report['subject'][:12]}… on {report['generated_at'][:10]}", ""]
    if not calls and not consent:
        lines.append("We hold no calls and no consent decisions for this phone number.")
        return "\n".join(lines) + "\n"
    lines.append(f"Calls: {len(calls)}.")
    lines.extend(_call_line(call) for call in calls)
    lines.append("")
    lines.append(f"Consent decisions: {len(consent)}.")
    for event in consent:
        when = (event["answered_at"] or event["recorded_at"])[:16].replace("T", " ")
        lines.append(
            f"- {when} UTC: {event['decision']} by {event['method']} after hearing consent notice "
            f"version {event['notice_version']} ({event['language']})."
        )
    return "\n".join(lines) + "\n"


def _call_line(call: dict[str, Any]) -> str:
    turns = len(call["turns"])
    handoff, voice_message = call["handoff"], call["voice_message"]
    parts = [
        f"- {call['started_at'][:16].replace('T', ' ')} UTC, language {call['language']}",
        f"consent {call['consent_decision'] or 'not asked'}",
        f"{turns} recorded exchange(s) with the assistant" if turns else "nothing said was recorded",
    ]
    if handoff is not None:
        parts.append(f"passed to a colleague ({handoff['reason'].replace('_', ' ')})")
    if call["callback_request"] is not None:
        parts.append("callback requested")
    if voice_message and voice_message["audio_file"]:
        parts.append(f"voice message of {voice_message['duration_seconds']:.0f} s ({voice_message['audio_file']})")
    return ", ".join(parts) + "."


def erase_subject(engine: Engine, subject: str) -> dict[str, int]:
    """Delete the caller's calls, transcripts, handoffs and callbacks; keep only the minimal proof of their
    consent decisions (pseudonym, times, notice version, decision), whose hash chain still verifies."""
    with Session(engine) as session, session.begin():
        call_ids = list(session.exec(select(Call.id).where(Call.caller == subject)).all())
        counts = delete_calls(session, call_ids)
    erased = erase_answers(engine, subject=subject)
    with Session(engine) as session:
        kept = len(session.exec(select(ConsentEvent.id).where(ConsentEvent.subject == subject)).all())
    return {**counts, "consent_answers_erased": erased, "consent_events_kept": kept}


def delete_calls(session: Session, call_ids: Sequence[int | None]) -> dict[str, int]:
    """Delete calls and every row that refers to them, children first; the caller commits.

    Found through the foreign keys, so a table added later that hangs off a call is deleted with it rather
    than blocking the deletion or outliving it."""
    calls = table_of(Call)
    counts = {}
    for table in reversed(SQLModel.metadata.sorted_tables):
        references = [key.parent for key in table.foreign_keys if key.column.table is calls]
        if references and call_ids:
            statement = delete(table).where(references[0].in_(list(call_ids)))
            counts[table.name] = session.exec(statement).rowcount
        elif references:
            counts[table.name] = 0
    counts["calls"] = session.exec(delete(calls).where(calls.c.id.in_(list(call_ids)))).rowcount if call_ids else 0
    return counts


def forget_transcripts(session: Session, before: datetime) -> dict[str, int]:
    """Delete what callers said before `before`: their turns and the excerpts in handoff briefings."""
    turns = session.exec(delete(Turn).where(col(Turn.at) < before).execution_options(synchronize_session=False))
    excerpts = session.exec(
        update(Handoff)
        .where(col(Handoff.requested_at) < before)
        .where(col(Handoff.transcript_excerpt).is_not(None))
        .values(transcript_excerpt=None)
        .execution_options(synchronize_session=False)
    )
    return {"turns": turns.rowcount, "handoff_excerpts": excerpts.rowcount}


def _rows_by_call(
    session: Session, model: type[CallRow], call_ids: list[int | None]
) -> dict[int | None, list[CallRow]]:
    grouped: dict[int | None, list[CallRow]] = {}
    if not call_ids:
        return grouped
    for row in session.exec(select(model).where(col(model.call_id).in_(call_ids)).order_by(col(model.id))).all():
        grouped.setdefault(row.call_id, []).append(row)
    return grouped


def _fields(row: SQLModel, exclude: set[str]) -> dict[str, Any]:
    return {name: _plain(value) for name, value in row.model_dump().items() if name not in exclude}


def _plain(value: object) -> object:
    if not isinstance(value, datetime):
        return value
    # SQLite hands timestamps back without a zone, PostgreSQL with one; they were written in UTC, and the
    # caller's copy says so either way.
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return moment.isoformat()
