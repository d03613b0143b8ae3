"""What a caller said, as text: how much of it is kept, and the forms it is compared in.

There are three forms because three readers need different things: the classifier learns from case and
punctuation as Whisper writes them (its vectorisers lower-case on their own), word lists are matched on bare
lower-case words, and numbers, months and merchants are matched without accents, which transcripts often drop.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata

import snowballstemmer

# A turn's transcript and reply are stored up to this length (Turn.transcript, Turn.reply); the classifier and
# the answers read no further, as longer input is not speech worth parsing.
MAX_TRANSCRIPT_CHARS = 2000

_NON_WORD = re.compile(r"[^\w' ]+")
_WORD = re.compile(r"\b\w\w+\b")
# A Snowball stemmer keeps its working state in the object, so each thread has its own.
_stemmers = threading.local()


def clean_text(text: str) -> str:
    """NFC, typographic apostrophes folded, control characters dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text).replace("\u2019", "'")
    visible = "".join(" " if unicodedata.category(char).startswith("C") else char for char in text)
    return " ".join(visible.split())


def lowercase_words(text: str) -> str:
    """Lower case, punctuation removed, spaces folded: 'Yes, please!' -> 'yes please'."""
    text = unicodedata.normalize("NFC", text).lower().replace("\u2019", "'")
    return " ".join(_NON_WORD.sub(" ", text).split())


def fold_for_matching(text: str) -> str:
    """Lower case without accents, so "März", "Marz" and "MÄRZ" compare equal; currency symbols as words."""
    text = text.lower().replace("ß", "ss").replace("ø", "o").replace("ł", "l")
    text = text.replace("€", " euro ").replace("£", " pound ").replace("$", " dollar ")
    return "".join(char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char))


def stemmed_words(text: str) -> list[str]:
    """The words of two letters or more, lower case, each cut to its German stem, so that inflected forms
    compare equal: "bezahle", "bezahlen" -> "bezahl"; "Rechnungen" -> "rechnung". English words pass through
    the same rules and mostly keep their form."""
    return [_german_stem(word) for word in _WORD.findall(text.lower())]


@functools.lru_cache(maxsize=100_000)
def _german_stem(word: str) -> str:
    stemmer = getattr(_stemmers, "german", None)
    if stemmer is None:
        stemmer = _stemmers.german = snowballstemmer.stemmer("german")
    return stemmer.stemWord(word)
