"""The dashboard's figures over a date range: calls, consent rate, calls finished without a person, transfer
reasons and answer latency, per day (or week, or month) in the business-hours time zone.

Definitions (the page says the same in words):
- A call belongs to the local day on which it started, in `telephony.business_hours.timezone`: a call at
  23:30 UTC in winter is on the next day in Berlin. Its answer latencies belong to the same day.
- Consent rate: callers who said yes at the consent question, divided by the calls that reached it. A call
  reached it when the consent notice was played to its end or a decision was recorded. A caller who said yes
  and withdrew later still said yes at the question (they count as granted and are also shown as withdrawn).
  "No answer" (silence or two unclear answers) and hanging up before answering count as not granted.
- Finished without a person: calls the assistant ended itself (outcome hangup), as a share of the calls with
  an outcome (hangup or transfer). A call without an outcome (the caller hung up before the assistant finished,
  or it is still going on) is in neither part of the share; it is counted separately.
- Transfer reasons: why the calls with outcome transfer went to a person (`Call.handoff_reason`).
- Answer latency: from the moment turn detection closed the caller's utterance to the moment the first audio
  frame of the reply was sent (`AnswerLatency`, recorded on every call, with or without consent); median and
  90th percentile, interpolated between the nearest ranks.
- Where the time went: the same figures per stage of an answered turn (`models.STAGES`: the wait for the end of
  the turn, which comes before the answer latency, then transcription, understanding with account lookup inside
  it, synthesis and the first frame), over the whole range, from the answers that timed their stages.

The queries are plain comparisons and joins, so they run the same on SQLite and PostgreSQL; grouping by local
day is done here in Python, because the two databases name their date functions differently.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from voice_app.models import STAGES, AnswerLatency, Call, CallEvent, CallOutcome

MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30
NOTICE_PLAYED = "notice_played"  # the call event written once the consent notice was heard to its end
SAID_YES = frozenset({"granted", "withdrawn"})  # a withdrawal is only possible after a yes
DECISIONS = ("granted", "withdrawn", "refused", "no_answer", "hung_up")  # "hung_up": reached, no decision
UNKNOWN_REASON = "unknown"


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"  # Monday to Sunday
    MONTH = "month"


class RangeError(ValueError):
    """A date range that cannot be reported on; the message may be shown to the user."""


@dataclass(frozen=True)
class DateRange:
    """Whole local days, `first` to `last` inclusive, in `zone`."""

    first: date
    last: date
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise RangeError("The start date is after the end date.")
        if self.days > MAX_RANGE_DAYS:
            raise RangeError(f"A range can be at most {MAX_RANGE_DAYS} days long; this one has {self.days}.")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """From local midnight at the start of `first` (inclusive) to local midnight after `last` (exclusive)."""
        start = datetime.combine(self.first, time.min, tzinfo=self.zone)
        end = datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=self.zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    def local_day(self, moment: datetime) -> date:
        # SQLite hands timestamps back without a zone; they were written in UTC.
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return aware.astimezone(self.zone).date()


def default_range(zone: ZoneInfo, today: date | None = None, days: int = DEFAULT_RANGE_DAYS) -> DateRange:
    """The last `days` local days, today included."""
    last = today or datetime.now(zone).date()
    return DateRange(last - timedelta(days=days - 1), last, zone)


def period_for(date_range: DateRange) -> Period:
    """One bar per day up to a month, per week up to half a year, else per month: at most 31 bars, wide enough
    to carry their values."""
    if date_range.days <= 31:
        return Period.DAY
    if date_range.days <= 186:
        return Period.WEEK
    return Period.MONTH


def bucket_start(day: date, period: Period) -> date:
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    return day


def _next_bucket(start: date, period: Period) -> date:
    if period is Period.WEEK:
        return start + timedelta(days=7)
    if period is Period.MONTH:
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


@dataclass(frozen=True)
class LatencySummary:
    count: int = 0
    median_ms: float | None = None
    p90_ms: float | None = None

    @classmethod
    def of(cls, values: Iterable[int]) -> LatencySummary:
        ordered = sorted(values)
        if not ordered:
            return cls()
        return cls(len(ordered), percentile(ordered, 0.5), percentile(ordered, 0.9))


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile of sorted values, interpolated linearly between the nearest ranks."""
    if not ordered:
        raise ValueError("no values")
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, not {fraction}")
    position = (len(ordered) - 1) * fraction
    below, above = math.floor(position), math.ceil(position)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@dataclass(frozen=True)
class Bucket:
    """The figures of one day, week or month (clipped to the range), or of the whole range."""

    first: date
    last: date
    calls: int = 0
    consent_reached: int = 0
    consent_granted: int = 0
    finished_by_assistant: int = 0
    handed_to_person: int = 0
    no_outcome: int = 0
    latency: LatencySummary = field(default_factory=LatencySummary)

    @property
    def consent_rate(self) -> float | None:
        return self.consent_granted / self.consent_reached if self.consent_reached else None

    @property
    def with_outcome(self) -> int:
        return self.finished_by_assistant + self.handed_to_person

    @property
    def without_person_share(self) -> float | None:
        return self.finished_by_assistant / self.with_outcome if self.with_outcome else None


