"""What a caller types or says to prove who they are: a date of birth (keypad DDMMYYYY, or spoken) or a postcode.

Only the shape is checked here; whether it matches the account is the account directory's business.
"""

from __future__ import annotations

import re
from datetime import date

from voice_app.understanding.text import lowercase_words
from voice_app.understanding.vocabulary import MONTH_NAMES, MONTH_SPELLINGS

DATE_OF_BIRTH_DIGITS = 8
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})\s*[./\- ]\s*(\d{1,2})\s*[./\- ]\s*(\d{4})\b")
_DAY = r"(\d{1,2})(?:st|nd|rd|th|\.)?"
_UK_POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?)\s*(\d[A-Z]{2})\b")
_DE_POSTCODE = re.compile(r"(?<!\d)(\d{5})(?!\d)")


def date_from_keypad(digits: str) -> date | None:
    """DDMMYYYY as typed; None for anything that is not a real date in the past."""
    if len(digits) != DATE_OF_BIRTH_DIGITS or not digits.isdigit():
        return None
    return _plausible_birth_date(int(digits[4:]), int(digits[2:4]), int(digits[:2]))


def date_from_speech(text: str, language: str) -> date | None:
    """A date of birth as Whisper writes it down: '14.03.1986', 'March 14th, 1986', '14. März 1986'."""
    lowered = text.lower()
    numeric = _NUMERIC_DATE.search(lowered)
    if numeric:
        day, month, year = (int(part) for part in numeric.groups())
        return _plausible_birth_date(year, month, day)
    named_month = _month_in(lowered, language)
    year_found = re.search(r"\b(19\d{2}|20\d{2})\b", lowered)
    if named_month is None or year_found is None:
        return None
    before_year = lowered[: year_found.start()]
    day_found = re.search(rf"\b{_DAY}\b(?!.*\b\d)", before_year) or re.search(rf"\b{_DAY}\b", before_year)
    if day_found is None:
        return None
    return _plausible_birth_date(int(year_found.group(1)), named_month, int(day_found.group(1)))


def postcode_from_speech(text: str, language: str) -> str | None:
    """A German five-digit postcode or a UK postcode, with the spaces Whisper puts between spoken digits removed."""
    if language == "de" or not _UK_POSTCODE.search(text.upper()):
        digits_only = re.sub(r"(?<=\d)[\s,.-]+(?=\d)", "", text)
        found = _DE_POSTCODE.search(digits_only)
        if found:
            return found.group(1)
    uk = _UK_POSTCODE.search(re.sub(r"[^A-Z0-9 ]", " ", text.upper()))
    return f"{uk.group(1)} {uk.group(2)}" if uk else None


def _month_in(lowered: str, language: str) -> int | None:
    words = lowercase_words(lowered).split()
    for number, name in enumerate(MONTH_NAMES[language], start=1):
        if name.lower() in words:
            return number
    for spelling, number in MONTH_SPELLINGS.items():
        if spelling in words:
            return number
    return None


def _plausible_birth_date(year: int, month: int, day: int) -> date | None:
    try:
        born = date(year, month, day)
    except ValueError:
        return None
    return born if year >= 1900 and born < date.today() else None
