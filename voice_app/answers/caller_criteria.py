"""What the caller named to pick an item from a list: merchants, amounts and months, in English or German.

Merchant names are matched fuzzily, as transcription slips them ("Salando", "Media Markt", "H und M").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from voice_app.answers.transcript_numbers import SpokenAmount, amounts_named, months_named, read_lexemes
from voice_app.understanding.text import MAX_TRANSCRIPT_CHARS, fold_for_matching

# rapidfuzz ratio (0-100) from which a stretch of the transcript counts as naming a merchant: it lets
# "salando" find Zalando but not "saturday" Saturn. Names of four letters or fewer must match exactly.
MERCHANT_MATCH_THRESHOLD = 85
SHORT_MERCHANT_NAME = 4


@dataclass(frozen=True)
class CallerCriteria:
    """What the caller named to pick an item: merchants (as the summary spells them), amounts, months (1-12)."""

    merchants: frozenset[str] = frozenset()
    amounts: tuple[SpokenAmount, ...] = ()
    months: frozenset[int] = frozenset()

    @property
    def given(self) -> bool:
        return bool(self.merchants or self.amounts or self.months)


def criteria_from_transcript(transcript: str, merchants: Iterable[str]) -> CallerCriteria:
    """The merchants (of `merchants`), amounts and months the caller named, in English or German."""
    text = transcript[:MAX_TRANSCRIPT_CHARS]
    lexemes = read_lexemes(text)
    return CallerCriteria(
        merchants=_named_merchants(text, merchants),
        amounts=tuple(amounts_named(lexemes)),
        months=months_named(lexemes),
    )


def _merchant_key(text: str) -> list[str]:
    folded = fold_for_matching(text).replace("&", " and ")
    return ["and" if word == "und" else word for word in re.findall(r"[a-z0-9]+", folded)]


def _named_merchants(transcript: str, merchants: Iterable[str]) -> frozenset[str]:
    """Merchants whose name appears in the transcript, allowing for transcription slips ("Salando", "Media
    Markt", "H und M"). Stretches of one more or one fewer word than the name are compared, spaces removed."""
    words = _merchant_key(transcript)
    named = set()
    for merchant in merchants:
        name_words = _merchant_key(merchant)
        name = "".join(name_words)
        if not name:
            continue
        threshold = 100 if len(name) <= SHORT_MERCHANT_NAME else MERCHANT_MATCH_THRESHOLD
        sizes = range(max(1, len(name_words) - 1), len(name_words) + 2)
        if any(
            fuzz.ratio(name, "".join(words[start : start + size])) >= threshold
            for size in sizes
            for start in range(0, max(0, len(words) - size) + 1)
        ):
            named.add(merchant)
    return frozenset(named)
