"""Where one utterance may hold two questions: "is my last invoice paid and when is the next payment due".

Only the places to cut are found here; whether each side really is a question of its own is the classifier's
call (the dialogue keeps a cut only when both sides are understood confidently as different questions), so a
merchant list such as "from Zalando and Otto" is cut too but never kept.
"""

from __future__ import annotations

import re

# Words that join two questions, longest first so that "and also" is taken whole rather than as "and".
_JOINERS: dict[str, tuple[str, ...]] = {
    "en": ("and also", "and then", "and", "also", "plus", "as well as"),
    "de": ("und außerdem", "und auch", "und dann", "und", "außerdem", "sowie", "dazu noch"),
}
_SENTENCE_END = r"[?.!;]+"
MIN_CLAUSE_WORDS = 2


def _cut_pattern(language: str) -> re.Pattern[str]:
    joiners = "|".join(re.escape(joiner) for joiner in _JOINERS[language])
    return re.compile(rf"(?:{_SENTENCE_END}|,)?\s*\b(?:{joiners})\b\s*|{_SENTENCE_END}\s*", re.IGNORECASE)


_CUTS = {language: _cut_pattern(language) for language in _JOINERS}


def clause_pairs(text: str, language: str) -> list[tuple[str, str]]:
    """Every way to cut `text` in two at a joining word or a sentence end, first cut first; both sides have
    at least MIN_CLAUSE_WORDS words. Empty for an unknown language."""
    pattern = _CUTS.get(language)
    if pattern is None:
        return []
    pairs = []
    for match in pattern.finditer(text):
        before, after = text[: match.start()].strip(" ,"), text[match.end() :].strip(" ,")
        if len(before.split()) >= MIN_CLAUSE_WORDS and len(after.split()) >= MIN_CLAUSE_WORDS:
            pairs.append((before, after))
    return pairs