@dataclass(frozen=True)
class Metrics:
    range: DateRange
    period: Period
    buckets: list[Bucket]
    total: Bucket
    consent_decisions: dict[str, int]  # over the calls that reached the question; keys as in DECISIONS
    transfer_reasons: list[tuple[str, int]]  # most frequent first
    stages: list[tuple[str, LatencySummary]] = field(default_factory=list)  # per timed stage (models.STAGES), in order

    @property
    def empty(self) -> bool:
        return self.total.calls == 0


# -- queries ----------------------------------------------------------------------------------------------------


def calls_query(start: datetime, end: datetime) -> Select[int | None, datetime, str | None, str | None, str | None]:
    # sqlmodel's select() is typed for at most four columns
    return select(  # type: ignore[call-overload]
        Call.id, Call.started_at, Call.consent_decision, Call.outcome, Call.handoff_reason
    ).where(col(Call.started_at) >= start, col(Call.started_at) < end)


def notice_played_query(start: datetime, end: datetime) -> SelectOfScalar[int]:
    return (
        select(CallEvent.call_id)
        .join(Call, col(Call.id) == col(CallEvent.call_id))
        .where(Call.started_at >= start, Call.started_at < end, CallEvent.kind == NOTICE_PLAYED)
        .distinct()
    )


def latencies_query(start: datetime, end: datetime) -> Select[datetime, int]:
    return (
        select(Call.started_at, AnswerLatency.latency_ms)
        .join(Call, col(Call.id) == col(AnswerLatency.call_id))
        .where(Call.started_at >= start, Call.started_at < end)
    )


def stages_query(start: datetime, end: datetime) -> Any:
    columns = [getattr(AnswerLatency, f"{stage}_ms") for stage in STAGES]
    # sqlmodel's select() is typed for at most four columns
    return (
        select(*columns)
        .join(Call, col(Call.id) == col(AnswerLatency.call_id))
        .where(Call.started_at >= start, Call.started_at < end)
    )


def stage_summaries(rows: Iterable[Sequence[int | None]]) -> list[tuple[str, LatencySummary]]:
    """Median and 90th percentile of each stage over the answers that timed it (older rows timed none)."""
    values: dict[str, list[int]] = {stage: [] for stage in STAGES}
    for row in rows:
        for stage, ms in zip(STAGES, row, strict=True):
            if ms is not None:
                values[stage].append(ms)
    return [(stage, LatencySummary.of(found)) for stage, found in values.items() if found]


@dataclass
class _Tally:
    calls: int = 0
    reached: int = 0
    granted: int = 0
    finished: int = 0
    transferred: int = 0
    no_outcome: int = 0
    latencies: list[int] = field(default_factory=list)

    def bucket(self, first: date, last: date) -> Bucket:
        return Bucket(
            first,
            last,
            self.calls,
            self.reached,
            self.granted,
            self.finished,
            self.transferred,
            self.no_outcome,
            LatencySummary.of(self.latencies),
        )


def compute_metrics(engine: Engine, date_range: DateRange, period: Period | None = None) -> Metrics:
    period = period or period_for(date_range)
    start, end = date_range.utc_bounds()
    with Session(engine) as session:
        call_rows = session.exec(calls_query(start, end)).all()
        noticed = set(session.exec(notice_played_query(start, end)).all())
        latency_rows = session.exec(latencies_query(start, end)).all()
        stage_rows = session.exec(stages_query(start, end)).all()

    tallies: dict[date, _Tally] = defaultdict(_Tally)
    total = _Tally()
    decisions: Counter[str] = Counter({decision: 0 for decision in DECISIONS})
    reasons: Counter[str] = Counter()
    for call_id, started_at, decision, outcome, reason in call_rows:
        key = bucket_start(date_range.local_day(started_at), period)
        reached = decision is not None or call_id in noticed
        for tally in (tallies[key], total):
            tally.calls += 1
            if reached:
                tally.reached += 1
                tally.granted += decision in SAID_YES
            if outcome == CallOutcome.HANGUP:
                tally.finished += 1
            elif outcome == CallOutcome.TRANSFER:
                tally.transferred += 1
            else:
                tally.no_outcome += 1
        if reached:
            decisions[decision or "hung_up"] += 1
        if outcome == CallOutcome.TRANSFER:
            reasons[reason or UNKNOWN_REASON] += 1
    for started_at, latency_ms in latency_rows:
        key = bucket_start(date_range.local_day(started_at), period)
        tallies[key].latencies.append(latency_ms)
        total.latencies.append(latency_ms)

    buckets = []
    first = bucket_start(date_range.first, period)
    while first <= date_range.last:
        following = _next_bucket(first, period)
        clipped_first, clipped_last = max(first, date_range.first), min(following - timedelta(days=1), date_range.last)
        buckets.append(tallies.get(first, _Tally()).bucket(clipped_first, clipped_last))
        first = following
    return Metrics(
        range=date_range,
        period=period,
        buckets=buckets,
        total=total.bucket(date_range.first, date_range.last),
        consent_decisions=dict(decisions),
        transfer_reasons=sorted(reasons.items(), key=lambda item: (-item[1], item[0])),
        stages=stage_summaries(stage_rows),
    )
