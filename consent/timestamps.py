"""UTC timestamps that survive a database round trip unchanged.

Event hashes cover timestamps, so the value read back must be exactly the value
that was hashed. SQLite stores no offset and returns naive datetimes; this type
stores UTC and hands back timezone-aware UTC on every backend.
"""

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def utc_now() -> datetime:
    return datetime.now(UTC)


def require_aware(value: datetime, name: str) -> datetime:
    """Return `value` in UTC; a naive datetime is ambiguous evidence, so refuse it."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return require_aware(value, "timestamp")

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # Only ever written as UTC (see process_bind_param).
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
