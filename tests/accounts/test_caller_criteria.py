"""What the caller named to pick an item: amounts, months and merchants, read from English and German transcripts."""

from __future__ import annotations

import pytest

from voice_app.answers.caller_criteria import criteria_from_transcript
from voice_app.answers.transcript_numbers import SpokenAmount


@pytest.mark.parametrize(
    "transcript, cents, exact",
    [
        ("49.90", 4990, True),
        ("49,90", 4990, True),
        ("€49.90", 4990, True),
        ("49 euros 90", 4990, True),
        ("forty nine ninety", 4990, True),
        ("forty-nine euros ninety", 4990, True),
        ("neunundvierzig Euro neunzig", 4990, True),
        ("neun und vierzig neunzig", 4990, True),
        ("neunundvierzig Komma neun", 4990, True),
        ("forty nine point nine zero", 4990, True),
        ("two euros and five cents", 205, True),
        ("ninety cents", 90, True),
        ("1.234,56 €", 123456, True),
        ("£1,234.56", 123456, True),
        ("one thousand two hundred thirty four euros fifty six", 123456, True),
        ("zweihundertneunundvierzig Euro", 24900, False),
        ("a hundred and five pounds", 10500, False),
        ("the 249 euros one", 24900, False),
    ],
)
def test_amounts_in_transcripts(transcript, cents, exact):
    assert criteria_from_transcript(transcript, []).amounts == (SpokenAmount(cents, exact),)


@pytest.mark.parametrize(
    "transcript",
    [
        "my customer number is 40217735",
        "I have two invoices",
        "am 3. März",
        "on March 21st",
        "May 2024",
        "the 21st of June",
        "I called 10 times",
        "",
    ],
)
def test_days_counts_and_customer_numbers_are_not_amounts(transcript):
    assert criteria_from_transcript(transcript, []).amounts == ()


@pytest.mark.parametrize(
    "transcript, months",
    [
        ("in May", {5}),
        ("May I ask something", set()),
        ("may 3rd", {5}),
        ("im Mai", {5}),
        ("im März", {3}),
        ("im Maerz", {3}),
        ("MÄRZ", {3}),
        ("between January and February", {1, 2}),
        ("im Dezember", {12}),
        ("October", {10}),
        ("no month here", set()),
    ],
)
def test_months_in_both_languages(transcript, months):
    assert criteria_from_transcript(transcript, []).months == months


@pytest.mark.parametrize(
    "transcript, expected",
    [
        ("Saturday", set()),
        ("my auto", set()),
        ("an idea", set()),
        ("Saturn", {"Saturn"}),
        ("saturn.", {"Saturn"}),
        ("deutsche bahn ticket", {"Deutsche Bahn"}),
        ("die Bahn", set()),
        ("tchibo und saturn", {"Tchibo", "Saturn"}),
        ("ikea", {"IKEA"}),
    ],
)
def test_merchant_matching_is_fuzzy_but_not_loose(transcript, expected):
    merchants = ["Saturn", "Otto", "Deutsche Bahn", "Tchibo", "IKEA"]
    assert criteria_from_transcript(transcript, merchants).merchants == expected
