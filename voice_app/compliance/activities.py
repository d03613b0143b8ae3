"""A call's activities as the consent package's evidence timeline expects them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from consent.evidence import ActivityKind, CallActivity
from voice_app.models import Call, CallEvent, CallOutcome, Turn

# Call event kinds (see media_session) that belong on the evidence timeline.
_EVENT_KINDS = {
    "disclosure_played": ActivityKind.DISCLOSURE_PLAYED,
    "notice_played": ActivityKind.NOTICE_PLAYED,
    CallOutcome.TRANSFER.value: ActivityKind.TRANSFER,
}


def call_activities(engine: Engine, call: Call) -> list[CallActivity]:
    with Session(engine) as session:
        events = session.exec(select(CallEvent).where(CallEvent.call_id == call.id).order_by(col(CallEvent.id))).all()
        turn_times = session.exec(select(Turn.at).where(Turn.call_id == call.id)).all()
    activities = [CallActivity(ActivityKind.CALL_STARTED, _utc(call.started_at), f"called {call.called_number}")]
    for event in events:
        kind = _EVENT_KINDS.get(event.kind)
        if kind is not None:
            activities.append(CallActivity(kind, _utc(event.at), event.detail))
    activities.extend(CallActivity(ActivityKind.TRANSCRIPT_STORED, _utc(at)) for at in turn_times)
    if call.ended_at is not None:
        activities.append(CallActivity(ActivityKind.CALL_ENDED, _utc(call.ended_at), f"status {call.status}"))
    return activities


def _utc(moment: datetime) -> datetime:
    """SQLite hands the app's timestamps back without their offset; they are always written in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
