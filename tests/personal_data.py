"""Patterns that find a caller's personal data in text however it was written: a log line, a URL, a page."""

from __future__ import annotations

import re
from datetime import date

import phonenumbers

# What may stand between the digits of a number as people and programs write it: spaces, dashes, dots, slashes,
# brackets, and their URL encodings.
_SEPARATOR = r"(?:[\s\-./()]|%20|%2[dDfF]|%28|%29|\+)*"


def spelled_digits(digits: str) -> str:
    return _SEPARATOR.join(re.escape(digit) for digit in digits)


def phone_number_pattern(e164: str) -> re.Pattern[str]:
    """The number in E.164, URL-encoded, national (with its trunk 0) or digits-only form, with any grouping:
    all of them contain the national significant number's digits in order, wherever they stand (after the
    country code, or inside a longer run of digits)."""
    national = phonenumbers.national_significant_number(phonenumbers.parse(e164))
    return re.compile(spelled_digits(national))


def date_of_birth_pattern(day: date) -> re.Pattern[str]:
    """The date as the keypad sends it (DDMMYYYY), ISO, and the usual written orders with any separators."""
    forms = [
        (f"{day:%d}", f"{day:%m}", f"{day:%Y}"),
        (f"{day:%Y}", f"{day:%m}", f"{day:%d}"),
        (f"{day:%m}", f"{day:%d}", f"{day:%Y}"),
        (f"{day:%d}", f"{day:%m}", f"{day:%y}"),
    ]
    alternatives = [_SEPARATOR.join(spelled_digits(part) for part in parts) for parts in forms]
    return re.compile("|".join(alternatives))
