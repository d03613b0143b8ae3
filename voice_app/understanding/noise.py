"""Input that asks nothing at all, for the classifier to learn as a class of its own ("noise").

Gibberish, a filler on its own or a cut-off fragment is never an intent: when noise is likelier than the best
intent, the caller is asked again (see IntentClassifier.classify), so out_of_scope, a real request that goes to
a person, need not take in gibberish as well. The texts are generated gibberish plus the fillers and fragments
listed in data/noise.txt.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

from voice_app.understanding.text import clean_text
from voice_app.understanding.training_data import DATA_DIR, TRAINING_SEED

NOISE_GENERATED = 300

_KEYBOARD_ROWS = ("qwertzuiopü", "asdfghjklöä", "yxcvbnm", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_CONSONANTS = "bcdfghjklmnpqrstvwxzß"
_VOWELS = "aeiouäöüy"


def _gibberish_word(rng: random.Random) -> str:
    kind = rng.randrange(3)
    if kind == 0:  # letters typed at random
        return "".join(rng.choice(_CONSONANTS + _VOWELS) for _ in range(rng.randint(2, 9)))
    if kind == 1:  # a run along one keyboard row
        row = rng.choice(_KEYBOARD_ROWS)
        start = rng.randrange(len(row) - 2)
        return row[start : start + rng.randint(3, len(row) - start)]
    # made-up syllables
    return "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 4)))


def noise_texts(vocabulary: set[str], count: int | None = None, seed: int = TRAINING_SEED) -> list[str]:
    """Examples of input that asks nothing: `count` strings of made-up words (random letters, runs along a
    keyboard row, nonsense syllables), none of whose words occurs in `vocabulary` (the words of
    the real examples), plus the fillers and fragments listed in data/noise.txt. They form a class of their
    own in training, so that out_of_scope, which is a real request that goes to a person, does not have to
    take in gibberish too: gibberish is asked again instead (see IntentClassifier.classify)."""
    rng = random.Random(seed)
    count = NOISE_GENERATED if count is None else count
    texts: list[str] = []
    while len(texts) < count:
        words = [_gibberish_word(rng) for _ in range(rng.randint(1, 4))]
        if not any(word in vocabulary for word in words):
            texts.append(" ".join(words))
    with (DATA_DIR / "noise.txt").open(encoding="utf-8") as file:
        listed = [clean_text(line) for line in file if line.strip() and not line.startswith("#")]
    return texts + listed


def vocabulary_of(texts: Iterable[str]) -> set[str]:
    """The words (lower case) of `texts`."""
    return {word for text in texts for word in re.findall(r"\w+", text.lower())}
