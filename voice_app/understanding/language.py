"""Which of our languages an utterance is in, for callers who do not say so."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from sklearn.feature_extraction.text import CountVectorizer
from sklearn.naive_bayes import MultinomialNB

from voice_app.understanding.training_data import LANGUAGES, TRAINING_SEED, Example

# Without any text there is nothing to detect; the hotline's default greeting language is English.
FALLBACK_LANGUAGE = "en"


class LanguageIdentifier:
    """Character 1-4-grams and naive Bayes, trained on as many utterances of each language (a random sample
    of the larger one): Banking77 would otherwise make English five times as familiar as German."""

    def __init__(self, examples: Sequence[Example]) -> None:
        by_language: dict[str, list[Example]] = defaultdict(list)
        for example in examples:
            by_language[example.language].append(example)
        if set(by_language) != set(LANGUAGES):
            raise ValueError(f"language identification needs examples in {LANGUAGES}, got {sorted(by_language)}")
        size = min(len(members) for members in by_language.values())
        rng = random.Random(TRAINING_SEED)
        sample = [example for members in by_language.values() for example in rng.sample(members, size)]
        self._vectorizer = CountVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=True)
        features = self._vectorizer.fit_transform([example.text for example in sample])
        self._model = MultinomialNB(alpha=0.1)
        self._model.fit(features, [example.language for example in sample])

    def identify(self, text: str) -> str:
        if not text:
            return FALLBACK_LANGUAGE
        return str(self._model.predict(self._vectorizer.transform([text]))[0])

    def identify_many(self, texts: Sequence[str]) -> list[str]:
        """identify() for each of several non-empty texts."""
        return [str(language) for language in self._model.predict(self._vectorizer.transform(list(texts)))]
