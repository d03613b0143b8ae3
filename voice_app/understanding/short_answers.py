"""Short spoken answers recognised by fixed word lists: yes, no, a person, goodbye.

The consent decision must be predictable and explainable to compliance staff, so it rests on word lists
that can be read and reviewed, not on a statistical model. Negation and a request for a person win over
agreement: "no", "not agreed" or "I want a person" never count as consent.
"""

from __future__ import annotations

import re
from enum import StrEnum

from voice_app.understanding.text import lowercase_words


class ShortAnswer(StrEnum):
    YES = "yes"
    NO = "no"
    AGENT = "agent"
    GOODBYE = "goodbye"


_PHRASES: dict[str, dict[ShortAnswer, tuple[str, ...]]] = {
    "en": {
        ShortAnswer.AGENT: (
            "agent",
            "person",
            "human",
            "representative",
            "operator",
            "someone real",
            "real person",
            "colleague",
            "customer service",
            "staff",
            "advisor",
            "adviser",
            "somebody",
        ),
        ShortAnswer.NO: (
            "no",
            "nope",
            "nah",
            "not",
            "don't",
            "dont",
            "do not",
            "disagree",
            "refuse",
            "never",
            "rather not",
        ),
        ShortAnswer.YES: (
            "yes",
            "yeah",
            "yep",
            "yup",
            "sure",
            "okay",
            "ok",
            "agree",
            "i agree",
            "of course",
            "fine",
            "alright",
            "all right",
            "correct",
            "go ahead",
            "certainly",
            "absolutely",
            "that's fine",
        ),
        ShortAnswer.GOODBYE: (
            "bye",
            "goodbye",
            "good bye",
            "that's all",
            "that is all",
            "nothing else",
            "that's it",
            "thats it",
            "no thanks",
            "no thank you",
            "hang up",
        ),
    },
    "de": {
        ShortAnswer.AGENT: (
            "mitarbeiter",
            "mitarbeiterin",
            "mensch",
            "menschen",
            "person",
            "berater",
            "beraterin",
            "kundenberater",
            "kundenservice",
            "agent",
            "jemand",
            "kollege",
            "kollegin",
        ),
        ShortAnswer.NO: (
            "nein",
            "nee",
            "ne",
            "nö",
            "nicht",
            "kein",
            "keine",
            "lieber nicht",
            "niemals",
            "ablehnen",
        ),
        ShortAnswer.YES: (
            "ja",
            "jawohl",
            "jo",
            "genau",
            "einverstanden",
            "okay",
            "ok",
            "gerne",
            "gern",
            "klar",
            "natürlich",
            "richtig",
            "in ordnung",
            "passt",
            "sicher",
            "selbstverständlich",
            "zustimmen",
            "stimme zu",
        ),
        ShortAnswer.GOODBYE: (
            "tschüss",
            "tschüs",
            "auf wiedersehen",
            "auf wiederhören",
            "wiederhören",
            "das war's",
            "das wars",
            "das war alles",
            "nichts weiter",
            "nichts mehr",
            "auflegen",
            "ciao",
        ),
    },
}


def _contains(normalised: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w']){re.escape(phrase)}(?![\w'])", normalised) is not None


def matches(text: str, language: str, answer: ShortAnswer) -> bool:
    normalised = lowercase_words(text)
    return any(_contains(normalised, phrase) for phrase in _PHRASES[language][answer])


def consent_answer(text: str, language: str) -> ShortAnswer | None:
    """The caller's answer to the consent question, or None when it is not clear."""
    if matches(text, language, ShortAnswer.AGENT):
        return ShortAnswer.AGENT
    if matches(text, language, ShortAnswer.NO):
        return ShortAnswer.NO
    if matches(text, language, ShortAnswer.YES):
        return ShortAnswer.YES
    return None


def request_kind(text: str, language: str) -> ShortAnswer | None:
    """A request for a person or a goodbye in the conversation after consent; None for anything else."""
    if matches(text, language, ShortAnswer.AGENT):
        return ShortAnswer.AGENT
    if matches(text, language, ShortAnswer.GOODBYE):
        return ShortAnswer.GOODBYE
    return None
