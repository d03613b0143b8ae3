"""Voice messages: reserved when the caller chooses one, bound to the one media stream that records it, stored
when it ends, played to agents. Reads for the consoles never load the audio unless it is played.

Like the other hand-over writes these are first-wins: a replayed request or a second stream cannot overwrite a
message, and a message once stored is never replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from telephony.audio import PHONE_RATE, mulaw_wav_file, read_mulaw_wav
from voice_app.handoff.models import CallbackRequest, Handoff, HandoffOutcome, Voicemail, VoicemailStatus
from voice_app.models import utcnow
from voice_app.rows import stored_id

ENDED_BY = ("hash_key", "silence", "max_length", "hang_up", "stream_error")


@dataclass(frozen=True)
class VoicemailInfo:
    """A stored message without its audio."""

    id: int
    call_id: int
    callback_id: int
    duration_seconds: float
    ended_by: str | None
    status: str
    recorded_at: datetime | None
    listened_at: datetime | None
    listened_by: int | None


_INFO_COLUMNS = (
    Voicemail.id,
    Voicemail.call_id,
    Voicemail.callback_id,
    Voicemail.duration_seconds,
    Voicemail.ended_by,
    Voicemail.status,
    Voicemail.recorded_at,
    Voicemail.listened_at,
    Voicemail.listened_by,
)


def _info(row) -> VoicemailInfo:
    return VoicemailInfo(*row)


def reserve_voicemail(engine: Engine, call_id: int) -> int | None:
    """Reserves the call's message slot once the caller chose a message; its id, or None when the call has no
    callback request to attach it to or a message was already recorded (a replayed choice)."""
    with Session(engine) as session:
        existing = session.exec(select(Voicemail).where(Voicemail.call_id == call_id)).first()
        if existing is not None:
            return _open_slot(existing)
        callback = session.exec(select(CallbackRequest).where(CallbackRequest.call_id == call_id)).first()
        if callback is None:
            return None
        voicemail = Voicemail(call_id=call_id, callback_id=stored_id(callback))
        session.add(voicemail)
        try:
            session.commit()
        except IntegrityError:
            # A concurrent retry of the same choice reserved it first (one message per call): answer as it did.
            session.rollback()
            return _open_slot(session.exec(select(Voicemail).where(Voicemail.call_id == call_id)).one())
        session.refresh(voicemail)
        return voicemail.id


def _open_slot(voicemail: Voicemail) -> int | None:
    """The reserved slot's id while no stream records into it yet, else None."""
    return voicemail.id if voicemail.status == VoicemailStatus.RECORDING and voicemail.stream_sid is None else None


def bind_voicemail_stream(engine: Engine, call_id: int, stream_sid: str) -> int | None:
    """Binds the recording stream to the reserved slot; None when there is none or another stream has it."""
    with Session(engine) as session:
        slot = session.exec(
            select(Voicemail.id).where(
                col(Voicemail.call_id) == call_id,
                col(Voicemail.status) == VoicemailStatus.RECORDING,
                col(Voicemail.stream_sid).is_(None),
            )
        ).first()
        if slot is None:
            return None
        result = session.exec(
            update(Voicemail)
            .where(col(Voicemail.id) == slot, col(Voicemail.stream_sid).is_(None))
            .values(stream_sid=stream_sid)
        )
        session.commit()
        return slot if result.rowcount == 1 else None


def store_voicemail(engine: Engine, voicemail_id: int, mulaw: bytes, ended_by: str) -> bool:
    """Keeps the recorded audio (mu-law as it came, in a WAV file) and marks the hand-over as ended in a voice
    message; False when the slot was not recording."""
    if ended_by not in ENDED_BY:
        raise ValueError(f"ended_by must be one of {', '.join(ENDED_BY)}, not {ended_by!r}")
    if not mulaw:
        raise ValueError("an empty recording is discarded, not stored")
    with Session(engine) as session:
        result = session.exec(
            update(Voicemail)
            .where(col(Voicemail.id) == voicemail_id, col(Voicemail.status) == VoicemailStatus.RECORDING)
            .values(
                audio_wav=mulaw_wav_file(mulaw),
                duration_seconds=round(len(mulaw) / PHONE_RATE, 2),
                ended_by=ended_by,
                status=VoicemailStatus.NEW.value,
                recorded_at=utcnow(),
            )
        )
        if result.rowcount == 1:
            recorded = session.get(Voicemail, voicemail_id)
            assert recorded is not None, "the update above just matched this row"
            call_id = recorded.call_id
            # The callback request stays open; what the caller left is now a message, not only a request.
            session.exec(
                update(Handoff)
                .where(col(Handoff.call_id) == call_id, col(Handoff.outcome) == HandoffOutcome.CALLBACK_REQUESTED)
                .values(outcome=HandoffOutcome.VOICEMAIL.value)
            )
        session.commit()
        return result.rowcount == 1


def discard_voicemail(engine: Engine, voicemail_id: int) -> None:
    """The caller left no message: the reserved slot goes, the callback request stands."""
    with Session(engine) as session:
        session.exec(
            delete(Voicemail).where(
                col(Voicemail.id) == voicemail_id, col(Voicemail.status) == VoicemailStatus.RECORDING
            )
        )
        session.commit()


def voicemail_of_call(engine: Engine, call_id: int) -> VoicemailInfo | None:
    """The call's stored message (not a slot still recording)."""
    with Session(engine) as session:
        row = session.exec(
            select(*_INFO_COLUMNS).where(  # type: ignore[call-overload]  # typed for at most four columns
                col(Voicemail.call_id) == call_id, col(Voicemail.status) != VoicemailStatus.RECORDING
            )
        ).first()
    return _info(row) if row else None


def voicemails_of_callbacks(engine: Engine, callback_ids: list[int]) -> dict[int, VoicemailInfo]:
    """Stored messages by callback request id."""
    if not callback_ids:
        return {}
    with Session(engine) as session:
        rows = session.exec(
            select(*_INFO_COLUMNS).where(  # type: ignore[call-overload]  # typed for at most four columns
                col(Voicemail.callback_id).in_(callback_ids), col(Voicemail.status) != VoicemailStatus.RECORDING
            )
        )
        return {info.callback_id: info for info in map(_info, rows)}


def play_voicemail(engine: Engine, voicemail_id: int, user_id: int) -> bytes | None:
    """The message's mu-law audio for an agent; the first agent to play it is recorded as having listened."""
    with Session(engine) as session:
        voicemail = session.get(Voicemail, voicemail_id)
        if voicemail is None or voicemail.audio_wav is None or voicemail.status == VoicemailStatus.RECORDING:
            return None
        audio = read_mulaw_wav(voicemail.audio_wav)
        session.exec(
            update(Voicemail)
            .where(col(Voicemail.id) == voicemail_id, col(Voicemail.status) == VoicemailStatus.NEW)
            .values(status=VoicemailStatus.LISTENED.value, listened_at=utcnow(), listened_by=user_id)
        )
        session.commit()
        return audio
