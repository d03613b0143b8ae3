"""Numbers, amounts and months as transcripts write them, in English and German: digits ("49,90", "1.234"),
number words ("forty nine ninety", "neunundvierzig Euro neunzig", also split: "neun und vierzig") and month names.

The transcript is read as a list of lexemes (a number, a month, an ordinal or another word), from which the
amounts a caller named are taken; a number beside a month is a day or a year, not an amount.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from voice_app.understanding.text import fold_for_matching
from voice_app.understanding.vocabulary import MONTH_NAMES, MONTH_SPELLINGS


@dataclass(frozen=True)
class SpokenAmount:
    cents: int
    exact: bool  # False when only whole units were said ("the fifty euro one")

    def matches(self, cents: int) -> bool:
        # Whole units are how people round: "fifty euros" or "forty-nine" both mean 49.90.
        return cents == self.cents if self.exact else abs(cents - self.cents) < 100


@dataclass(frozen=True)
class Lexeme:
    kind: str  # "num", "month", "ordinal" or "word"
    text: str
    value: int = 0
    cents: int | None = None  # for "num" written with decimals: "49,90"


_TOKEN = re.compile(r"\d+(?:st|nd|rd|th)\b|\d+(?:[.,]\d+)*|[a-z]+")
_DIGITS = re.compile(r"(?P<whole>\d+|\d{1,3}(?:[.,]\d{3})+)(?:[.,](?P<cents>\d{1,2}))?")

_EN_SMALL = {
    word: value
    for value, word in enumerate(
        (
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        )
    )
}
_EN_TENS = {
    word: value * 10
    for value, word in enumerate(
        ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"), start=2
    )
}
_DE_SMALL = {
    word: value
    for value, word in enumerate(
        (
            "null",
            "eins",
            "zwei",
            "drei",
            "vier",
            "funf",
            "sechs",
            "sieben",
            "acht",
            "neun",
            "zehn",
            "elf",
            "zwolf",
            "dreizehn",
            "vierzehn",
            "funfzehn",
            "sechzehn",
            "siebzehn",
            "achtzehn",
            "neunzehn",
        )
    )
} | {"ein": 1, "eine": 1, "zwo": 2}
_DE_TENS = {
    word: value * 10
    for value, word in enumerate(
        ("zwanzig", "dreissig", "vierzig", "funfzig", "sechzig", "siebzig", "achtzig", "neunzig"), start=2
    )
}

_MONTHS = {
    fold_for_matching(name): number for names in MONTH_NAMES.values() for number, name in enumerate(names, start=1)
}
_MONTHS |= {fold_for_matching(spelling): number for spelling, number in MONTH_SPELLINGS.items()}
# "may" is a month only where a month can stand: "in May", "from May", "May 3rd"; not in "may I ask".
_BEFORE_MAY = {"in", "from", "of", "since", "for", "on", "the", "last", "early", "late", "mid", "until", "till"}

_MAJOR_UNITS = {
    "euro",
    "euros",
    "eur",
    "pound",
    "pounds",
    "quid",
    "gbp",
    "pfund",
    "dollar",
    "dollars",
    "usd",
    "franken",
    "franc",
    "francs",
    "chf",
}
_MINOR_UNITS = {"cent", "cents", "ct", "pence", "penny", "p", "rappen", "centimes"}
_DECIMAL_WORDS = {"point", "comma", "komma"}
_CONNECTORS = {"and", "und"}


def read_lexemes(text: str) -> list[Lexeme]:
    """The transcript as numbers, months, ordinals and other words, folded (see fold_for_matching)."""
    tokens = _TOKEN.findall(fold_for_matching(text))
    lexemes: list[Lexeme] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token[0].isdigit():
            if token[-1].isalpha():
                lexemes.append(Lexeme("ordinal", token))
            else:
                parsed_digits = _digits_value(token)
                lexemes.append(Lexeme("num", token, *parsed_digits) if parsed_digits else Lexeme("word", token))
            i += 1
            continue
        parsed = _english_number(tokens, i) or _german_number_at(tokens, i)
        if parsed is not None:
            value, i_next = parsed
            lexemes.append(Lexeme("num", " ".join(tokens[i:i_next]), value))
            i = i_next
            continue
        month = _MONTHS.get(token)
        if month is not None and (token != "may" or _may_is_month(tokens, i)):
            lexemes.append(Lexeme("month", token, month))
        else:
            lexemes.append(Lexeme("word", token))
        i += 1
    return lexemes


def _may_is_month(tokens: list[str], i: int) -> bool:
    before = tokens[i - 1] if i > 0 else ""
    after = tokens[i + 1] if i + 1 < len(tokens) else ""
    return before in _BEFORE_MAY or before[:1].isdigit() or after[:1].isdigit()


def _digits_value(token: str) -> tuple[int, int | None] | None:
    """'49,90' -> (49, 90); '1.234,56' -> (1234, 56); '1,234' -> (1234, None), as thousands are grouped in
    threes; None for what is no amount at all ('1.2.3.4')."""
    match = _DIGITS.fullmatch(token)
    if match is None:
        return None
    whole = int(re.sub(r"[.,]", "", match["whole"]))
    return whole, None if match["cents"] is None else int(match["cents"].ljust(2, "0"))


def _english_number(tokens: list[str], i: int) -> tuple[int, int] | None:
    """The number in English words starting at tokens[i] ("one thousand two hundred and five"), with the index
    after it. Stops where a new number must begin: "forty nine ninety" is 49, then 90."""
    first = _english_below_thousand(tokens, i)
    if first is None and _at(tokens, i) == "a" and _at(tokens, i + 1) == "thousand":
        first = (1, i + 1)
    if first is None:
        return None
    value, j = first
    if _at(tokens, j) == "thousand":
        value, j = value * 1000, j + 1
        rest = _english_below_thousand(tokens, j + (_at(tokens, j) == "and"))
        if rest is not None:
            value, j = value + rest[0], rest[1]
    return value, j


def _english_below_thousand(tokens: list[str], i: int) -> tuple[int, int] | None:
    word = _at(tokens, i)
    hundreds = _EN_SMALL.get(word, 1 if word == "a" else None)
    if hundreds and _at(tokens, i + 1) == "hundred":
        j = i + 2
        rest = _english_below_hundred(tokens, j + (_at(tokens, j) == "and"))
        return (hundreds * 100 + rest[0], rest[1]) if rest else (hundreds * 100, j)
    return _english_below_hundred(tokens, i)


def _english_below_hundred(tokens: list[str], i: int) -> tuple[int, int] | None:
    word = _at(tokens, i)
    if word in _EN_TENS:
        unit = _EN_SMALL.get(_at(tokens, i + 1), 0)
        return (_EN_TENS[word] + unit, i + 2) if 0 < unit < 10 else (_EN_TENS[word], i + 1)
    if word in _EN_SMALL:
        return _EN_SMALL[word], i + 1
    return None


def _german_number_at(tokens: list[str], i: int) -> tuple[int, int] | None:
    """German number words are single compounds ("neunundvierzig"), but transcripts sometimes split them
    ("neun und vierzig"): the longest run of up to three tokens that forms a number wins."""
    for end in range(min(len(tokens), i + 3), i, -1):
        value = _german_number("".join(tokens[i:end]))
        if value is not None:
            return value, end
    return None


def _german_number(word: str) -> int | None:
    if word in _DE_SMALL:
        return _DE_SMALL[word]
    if word in _DE_TENS:
        return _DE_TENS[word]
    for separator, factor, max_multiplier in (("tausend", 1000, 999), ("hundert", 100, 19)):
        if separator in word:
            left, _, right = word.partition(separator)
            multiplier = 1 if left in ("", "ein") else _german_number(left)
            rest = 0 if right == "" else _german_number(right)
            if multiplier is None or rest is None or not 1 <= multiplier <= max_multiplier or rest >= factor:
                return None
            return multiplier * factor + rest
    unit, separator, tens = word.partition("und")
    if separator and tens in _DE_TENS:
        unit_value = _DE_SMALL.get(unit)
        if unit_value is not None and 1 <= unit_value <= 9:
            return unit_value + _DE_TENS[tens]
    return None


def _at(tokens: Sequence[str], i: int) -> str:
    return tokens[i] if 0 <= i < len(tokens) else ""


def amounts_named(lexemes: list[Lexeme]) -> list[SpokenAmount]:
    """Amounts in the forms callers use: "49.90", "49,90 €", "49 euros 90", "forty nine ninety",
    "neunundvierzig Euro neunzig", "neunundvierzig Komma neunzig", "ninety cents", "about fifty euros"."""

    def is_word(index: int, words: set[str]) -> bool:
        return index < len(lexemes) and lexemes[index].kind == "word" and lexemes[index].text in words

    def is_number(index: int) -> bool:
        return index < len(lexemes) and lexemes[index].kind == "num" and not _next_to_month(lexemes, index)

    amounts = []
    i = 0
    while i < len(lexemes):
        if not is_number(i):
            i += 1
            continue
        number = lexemes[i]
        if number.cents is not None:
            amounts.append(SpokenAmount(number.value * 100 + number.cents, exact=True))
            i += 1
            continue
        j = i + 1
        has_unit = is_word(j, _MAJOR_UNITS)
        j += has_unit
        if is_word(j, _DECIMAL_WORDS) and is_number(j + 1):
            cents, j = _decimal_cents(lexemes, j + 1)
            amounts.append(SpokenAmount(number.value * 100 + cents, exact=True))
            i = j
            continue
        joined = has_unit and is_word(j, _CONNECTORS) and is_number(j + 1)
        j += joined
        if is_number(j) and lexemes[j].cents is None and lexemes[j].value < 100:
            with_minor_unit = is_word(j + 1, _MINOR_UNITS)
            # Cents said bare are two-digit ("forty-nine ninety"); a lone "one" after "euros" is a pronoun.
            if lexemes[j].value >= 10 or joined or with_minor_unit:
                amounts.append(SpokenAmount(number.value * 100 + lexemes[j].value, exact=True))
                i = j + 1 + with_minor_unit
                continue
        if not has_unit and is_word(j, _MINOR_UNITS) and number.value < 100:
            amounts.append(SpokenAmount(number.value, exact=True))
            i = j + 1
            continue
        # A bare number without a currency is more likely a count, a day or a customer number than an amount.
        if has_unit:
            amounts.append(SpokenAmount(number.value * 100, exact=False))
        i = j
    return amounts


def _decimal_cents(lexemes: list[Lexeme], i: int) -> tuple[int, int]:
    """Cents after "point"/"Komma": "nine zero" or "ninety" -> 90, "nine" -> 90, "zero five" -> 5."""
    first = lexemes[i]
    if first.value >= 10 or first.cents is not None:
        return first.value % 100, i + 1
    digits = str(first.value)
    if i + 1 < len(lexemes) and lexemes[i + 1].kind == "num" and lexemes[i + 1].value < 10:
        return int(digits + str(lexemes[i + 1].value)), i + 2
    return int(digits.ljust(2, "0")), i + 1


def _next_to_month(lexemes: list[Lexeme], i: int) -> bool:
    # "3. März", "March 3", "May 2024": a number beside a month is a day or a year, not an amount.
    return any(0 <= j < len(lexemes) and lexemes[j].kind == "month" for j in (i - 1, i + 1))


def months_named(lexemes: list[Lexeme]) -> frozenset[int]:
    """The months (1-12) among the lexemes."""
    return frozenset(lexeme.value for lexeme in lexemes if lexeme.kind == "month")
