"""The evidence timeline of one call and the flags compliance staff must look at.

What the caller was told and decided comes from the consent ledger; what happened on the call (when it
started, which notices finished playing, when transcripts were stored, transfer, end) is handed in by the
application as CallActivity items, so this module needs nothing of telephony.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine

from consent.ledger import ChainVerification, Decision, events_for_call
from consent.models import ConsentEvent, NoticeVersion
from consent.search import notice_versions
from consent.timestamps import require_aware


class ActivityKind(StrEnum):
    CALL_STARTED = "call_started"
    DISCLOSURE_PLAYED = "disclosure_played"
    NOTICE_PLAYED = "notice_played"
    TRANSCRIPT_STORED = "transcript_stored"
    TRANSFER = "transfer"
    CALL_ENDED = "call_ended"


@dataclass(frozen=True)
class CallActivity:
    kind: ActivityKind
    at: datetime
    detail: str = ""

    def __post_init__(self) -> None:
        # Compared with the ledger's UTC times, so a naive time would be ambiguous evidence.
        object.__setattr__(self, "at", require_aware(self.at, f"{self.kind} time"))


class FlagCode(StrEnum):
    TRANSCRIPT_WITHOUT_CONSENT = "transcript_without_consent"
    PROCESSING_BEFORE_CONSENT = "processing_before_consent"
    TRANSCRIPT_AFTER_WITHDRAWAL = "transcript_after_withdrawal"
    NO_DISCLOSURE = "no_disclosure"
    BROKEN_CHAIN = "broken_chain"


@dataclass(frozen=True)
class Flag:
    code: FlagCode
    message: str


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    detail: str
    notice_text: str | None = None


@dataclass(frozen=True)
class EvidenceTimeline:
    call_ref: str
    entries: list[TimelineEntry]
    flags: list[Flag]
    consent_events: list[ConsentEvent]


def build_timeline(
    engine: Engine, call_ref: str, activities: Sequence[CallActivity], chain: ChainVerification
) -> EvidenceTimeline:
    """Merge the ledger's events with the call's activities in time order and flag what must not happen."""
    events = events_for_call(engine, call_ref)
    notices = notice_versions(engine, events)
    entries = [_activity_entry(activity, events, notices) for activity in _first_transcript_only(activities)]
    for event in events:
        entries.extend(_ledger_entries(event, notices))
    entries.sort(key=lambda entry: entry.at)
    return EvidenceTimeline(
        call_ref=call_ref, entries=entries, flags=_flags(events, activities, chain), consent_events=events
    )


def _first_transcript_only(activities: Sequence[CallActivity]) -> list[CallActivity]:
    transcripts = [a for a in activities if a.kind is ActivityKind.TRANSCRIPT_STORED]
    others = [a for a in activities if a.kind is not ActivityKind.TRANSCRIPT_STORED]
    if not transcripts:
        return others
    first = min(transcripts, key=lambda a: a.at)
    more = f" ({len(transcripts) - 1} more later)" if len(transcripts) > 1 else ""
    return [*others, CallActivity(first.kind, first.at, f"first stored transcript{more}")]


def _activity_entry(
    activity: CallActivity, events: list[ConsentEvent], notices: dict[int, NoticeVersion]
) -> TimelineEntry:
    text = None
    if activity.kind is ActivityKind.DISCLOSURE_PLAYED:
        text = _played_text(events, notices, disclosure=True)
    elif activity.kind is ActivityKind.NOTICE_PLAYED:
        text = _played_text(events, notices, disclosure=False)
    return TimelineEntry(activity.at, activity.kind.value, activity.detail, text)


def _played_text(events: list[ConsentEvent], notices: dict[int, NoticeVersion], disclosure: bool) -> str | None:
    for event in events:
        version_id = event.disclosure_version_id if disclosure else event.notice_version_id
        if version_id is not None and version_id in notices:
            return notices[version_id].text
    return None


def _ledger_entries(event: ConsentEvent, notices: dict[int, NoticeVersion]) -> list[TimelineEntry]:
    notice = notices[event.notice_version_id]
    answered = f"{event.decision} by {event.method}, after {event.prompt_count} prompt(s); ledger seq {event.seq}" + (
        "" if event.recognised_answer is None else f"; heard: {event.recognised_answer!r}"
    )
    entries = [
        TimelineEntry(
            event.notice_played_at,
            "notice_version",
            f"consent notice {notice.language} v{notice.version} (sha256 {notice.sha256[:12]}…)",
            notice.text,
        )
    ]
    entries.append(TimelineEntry(event.answered_at or event.recorded_at, "consent_" + event.decision, answered))
    return entries


def _flags(events: list[ConsentEvent], activities: Sequence[CallActivity], chain: ChainVerification) -> list[Flag]:
    transcripts = sorted(a.at for a in activities if a.kind is ActivityKind.TRANSCRIPT_STORED)
    granted_at = _first_answer(events, Decision.GRANTED)
    withdrawn_at = _first_answer(events, Decision.WITHDRAWN)
    flags = []
    if transcripts and granted_at is None:
        flags.append(
            Flag(
                FlagCode.TRANSCRIPT_WITHOUT_CONSENT,
                f"{len(transcripts)} transcript(s) stored, but consent was never granted",
            )
        )
    early = [t for t in transcripts if granted_at is not None and t < granted_at]
    if early:
        flags.append(
            Flag(
                FlagCode.PROCESSING_BEFORE_CONSENT,
                f"{len(early)} transcript(s) stored before consent was given at {granted_at:%Y-%m-%d %H:%M:%S} UTC",
            )
        )
    late = [t for t in transcripts if withdrawn_at is not None and t > withdrawn_at]
    if late:
        flags.append(
            Flag(FlagCode.TRANSCRIPT_AFTER_WITHDRAWAL, f"{len(late)} transcript(s) stored after consent was withdrawn")
        )
    if (events or transcripts) and not any(a.kind is ActivityKind.DISCLOSURE_PLAYED for a in activities):
        flags.append(
            Flag(
                FlagCode.NO_DISCLOSURE,
                "no record that the AI disclosure was played before consent was asked or speech was processed",
            )
        )
    if not chain.ok:
        flags.append(Flag(FlagCode.BROKEN_CHAIN, _chain_message(events, chain)))
    return flags


def _first_answer(events: list[ConsentEvent], decision: Decision) -> datetime | None:
    times = [e.answered_at or e.recorded_at for e in events if e.decision == decision]
    return min(times) if times else None


def _chain_message(events: list[ConsentEvent], chain: ChainVerification) -> str:
    message = f"the consent hash chain is broken at seq {chain.first_broken_seq}: {chain.reason}"
    if not events or chain.first_broken_seq is None:
        return message
    if max(e.seq for e in events) >= chain.first_broken_seq:
        return message + "; this call's events lie at or after the break and are unproven"
    return message + "; this call's events come before the break and verified"
