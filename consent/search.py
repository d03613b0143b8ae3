"""Finding consent events by what compliance staff know: dates, call, decision, notice version, language,
caller pseudonym."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from consent.ledger import Decision, InvalidLedgerQuery
from consent.models import LANGUAGES, REF_MAX_LENGTH, ConsentEvent, NoticeVersion

MAX_RANGE_DAYS = 3660
_PAGE_SIZE = 1000


@dataclass(frozen=True)
class EventFilter:
    """Which events to show. Dates are whole days in `timezone`, both ends included."""

    date_from: date | None = None
    date_to: date | None = None
    call_ref: str | None = None
    decision: str | None = None
    notice_version: int | None = None
    language: str | None = None
    subject: str | None = None
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise InvalidLedgerQuery(f"unknown timezone {self.timezone!r}") from None
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
                raise InvalidLedgerQuery(f"{name} must be a date")
        if self.date_from and self.date_to:
            if self.date_to < self.date_from:
                raise InvalidLedgerQuery("the end date is before the start date")
            if (self.date_to - self.date_from).days > MAX_RANGE_DAYS:
                raise InvalidLedgerQuery(f"a date range may span at most {MAX_RANGE_DAYS} days")
        for name in ("call_ref", "subject"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > REF_MAX_LENGTH):
                raise InvalidLedgerQuery(f"{name} must be non-blank text of at most {REF_MAX_LENGTH} characters")
        if self.decision is not None and self.decision not in {d.value for d in Decision}:
            raise InvalidLedgerQuery(f"decision must be one of {', '.join(d.value for d in Decision)}")
        if self.language is not None and self.language not in LANGUAGES:
            raise InvalidLedgerQuery(f"language must be one of {', '.join(LANGUAGES)}")
        version = self.notice_version
        if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
            raise InvalidLedgerQuery("notice version must be a whole number from 1")

    def describe(self) -> dict[str, str | int]:
        """The filters in use, as plain values for a manifest or an audit entry."""
        described = {
            name: value.isoformat() if isinstance(value, date) else value
            for name, value in asdict(self).items()
            if value is not None
        }
        if len(described) == 1:  # only the timezone
            return {}
        return described

    def _bounds(self) -> tuple[datetime | None, datetime | None]:
        zone = ZoneInfo(self.timezone)
        start = None if self.date_from is None else datetime.combine(self.date_from, time(), zone)
        end = None if self.date_to is None else datetime.combine(self.date_to + timedelta(days=1), time(), zone)
        return start, end


def parse_filter(fields: Mapping[str, str], timezone: str) -> EventFilter:
    """An EventFilter from text fields (a web form, CLI options); blank fields mean "any"."""

    def text(name: str) -> str | None:
        value = fields.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise InvalidLedgerQuery(f"{name} must be text")
        return value.strip() or None

    def day(name: str) -> date | None:
        value = text(name)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise InvalidLedgerQuery(f"{name} must be a date like 2026-11-22, got {value[:40]!r}") from None

    version_text = text("notice_version")
    if version_text is not None and not (version_text.isascii() and version_text.isdigit() and len(version_text) < 10):
        raise InvalidLedgerQuery(f"notice version must be a whole number, got {version_text[:20]!r}")
    return EventFilter(
        date_from=day("date_from"),
        date_to=day("date_to"),
        call_ref=text("call_ref"),
        decision=text("decision"),
        notice_version=None if version_text is None else int(version_text),
        language=text("language"),
        subject=text("subject"),
        timezone=timezone,
    )


def _filtered(statement: SelectOfScalar, event_filter: EventFilter) -> SelectOfScalar:
    start, end = event_filter._bounds()
    if start is not None:
        statement = statement.where(ConsentEvent.recorded_at >= start)
    if end is not None:
        statement = statement.where(ConsentEvent.recorded_at < end)
    if event_filter.call_ref is not None:
        statement = statement.where(ConsentEvent.call_ref == event_filter.call_ref)
    if event_filter.subject is not None:
        statement = statement.where(ConsentEvent.subject == event_filter.subject)
    if event_filter.decision is not None:
        statement = statement.where(ConsentEvent.decision == event_filter.decision)
    if event_filter.language is not None:
        statement = statement.where(ConsentEvent.language == event_filter.language)
    if event_filter.notice_version is not None:
        versions = select(NoticeVersion.id).where(NoticeVersion.version == event_filter.notice_version)
        statement = statement.where(col(ConsentEvent.notice_version_id).in_(versions))
    return statement


def count_events(engine: Engine, event_filter: EventFilter) -> int:
    with Session(engine) as session:
        return session.exec(_filtered(select(func.count()).select_from(ConsentEvent), event_filter)).one()


def find_events(engine: Engine, event_filter: EventFilter, limit: int, offset: int = 0) -> list[ConsentEvent]:
    """One page of matching events, newest first."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _PAGE_SIZE:
        raise InvalidLedgerQuery(f"limit must be an integer from 1 to {_PAGE_SIZE}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidLedgerQuery("offset must be a whole number from 0")
    statement = _filtered(select(ConsentEvent), event_filter).order_by(col(ConsentEvent.seq).desc())
    with Session(engine) as session:
        return list(session.exec(statement.offset(offset).limit(limit)))


def iter_events(engine: Engine, event_filter: EventFilter, up_to_seq: int) -> Iterator[ConsentEvent]:
    """Every matching event up to `up_to_seq`, oldest first, read in short keyset pages."""
    after_seq = 0
    while True:
        statement = (
            _filtered(select(ConsentEvent), event_filter)
            .where(ConsentEvent.seq > after_seq)
            .where(ConsentEvent.seq <= up_to_seq)
            .order_by(col(ConsentEvent.seq))
            .limit(_PAGE_SIZE)
        )
        with Session(engine) as session:
            page = list(session.exec(statement))
        yield from page
        if len(page) < _PAGE_SIZE:
            return
        after_seq = page[-1].seq


def notice_versions(engine: Engine, events: Iterable[ConsentEvent]) -> dict[int, NoticeVersion]:
    """The consent notices and disclosures `events` name, by id."""
    ids = set()
    for event in events:
        ids.add(event.notice_version_id)
        if event.disclosure_version_id is not None:
            ids.add(event.disclosure_version_id)
    if not ids:
        return {}
    with Session(engine) as session:
        found = session.exec(select(NoticeVersion).where(col(NoticeVersion.id).in_(ids)))
        return {notice.id: notice for notice in found if notice.id is not None}  # stored rows: never None
