"""Amounts, months, dates of birth and postcodes read from whatever a transcript holds: number words in both
languages, digits with separators, currency words, and any other text. Never an exception; what is read is in
range; an amount said the plain way is read back to the cent."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from voice_app.answers.transcript_numbers import amounts_named, months_named, read_lexemes
from voice_app.dialogue.caller_details import date_from_keypad, date_from_speech, postcode_from_speech

WORDS = [
    "forty", "nine", "ninety", "hundred", "thousand", "and", "point", "comma", "komma", "euro", "euros", "cents",
    "pounds", "pence", "about", "neunundvierzig", "neunzig", "hundert", "tausend", "einundzwanzig", "zwei", "und",
    "may", "March", "März", "Mai", "the", "12th", "3.", "1985", "49,90", "49.90", "€", "£", "-", "0", "00", "1,000",
    "a", "one", "zero", "minus", "half", "million", "eleven", "zwölf", "sechzehn", "siebzig", "dreißig",
]  # fmt: skip
transcripts = st.one_of(
    st.lists(st.sampled_from(WORDS), max_size=14).map(" ".join),
    st.text(max_size=80),
    st.lists(
        st.one_of(st.sampled_from(WORDS), st.from_regex(r"\d{1,6}([.,]\d{1,3})?", fullmatch=True)), max_size=8
    ).map(" ".join),
)


@given(text=transcripts)
def test_amounts_and_months_are_read_from_any_transcript_without_error(text):
    lexemes = read_lexemes(text)
    for amount in amounts_named(lexemes):
        assert amount.cents >= 0
    assert months_named(lexemes) <= set(range(1, 13))


@given(euros=st.integers(0, 99_999), cents=st.integers(0, 99))
def test_an_amount_in_digits_is_read_back_to_the_cent(euros, cents):
    amounts = amounts_named(read_lexemes(f"it was {euros}.{cents:02d} euros"))
    assert [(amount.cents, amount.exact) for amount in amounts] == [(euros * 100 + cents, True)]


@given(text=transcripts, language=st.sampled_from(["en", "de"]))
def test_a_date_of_birth_and_a_postcode_from_any_transcript_are_plausible_or_none(text, language):
    born = date_from_speech(text, language)
    assert born is None or date(1900, 1, 1) <= born < date.today()
    postcode = postcode_from_speech(text, language)
    assert postcode is None or 5 <= len(postcode) <= 8


@given(keys=st.text("0123456789*#", max_size=12))
def test_a_date_of_birth_keyed_in_is_a_real_past_date_or_none(keys):
    born = date_from_keypad(keys)
    assert born is None or (len(keys) == 8 and born < date.today())


@given(born=st.dates(date(1900, 1, 1), date(2020, 12, 31)))
def test_a_date_of_birth_said_in_digits_is_read_back(born):
    assert date_from_speech(f"{born.day:02d}.{born.month:02d}.{born.year}", "de") == born
    assert date_from_keypad(f"{born.day:02d}{born.month:02d}{born.year}") == born
