"""The versioned fee schedule (data/fee_schedule.toml): what a reminder, a late payment, instalments and
financing cost per currency, and when each step after a missed due date comes.

Loaded and checked once; a broken file stops start-up with a message naming the key, because quoting a wrong
fee to a caller is worse than not starting.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from voice_app.accounts.data_files import read_toml

DATA_DIR = Path(__file__).resolve().parent / "data"
FEE_SCHEDULE_PATH = DATA_DIR / "fee_schedule.toml"
_VERSION = re.compile(r"^\d{4}-\d{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_FEE_CENTS = 100_00  # a fee above 100 units is a typo in the file, not a fee
MAX_DAYS = 365


class FeeScheduleError(ValueError):
    """The fee schedule file is missing or wrong; the message names the key."""


class FeeKind(StrEnum):
    REMINDER_FEE = "reminder_fee"
    LATE_FEE = "late_fee"


@dataclass(frozen=True)
class CurrencyTerms:
    currency: str
    reminder_fee_cents: int
    reminder_after_days: int
    late_fee_cents: int
    late_fee_after_days: int
    collection_after_days: int
    instalment_count: int
    instalment_interest_percent: float
    instalment_fee_cents: int
    financing_interest_percent: float | None  # None where financing is not offered

    def fee_cents(self, kind: FeeKind) -> int:
        return self.reminder_fee_cents if kind is FeeKind.REMINDER_FEE else self.late_fee_cents

    def fee_after_days(self, kind: FeeKind) -> int:
        return self.reminder_after_days if kind is FeeKind.REMINDER_FEE else self.late_fee_after_days

    def fees_due(self, due_date: date, today: date) -> tuple[tuple[FeeKind, date], ...]:
        """The fees an invoice unpaid since `due_date` has run into by `today`, with the day each was charged."""
        charged = []
        for kind in FeeKind:
            day = due_date + timedelta(days=self.fee_after_days(kind))
            if day <= today:
                charged.append((kind, day))
        return tuple(charged)


@dataclass(frozen=True)
class FeeSchedule:
    version: str
    currencies: Mapping[str, CurrencyTerms]

    def terms(self, currency: str) -> CurrencyTerms:
        """The terms in `currency`; KeyError when the schedule has none."""
        return self.currencies[currency]


def parse_fee_schedule(data: Mapping[str, Any], source: str = "fee schedule") -> FeeSchedule:
    version = data.get("version")
    if not isinstance(version, str) or not _VERSION.match(version):
        raise FeeScheduleError(f"{source}: version must be a string like 2026-11, not {version!r}")
    currencies = data.get("currencies")
    if not isinstance(currencies, dict) or not currencies:
        raise FeeScheduleError(f"{source}: [currencies.XXX] tables are missing")
    terms = {}
    for currency, table in currencies.items():
        if not _CURRENCY.match(currency):
            raise FeeScheduleError(f"{source}: currencies.{currency} is not an upper-case ISO 4217 code")
        terms[currency] = _currency_terms(currency, table, source)
    return FeeSchedule(version, terms)


def _currency_terms(currency: str, table: object, source: str) -> CurrencyTerms:
    if not isinstance(table, dict):
        raise FeeScheduleError(f"{source}: currencies.{currency} must be a table")
    name = f"{source}: currencies.{currency}"
    known = {field for field in CurrencyTerms.__dataclass_fields__} - {"currency"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise FeeScheduleError(f"{name}.{unknown[0]} is not a known key")

    def integer(key: str, low: int, high: int) -> int:
        value = table.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise FeeScheduleError(f"{name}.{key} must be a whole number from {low} to {high}, not {value!r}")
        return value

    def percent(key: str, *, optional: bool = False) -> float | None:
        value = table.get(key)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            raise FeeScheduleError(f"{name}.{key} must be a percentage from 0 to 100, not {value!r}")
        if not math.isfinite(value):
            raise FeeScheduleError(f"{name}.{key} must be a finite number")
        return float(value)

    terms = CurrencyTerms(
        currency=currency,
        reminder_fee_cents=integer("reminder_fee_cents", 0, MAX_FEE_CENTS),
        reminder_after_days=integer("reminder_after_days", 1, MAX_DAYS),
        late_fee_cents=integer("late_fee_cents", 0, MAX_FEE_CENTS),
        late_fee_after_days=integer("late_fee_after_days", 1, MAX_DAYS),
        collection_after_days=integer("collection_after_days", 1, MAX_DAYS),
        instalment_count=integer("instalment_count", 2, 24),
        instalment_interest_percent=percent("instalment_interest_percent") or 0.0,
        instalment_fee_cents=integer("instalment_fee_cents", 0, MAX_FEE_CENTS),
        financing_interest_percent=percent("financing_interest_percent", optional=True),
    )
    if not terms.reminder_after_days < terms.late_fee_after_days < terms.collection_after_days:
        raise FeeScheduleError(
            f"{name}: the steps must come in order: reminder_after_days < late_fee_after_days < collection_after_days"
        )
    return terms


def load_fee_schedule(path: Path = FEE_SCHEDULE_PATH) -> FeeSchedule:
    return parse_fee_schedule(read_toml(path, "fee schedule", FeeScheduleError), str(path))


@functools.cache
def fee_schedule() -> FeeSchedule:
    """The bundled schedule, read once."""
    return load_fee_schedule()
