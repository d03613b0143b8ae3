"""Amounts, dates and codes as the assistant says them, in English and German."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from voice_app.answers.spoken import (
    SUPPORTED_CURRENCIES,
    Gender,
    say_amount,
    say_characters,
    say_date,
    say_number,
)


@pytest.mark.parametrize(
    "cents, currency, language, expected",
    [
        (4990, "EUR", "en", "forty-nine euros ninety"),
        (4990, "EUR", "de", "neunundvierzig Euro neunzig"),
        (5, "EUR", "en", "five cents"),
        (5, "EUR", "de", "fünf Cent"),
        (1, "EUR", "en", "one cent"),
        (1, "EUR", "de", "ein Cent"),
        (0, "EUR", "en", "zero euros"),
        (0, "EUR", "de", "null Euro"),
        (100, "EUR", "en", "one euro"),
        (100, "EUR", "de", "ein Euro"),
        (200, "EUR", "en", "two euros"),
        (150, "EUR", "de", "ein Euro fünfzig"),
        (205, "EUR", "en", "two euros and five cents"),
        (205, "EUR", "de", "zwei Euro und fünf Cent"),
        (101, "EUR", "de", "ein Euro und ein Cent"),
        (2110, "EUR", "de", "einundzwanzig Euro zehn"),
        (10100, "EUR", "de", "einhunderteins Euro"),
        (10100, "EUR", "en", "one hundred and one euros"),
        (123456, "EUR", "en", "one thousand two hundred and thirty-four euros fifty-six"),
        (123456, "EUR", "de", "eintausendzweihundertvierunddreißig Euro sechsundfünfzig"),
        (100000000, "EUR", "de", "eine Million Euro"),
        (100000000, "EUR", "en", "one million euros"),
        (4990, "GBP", "en", "forty-nine pounds ninety"),
        (4990, "GBP", "de", "neunundvierzig Pfund neunzig"),
        (100, "GBP", "en", "one pound"),
        (100, "GBP", "de", "ein Pfund"),
        (1, "GBP", "en", "one penny"),
        (5, "GBP", "en", "five pence"),
        (1999, "USD", "en", "nineteen dollars ninety-nine"),
        (100, "CHF", "de", "ein Franken"),
        (5, "CHF", "de", "fünf Rappen"),
        (100, "SEK", "de", "eine schwedische Krone"),
        (250, "SEK", "de", "zwei schwedische Kronen fünfzig"),
        (4990, "eur", "en", "forty-nine euros ninety"),
    ],
)
def test_amounts(cents, currency, language, expected):
    assert say_amount(cents, currency, language) == expected


@pytest.mark.parametrize("currency", sorted(SUPPORTED_CURRENCIES))
@pytest.mark.parametrize("language", ["en", "de"])
def test_every_supported_currency_is_said_without_digits_or_codes(currency, language):
    for cents in (1, 100, 4990, 123456):
        said = say_amount(cents, currency, language)
        assert not any(char.isdigit() for char in said) and currency not in said


@pytest.mark.parametrize(
    "cents, currency, language",
    [
        (-1, "EUR", "en"),
        (49.9, "EUR", "en"),
        (True, "EUR", "en"),
        ("4990", "EUR", "de"),
        (100, "XYZ", "en"),
        (100, "", "de"),
        (100, None, "de"),
        (100, "EUR", "fr"),
        (100, "EUR", None),
    ],
)
def test_bad_amounts_are_refused(cents, currency, language):
    with pytest.raises(ValueError):
        say_amount(cents, currency, language)


FAR_AWAY = date(2025, 1, 15)  # no date below is within a day of it, none more than half a year away


@pytest.mark.parametrize(
    "day, english, german",
    [
        (date(2025, 3, 1), "on March first", "am ersten März"),
        (date(2025, 3, 2), "on March second", "am zweiten März"),
        (date(2025, 3, 3), "on March third", "am dritten März"),
        (date(2025, 3, 7), "on March seventh", "am siebten März"),
        (date(2025, 6, 21), "on June twenty-first", "am einundzwanzigsten Juni"),
        (date(2025, 6, 22), "on June twenty-second", "am zweiundzwanzigsten Juni"),
        (date(2025, 5, 23), "on May twenty-third", "am dreiundzwanzigsten Mai"),
        (date(2025, 1, 31), "on January thirty-first", "am einunddreißigsten Januar"),
        (date(2024, 12, 11), "on December eleventh", "am elften Dezember"),
        (date(2025, 2, 20), "on February twentieth", "am zwanzigsten Februar"),
    ],
)
def test_dates_in_both_languages(day, english, german):
    assert say_date(day, "en", today=FAR_AWAY) == english
    assert say_date(day, "de", today=FAR_AWAY) == german


def test_every_german_day_of_the_month_is_in_the_dative():
    for day in range(1, 32):
        said = say_date(date(2025, 1, day), "de", today=date(2025, 3, 15))
        ordinal = said.split()[1]
        assert said.startswith("am ") and said.endswith(" Januar")
        assert ordinal.endswith(("ten", "sten")) and not ordinal.endswith(("eten", "steen")), said
        assert "eins" not in ordinal


def test_the_year_is_said_only_when_the_date_is_more_than_half_a_year_away():
    today = date(2025, 1, 15)
    assert say_date(date(2024, 6, 1), "en", today=today) == "on June first, twenty twenty-four"
    assert say_date(date(2024, 6, 1), "de", today=today) == "am ersten Juni zweitausendvierundzwanzig"
    assert say_date(date(2025, 12, 24), "en", today=today).endswith(", twenty twenty-five")
    assert say_date(date(2024, 12, 24), "en", today=today) == "on December twenty-fourth"


def test_neighbouring_days_are_said_relative_to_today():
    today = date(2025, 12, 31)
    assert [say_date(today + timedelta(days=offset), "en", today=today) for offset in (-1, 0, 1)] == [
        "yesterday",
        "today",
        "tomorrow",
    ]
    assert [say_date(today + timedelta(days=offset), "de", today=today) for offset in (-1, 0, 1)] == [
        "gestern",
        "heute",
        "morgen",
    ]
    assert say_date(today + timedelta(days=2), "de", today=today) == "am zweiten Januar"


def test_bad_dates_are_refused():
    with pytest.raises(ValueError):
        say_date(datetime(2025, 3, 3, 12), "en", today=FAR_AWAY)
    with pytest.raises(ValueError):
        say_date(date(2025, 3, 3), "en", today=datetime(2025, 1, 1))
    with pytest.raises(ValueError):
        say_date("2025-03-03", "de", today=FAR_AWAY)
    with pytest.raises(ValueError):
        say_date(date(2025, 3, 3), "es", today=FAR_AWAY)


@pytest.mark.parametrize(
    "number, language, gender, expected",
    [
        (1, "de", None, "eins"),
        (1, "de", Gender.FEMININE, "eine"),
        (1, "de", Gender.MASCULINE, "ein"),
        (1, "de", Gender.NEUTER, "ein"),
        (21, "de", Gender.FEMININE, "einundzwanzig"),
        (1, "en", Gender.FEMININE, "one"),
        (1234, "en", None, "one thousand two hundred and thirty-four"),
        (0, "de", None, "null"),
    ],
)
def test_numbers(number, language, gender, expected):
    assert say_number(number, language, gender=gender) == expected


def test_codes_are_spelled_character_by_character_in_groups():
    assert say_characters("DE89 3704", "en") == "D E eight nine, three seven zero four"
    assert say_characters("de89-3724", "de") == "D E acht neun, drei sieben zwo vier"
    for bad in ("", "   ", "DE89 37€4", "Ä1", None):
        with pytest.raises(ValueError):
            say_characters(bad, "en")
