"""Amounts, dates and numbers written the way a person says them, for the speech synthesiser.

num2words does the cardinals and ordinals; what it gets wrong for speech is fixed here:
- German "eins" before a noun is "ein"/"eine" ("ein Euro", "eine Krone"), and its ordinals are nominative
  ("dritte") while a date after "am" needs the dative ("am dritten März").
- English cardinals come with commas ("one thousand, two hundred") that a synthesiser reads as pauses.
- Its currency mode says "neunundvierzig Euro und neunzig Cent"; people say "neunundvierzig Euro neunzig".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from num2words import num2words

from voice_app.config import SUPPORTED_LANGUAGES
from voice_app.understanding.vocabulary import MONTH_NAMES

# Within about half a year the year is obvious from context; beyond it, saying it avoids a wrong guess.
YEAR_OMITTED_WITHIN_DAYS = 183

_RELATIVE_DAYS: dict[str, dict[int, str]] = {
    "en": {-1: "yesterday", 0: "today", 1: "tomorrow"},
    "de": {-1: "gestern", 0: "heute", 1: "morgen"},
}


class Gender(StrEnum):
    """Grammatical gender of a German noun, which decides between "ein" and "eine" for the number one."""

    MASCULINE = "masculine"
    FEMININE = "feminine"
    NEUTER = "neuter"


@dataclass(frozen=True)
class _Unit:
    singular: str
    plural: str
    gender: Gender = Gender.MASCULINE  # only used in German


@dataclass(frozen=True)
class _CurrencyWords:
    major: _Unit
    minor: _Unit


_CURRENCIES: dict[str, dict[str, _CurrencyWords]] = {
    "en": {
        "EUR": _CurrencyWords(_Unit("euro", "euros"), _Unit("cent", "cents")),
        "GBP": _CurrencyWords(_Unit("pound", "pounds"), _Unit("penny", "pence")),
        "USD": _CurrencyWords(_Unit("dollar", "dollars"), _Unit("cent", "cents")),
        "CHF": _CurrencyWords(_Unit("Swiss franc", "Swiss francs"), _Unit("centime", "centimes")),
        "SEK": _CurrencyWords(_Unit("Swedish krona", "Swedish kronor"), _Unit("öre", "öre")),
        "NOK": _CurrencyWords(_Unit("Norwegian krone", "Norwegian kroner"), _Unit("øre", "øre")),
        "DKK": _CurrencyWords(_Unit("Danish krone", "Danish kroner"), _Unit("øre", "øre")),
        "PLN": _CurrencyWords(_Unit("zloty", "zlotys"), _Unit("grosz", "groszy")),
    },
    "de": {
        "EUR": _CurrencyWords(_Unit("Euro", "Euro"), _Unit("Cent", "Cent")),
        "GBP": _CurrencyWords(_Unit("Pfund", "Pfund", Gender.NEUTER), _Unit("Penny", "Pence")),
        "USD": _CurrencyWords(_Unit("Dollar", "Dollar"), _Unit("Cent", "Cent")),
        "CHF": _CurrencyWords(_Unit("Franken", "Franken"), _Unit("Rappen", "Rappen")),
        "SEK": _CurrencyWords(
            _Unit("schwedische Krone", "schwedische Kronen", Gender.FEMININE), _Unit("Öre", "Öre", Gender.NEUTER)
        ),
        "NOK": _CurrencyWords(
            _Unit("norwegische Krone", "norwegische Kronen", Gender.FEMININE), _Unit("Øre", "Øre", Gender.NEUTER)
        ),
        "DKK": _CurrencyWords(
            _Unit("dänische Krone", "dänische Kronen", Gender.FEMININE), _Unit("Øre", "Øre", Gender.NEUTER)
        ),
        "PLN": _CurrencyWords(_Unit("Złoty", "Złoty"), _Unit("Groszy", "Groszy")),
    },
}
SUPPORTED_CURRENCIES = frozenset(_CURRENCIES["en"])

# Digits said one by one, as when spelling an IBAN. "zwo" is how German speakers say 2 on the phone, so that it
# cannot be heard as "drei".
_DIGIT_NAMES = {
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "de": ("null", "eins", "zwo", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
}


def say_number(number: int, language: str, *, gender: Gender | None = None) -> str:
    """A whole number in words. In German, `gender` is that of the noun that follows ("eine Rate")."""
    _check_language(language)
    if isinstance(number, bool) or not isinstance(number, int):
        raise ValueError(f"say_number needs an int, not {number!r}")
    if language == "de" and number == 1 and gender is not None:
        return "eine" if gender is Gender.FEMININE else "ein"
    words = num2words(number, lang=language)
    return words.replace(",", "") if language == "en" else words


def say_amount(cents: int, currency: str, language: str) -> str:
    """49.90 EUR as "forty-nine euros ninety" / "neunundvierzig Euro neunzig".

    Cents are said bare after the main unit, as people do, except below ten: "zwei Euro fünf" could be heard
    as 2,50, so 2.05 becomes "two euros and five cents" / "zwei Euro und fünf Cent".
    """
    _check_language(language)
    if isinstance(cents, bool) or not isinstance(cents, int) or cents < 0:
        raise ValueError(f"an amount must be a non-negative integer of minor units, not {cents!r}")
    if not isinstance(currency, str) or currency.upper() not in SUPPORTED_CURRENCIES:
        raise ValueError(f"unsupported currency {currency!r}; supported: {', '.join(sorted(SUPPORTED_CURRENCIES))}")
    words = _CURRENCIES[language][currency.upper()]
    major, minor = divmod(cents, 100)
    if major == 0 and minor > 0:
        return _counted(minor, words.minor, language)
    said_major = _counted(major, words.major, language)
    if minor == 0:
        return said_major
    if minor < 10:
        joiner = "and" if language == "en" else "und"
        return f"{said_major} {joiner} {_counted(minor, words.minor, language)}"
    return f"{said_major} {say_number(minor, language)}"


def say_date(day: date, language: str, *, today: date) -> str:
    """A date as said after a verb: "on March third" / "am dritten März", "today" / "heute" and neighbours,
    with the year only when the date is more than about half a year away."""
    _check_language(language)
    for name, value in (("day", day), ("today", today)):
        if not isinstance(value, date) or isinstance(value, datetime):
            raise ValueError(f"{name} must be a date, not {type(value).__name__}")
    distance = (day - today).days
    if distance in _RELATIVE_DAYS[language]:
        return _RELATIVE_DAYS[language][distance]
    month = MONTH_NAMES[language][day.month - 1]
    with_year = abs(distance) > YEAR_OMITTED_WITHIN_DAYS
    if language == "en":
        said = f"on {month} {num2words(day.day, to='ordinal')}"
        return f"{said}, {num2words(day.year, to='year')}" if with_year else said
    # The dative after "am" adds an n to num2words' nominative ordinal: "dritte" -> "dritten".
    said = f"am {num2words(day.day, lang='de', to='ordinal')}n {month}"
    return f"{said} {num2words(day.year, lang='de', to='year')}" if with_year else said


def say_characters(text: str, language: str) -> str:
    """Letters and digits one by one, in groups as written: "DE89 3704" -> "D E eight nine, three seven zero four".
    For codes that must be copied down exactly, such as an IBAN."""
    _check_language(language)
    if not isinstance(text, str):
        raise ValueError(f"say_characters needs a string, not {type(text).__name__}")
    groups = [group for group in re.split(r"[\s\-/]+", text.strip()) if group]
    if not groups or not all(group.isascii() and group.isalnum() for group in groups):
        raise ValueError("say_characters needs letters and digits, in groups separated by spaces")
    digit_names = _DIGIT_NAMES[language]
    return ", ".join(
        " ".join(digit_names[int(char)] if char.isdigit() else char.upper() for char in group) for group in groups
    )


def _counted(count: int, unit: _Unit, language: str) -> str:
    if count == 1:
        return f"{say_number(1, language, gender=unit.gender)} {unit.singular}"
    return f"{say_number(count, language)} {unit.plural}"


def _check_language(language: str) -> None:
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; supported: {', '.join(SUPPORTED_LANGUAGES)}")
