"""What a caller wants, how sure we are, and where the call goes next.

Model: TF-IDF on word 1-2-grams plus character 2-5-grams inside word boundaries, and a linear SVM
(one-vs-rest) over both languages at once. Character n-grams carry the robustness to Whisper's slips:
"in voice" still shares most n-grams with "invoice", "Rathe" with "Rate". The training data are our own
hand-written utterances (data/intents.*.tsv) plus Banking77's train.csv mapped through the reviewed table
data/banking77_mapping.tsv; Banking77 gives the model thousands of real questions it must NOT answer.
Each Banking77 row weighs BANKING77_WEIGHT of one of our examples so that ten thousand written English
banking questions cannot drown out our spoken, bilingual phrasing; on top of that every intent gets the
same total weight, so no intent is favoured just for having more examples. Input that asks nothing at all
(gibberish, a filler on its own, a cut-off fragment) is a class of its own in training, "noise" (generated
gibberish plus data/noise.txt, see noise_texts); it is never an intent: when it is likelier than the best
intent, the caller is asked again, so out_of_scope (a real request, which goes to a person) need not take in
gibberish as well. The choices (linear SVM rather than logistic regression, C, the weights, the n-gram
ranges, the noise class) were compared by cross-validation on the training data
(benchmarks/intent_accuracy.py --cv); logistic regression was no more accurate but five times slower to
train, which matters as we train at start.

Calibration: the SVM's scores become probabilities by temperature scaling, softmax(scores / T), with T
fitted by maximum likelihood on a development split held out of training (DEV_SHARE of our examples and of
the Banking77 rows), scored by a model trained on the rest. The model that is used is then refitted, with
the same settings, on all examples, and keeps that T and the thresholds below: cross-validation on our
examples gave it 1-1.5 points more accuracy than the 85 % model, with no worse calibration (a model trained
on 15 % more of the same data is, if anything, slightly more accurate than the one T was fitted to, so the
thresholds err on the careful side). The vectorisers are fitted once, on all examples; the calibration
model gives the development split's own n-grams no weight, as it never saw them in training. The 17
one-vs-rest SVMs are independent and are trained in parallel threads (liblinear releases the GIL), which
keeps training at start within a few seconds although two models are trained.

Routing: `route_for` combines the calibrated confidence p of the intent with the transcript's confidence
c from speech recognition (voice_app.speech.stt: exp(avg_logprob) * (1 - no_speech_prob)) as

    combined = p * min(1, c / TRANSCRIPT_CONFIDENCE_REFERENCE)

i.e. the chance that the intent read from the text is right, times the chance that the transcript is good
enough to read an intent from. A plain p * c would be wrong: Whisper gives clearly understood phone speech
only 0.3-0.6, so p * c would hardly ever answer. Measured instead (benchmarks/intent_accuracy.py --audio:
held-out utterances spoken by espeak-ng, sent through 8 kHz mu-law and transcribed by Whisper base),
intent accuracy on transcripts falls in proportion to c below a reference level and equals the accuracy on
typed text above it; the reference is the maximum-likelihood fit of that model to whether each transcript's
intent was right. It was fitted on a synthetic voice, so it should be refitted on real calls. Then
  - intents the assistant answers (routine questions, goodbye, yes, no, repeat): answer if combined >= the
    answer threshold, else clarify;
  - everything else (a person, consent withdrawal, sensitive topics, out of scope): human if combined >=
    the handoff threshold, else clarify.
Both thresholds are picked on the development split at training time:
  - answer threshold: the lowest value at which at most MAX_WRONG_ANSWER_SHARE of the development
    utterances the assistant would answer (those at or above it) get the wrong intent;
    never below 0.5, so the assistant never answers unless the intent is likelier than all others together;
  - handoff threshold: HANDOFF_MISS_SHARE quantile of the confidence of correctly recognised hand-over
    utterances, i.e. at most that share of real hand-overs is asked to rephrase first; never above the
    answer threshold. Gibberish and half-heard fragments fall below it and are asked to repeat instead of
    costing an agent's time.
"""

from __future__ import annotations

import csv
import functools
import os
from concurrent.futures import ThreadPoolExecutor
import random
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from voice_app.config import PROJECT_ROOT

DATA_DIR = Path(__file__).resolve().parent / "data"
BANKING77_DIR_ENV = "VOICE_APP_BANKING77_DIR"
DEFAULT_BANKING77_DIR = PROJECT_ROOT.parent / "shared" / "data" / "banking77"
LANGUAGES = ("de", "en")
# Without any text there is nothing to detect; the hotline's default greeting language is English.
FALLBACK_LANGUAGE = "en"
MAX_TEXT_CHARS = 2000

BANKING77_WEIGHT = 0.05
SVM_C = 1.0
# A training-only class for input that is no request at all (see noise_texts): generated gibberish plus the
# fillers and fragments in data/noise.txt, weighing NOISE_WEIGHT of one intent's total.
NOISE = "noise"
NOISE_GENERATED = 300
NOISE_WEIGHT = 1.0
# The feature settings, chosen by cross-validation on the training data (benchmarks/intent_accuracy.py --cv).
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (2, 5)
CHAR_ANALYZER = "char_wb"
CHAR_MIN_DF = 2
DEV_SHARE = 0.15
MAX_WRONG_ANSWER_SHARE = 0.05
HANDOFF_MISS_SHARE = 0.02
MIN_ANSWER_THRESHOLD = 0.5
SEED = 7
# Maximum-likelihood fits on 286-320 synthetic transcripts each gave 0.34, 0.39 and 0.40 (see the module
# docstring); their mean, until real calls give a better estimate.
TRANSCRIPT_CONFIDENCE_REFERENCE = 0.37


class Intent(StrEnum):
    PAYMENT_STATUS = "payment_status"
    OPEN_PAYMENTS = "open_payments"
    NEXT_DUE_DATE = "next_due_date"
    REFUND_STATUS = "refund_status"
    PAYMENT_OPTIONS = "payment_options"
    HUMAN = "human"
    GOODBYE = "goodbye"
    AFFIRM = "affirm"
    DENY = "deny"
    REPEAT = "repeat"
    WITHDRAW_CONSENT = "withdraw_consent"
    FRAUD = "fraud"
    STOLEN_DATA = "stolen_data"
    MERCHANT_DISPUTE = "merchant_dispute"
    COMPLAINT = "complaint"
    FINANCIAL_HARDSHIP = "financial_hardship"
    OUT_OF_SCOPE = "out_of_scope"


class Route(StrEnum):
    ANSWER = "answer"
    HUMAN = "human"
    CLARIFY = "clarify"


ROUTINE_INTENTS = frozenset({
    Intent.PAYMENT_STATUS, Intent.OPEN_PAYMENTS, Intent.NEXT_DUE_DATE, Intent.REFUND_STATUS,
    Intent.PAYMENT_OPTIONS,
})
CONVERSATION_INTENTS = frozenset({Intent.GOODBYE, Intent.AFFIRM, Intent.DENY, Intent.REPEAT})
ANSWERED_INTENTS = ROUTINE_INTENTS | CONVERSATION_INTENTS
SENSITIVE_INTENTS = frozenset({
    Intent.FRAUD, Intent.STOLEN_DATA, Intent.MERCHANT_DISPUTE, Intent.COMPLAINT, Intent.FINANCIAL_HARDSHIP,
})
HANDED_OVER_INTENTS = frozenset(Intent) - ANSWERED_INTENTS


@dataclass(frozen=True)
class Example:
    text: str
    intent: Intent
    language: str
    # How much this example counts in training relative to one of our own utterances.
    weight: float = 1.0


@dataclass(frozen=True)
class Understanding:
    text: str
    language: str
    intent: Intent
    confidence: float  # calibrated probability of `intent`, before the transcript's confidence
    route: Route


@dataclass(frozen=True)
class Thresholds:
    answer: float
    handoff: float


def normalise(text: str) -> str:
    """NFC, typographic apostrophes folded, control characters dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text).replace("\u2019", "'")
    visible = "".join(" " if unicodedata.category(char).startswith("C") else char for char in text)
    return " ".join(visible.split())


# -- data ------------------------------------------------------------------------------------------------

def _read_tsv(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE)
        if reader.fieldnames != list(columns):
            raise ValueError(f"{path}: expected columns {list(columns)}, found {reader.fieldnames}")
        rows = list(reader)
    for number, row in enumerate(rows, start=2):
        if any(not (row.get(column) or "").strip() for column in columns):
            raise ValueError(f"{path}:{number}: empty field")
    return rows


def _intent(value: str, where: str) -> Intent:
    try:
        return Intent(value)
    except ValueError:
        raise ValueError(f"{where}: unknown intent {value!r}") from None


def load_examples(path: Path, language: str) -> list[Example]:
    """Our utterances: a TSV with columns intent, text."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    return [
        Example(normalise(row["text"]), _intent(row["intent"], f"{path}:{number}"), language)
        for number, row in enumerate(_read_tsv(path, ("intent", "text")), start=2)
    ]


def load_banking77_mapping(path: Path = DATA_DIR / "banking77_mapping.tsv") -> dict[str, Intent]:
    return {
        row["category"]: _intent(row["intent"], f"{path}:{number}")
        for number, row in enumerate(_read_tsv(path, ("category", "intent", "reason")), start=2)
    }


def load_banking77(path: Path, mapping: dict[str, Intent], weight: float = BANKING77_WEIGHT) -> list[Example]:
    """Banking77 rows (columns text, category) as examples of the intent their category maps to."""
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    unmapped = {row["category"] for row in rows} - mapping.keys()
    if unmapped:
        raise ValueError(f"{path}: categories missing from the mapping table: {sorted(unmapped)}")
    return [Example(normalise(row["text"]), mapping[row["category"]], "en", weight) for row in rows]


def banking77_dir() -> Path:
    return Path(os.environ.get(BANKING77_DIR_ENV) or DEFAULT_BANKING77_DIR)


def own_examples() -> list[Example]:
    """Our training utterances (data/intents.*.tsv). Never includes the frozen held-out set."""
    return [
        example for language in LANGUAGES for example in load_examples(DATA_DIR / f"intents.{language}.tsv", language)
    ]


def held_out_examples() -> list[Example]:
    """The frozen evaluation set (data/heldout.*.tsv): our utterances that no model is ever trained on.

    Drawn once as the stratified 20 % (seed 2020) of our examples as they stood before it was frozen, minus
    four lines that were verbatim Banking77 train.csv queries; benchmarks/intent_accuracy.py scores on
    exactly these lines, so adding training data no longer redraws it. Only for evaluation: nothing in this
    module's training path reads these files."""
    return [
        example for language in LANGUAGES for example in load_examples(DATA_DIR / f"heldout.{language}.tsv", language)
    ]


def default_training_examples(banking77: Path | None = None) -> list[Example]:
    """Our examples plus Banking77's train.csv; its test.csv is kept for evaluation only."""
    train_csv = (banking77 or banking77_dir()) / "train.csv"
    if not train_csv.is_file():
        raise FileNotFoundError(
            f"Banking77 training data not found at {train_csv}; the classifier needs it to learn what not to "
            f"answer. Point {BANKING77_DIR_ENV} at the folder holding train.csv."
        )
    return own_examples() + load_banking77(train_csv, load_banking77_mapping())


def stratified_split(
    examples: Sequence[Example], share: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """(rest, part): `share` of each (intent, language, weight) group goes to `part`, at least one if the
    group has two or more, so every intent of both languages is represented on both sides."""
    if not 0 < share < 1:
        raise ValueError(f"share must lie between 0 and 1, not {share}")
    groups: dict[tuple[Intent, str, float], list[Example]] = defaultdict(list)
    for example in examples:
        groups[(example.intent, example.language, example.weight)].append(example)
    rng = random.Random(seed)
    rest: list[Example] = []
    part: list[Example] = []
    for key in sorted(groups):
        members = groups[key][:]
        rng.shuffle(members)
        count = max(1, round(len(members) * share)) if len(members) > 1 else 0
        part.extend(members[:count])
        rest.extend(members[count:])
    return rest, part


def stratified_folds(examples: Sequence[Example], folds: int, seed: int) -> list[list[Example]]:
    """`folds` disjoint parts that together hold every example, each with about the same share of every
    (intent, language, weight) group: the folds of a stratified cross-validation."""
    if folds < 2:
        raise ValueError(f"folds must be 2 or more, not {folds}")
    groups: dict[tuple[Intent, str, float], list[Example]] = defaultdict(list)
    for example in examples:
        groups[(example.intent, example.language, example.weight)].append(example)
    rng = random.Random(seed)
    parts: list[list[Example]] = [[] for _ in range(folds)]
    offset = 0
    for key in sorted(groups):
        members = groups[key][:]
        rng.shuffle(members)
        for index, example in enumerate(members):
            # Groups continue where the last one stopped, so small groups do not all pile into the first fold.
            parts[(offset + index) % folds].append(example)
        offset += len(members)
    return parts


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
        return row[start:start + rng.randint(3, len(row) - start)]
    # made-up syllables
    return "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 4)))


def noise_texts(vocabulary: set[str], count: int | None = None, seed: int = SEED) -> list[str]:
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
        listed = [normalise(line) for line in file if line.strip() and not line.startswith("#")]
    return texts + listed


def vocabulary_of(texts: Iterable[str]) -> set[str]:
    """The words (lower case) of `texts`."""
    return {word for text in texts for word in re.findall(r"\w+", text.lower())}


# -- language --------------------------------------------------------------------------------------------

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
        rng = random.Random(SEED)
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


# -- intents ---------------------------------------------------------------------------------------------

def _features() -> FeatureUnion:
    return FeatureUnion([
        ("words", TfidfVectorizer(analyzer="word", ngram_range=WORD_NGRAMS, sublinear_tf=True)),
        ("chars", TfidfVectorizer(
            analyzer=CHAR_ANALYZER, ngram_range=CHAR_NGRAMS, sublinear_tf=True, min_df=CHAR_MIN_DF
        )),
    ])


class _OneVsRestSVM:
    """Linear SVMs, one per intent against all others, as LinearSVC trains them, but in parallel threads."""

    def __init__(self, C: float, tol: float) -> None:
        self.C = C
        self.tol = tol

    def fit(self, features, labels: Sequence[str], sample_weight: np.ndarray) -> _OneVsRestSVM:
        labels = np.asarray(labels)
        self.classes_ = np.unique(labels)

        def one(name: str) -> LinearSVC:
            return LinearSVC(C=self.C, tol=self.tol).fit(
                features, (labels == name).astype(int), sample_weight=sample_weight
            )

        with ThreadPoolExecutor(max_workers=min(len(self.classes_), os.cpu_count() or 1)) as pool:
            models = list(pool.map(one, self.classes_))
        self.coef_ = np.vstack([model.coef_ for model in models])
        self.intercept_ = np.concatenate([model.intercept_ for model in models])
        return self

    def decision_function(self, features) -> np.ndarray:
        return np.asarray(features @ self.coef_.T) + self.intercept_


def _fit_svm(features, labels: Sequence[str], weights: Sequence[float]) -> _OneVsRestSVM:
    # A looser stopping tolerance than the default trains in half the time with the same predictions.
    return _OneVsRestSVM(C=SVM_C, tol=1e-3).fit(features, labels, sample_weight=_balanced_weights(labels, weights))


def _balanced_weights(labels: Sequence[str], weights: Sequence[float]) -> np.ndarray:
    """Each example's own weight, scaled so that every intent's examples add up to the same total (the noise
    class's to NOISE_WEIGHT of it)."""
    weights = np.array(weights, dtype=float)
    labels = np.asarray(labels)
    classes = np.unique(labels)
    for label in classes:
        members = labels == label
        share = NOISE_WEIGHT if label == NOISE else 1.0
        weights[members] *= share * len(labels) / (len(classes) * weights[members].sum())
    return weights


def _fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of the true classes."""
    def negative_log_likelihood(log_temperature: float) -> float:
        log_probabilities = log_softmax(scores / np.exp(log_temperature), axis=1)
        return float(-log_probabilities[np.arange(len(truth)), truth].mean())

    result = minimize_scalar(negative_log_likelihood, bounds=(np.log(1e-3), np.log(1e2)), method="bounded")
    return float(np.exp(result.x))


def _answer_threshold(intents: Sequence[str], confidences: np.ndarray, truth: Sequence[str]) -> float:
    """The lowest confidence at which at most MAX_WRONG_ANSWER_SHARE of the answers would be wrong."""
    answered = sorted(
        ((confidence, intent == true) for intent, confidence, true in zip(intents, confidences, truth)
         if intent in ANSWERED_INTENTS),
        key=lambda pair: pair[0], reverse=True,
    )
    threshold = 1.0
    wrong = 0
    for count, (confidence, correct) in enumerate(answered, start=1):
        wrong += not correct
        if wrong / count <= MAX_WRONG_ANSWER_SHARE:
            threshold = float(confidence)
    return max(MIN_ANSWER_THRESHOLD, threshold)


def _handoff_threshold(
    intents: Sequence[str], confidences: np.ndarray, truth: Sequence[str], answer_threshold: float
) -> float:
    recognised = [confidence for intent, confidence, true in zip(intents, confidences, truth)
                  if intent in HANDED_OVER_INTENTS and intent == true]
    if not recognised:
        return answer_threshold
    return min(answer_threshold, float(np.quantile(recognised, HANDOFF_MISS_SHARE)))


class IntentClassifier:
    """Trained once, then read-only: safe to share between calls and threads."""

    def __init__(
        self,
        features: FeatureUnion,
        model: _OneVsRestSVM,
        temperature: float,
        thresholds: Thresholds,
        languages: LanguageIdentifier,
    ) -> None:
        self._features = features
        self._model = model
        names = list(model.classes_)
        self._noise = names.index(NOISE) if NOISE in names else None
        self._real = [index for index, name in enumerate(names) if name != NOISE]
        self._classes = [Intent(names[index]) for index in self._real]
        self.temperature = temperature
        self.thresholds = thresholds
        self._languages = languages

    @classmethod
    def train(cls, examples: Iterable[Example], noise: Sequence[str] | None = None) -> IntentClassifier:
        """`noise`: texts that ask nothing, learnt as a class of their own; by default noise_texts()."""
        examples = list(examples)
        missing = set(Intent) - {example.intent for example in examples}
        if missing:
            raise ValueError(f"no training examples for {sorted(missing)}")
        if noise is None:
            noise = noise_texts(vocabulary_of(example.text for example in examples))
        # Noise rides along as examples without a language, so that the development split takes its share.
        noise = [Example(normalise(text), Intent.OUT_OF_SCOPE, "") for text in noise]
        is_noise = {id(example) for example in noise}
        everything = examples + noise
        fit, dev = stratified_split(everything, DEV_SHARE, SEED)
        row = {id(example): index for index, example in enumerate(everything)}

        def labels(members: Sequence[Example]) -> list[str]:
            return [NOISE if id(example) in is_noise else example.intent.value for example in members]

        def weights(members: Sequence[Example]) -> list[float]:
            return [example.weight for example in members]

        features = _features()
        matrix = features.fit_transform([example.text for example in everything]).tocsr()
        calibration_model = _fit_svm(matrix[[row[id(example)] for example in fit]], labels(fit), weights(fit))
        scores = calibration_model.decision_function(matrix[[row[id(example)] for example in dev]])
        model = _fit_svm(matrix, labels(everything), weights(everything))
        class_index = {name: index for index, name in enumerate(model.classes_)}
        truth = labels(dev)
        temperature = _fit_temperature(scores, np.array([class_index[label] for label in truth]))
        probabilities = softmax(scores / temperature, axis=1)
        predicted = [str(model.classes_[index]) for index in probabilities.argmax(axis=1)]
        confidences = probabilities.max(axis=1)
        answer = _answer_threshold(predicted, confidences, truth)
        thresholds = Thresholds(answer, _handoff_threshold(predicted, confidences, truth, answer))
        return cls(features, model, temperature, thresholds, LanguageIdentifier(examples))

    @classmethod
    def load_default(cls) -> IntentClassifier:
        """Trained from the bundled data at first use (a few seconds), then shared within the process.

        Training beats a cached model file: nothing to rebuild or keep in step when the data or
        scikit-learn change, and no pickle to trust at load time."""
        return _default_classifier(banking77_dir())

    def _calibrated(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """For each text, the calibrated probability of every intent (in self._classes' order), and that of
        its being no request at all (noise)."""
        scores = self._model.decision_function(self._features.transform(texts))
        probabilities = softmax(scores / self.temperature, axis=1)
        noise = probabilities[:, self._noise] if self._noise is not None else np.zeros(len(texts))
        return probabilities[:, self._real], noise

    def _decide(self, text: str, language: str, probabilities: np.ndarray, noise: float,
                transcript_confidence: float) -> Understanding:
        """The likeliest intent with its probability, which leaves out the chance that the input is no request
        at all; when that chance is larger, the caller is asked again whatever the intent."""
        best = int(probabilities.argmax())
        intent, confidence = self._classes[best], float(probabilities[best])
        route = Route.CLARIFY if noise > confidence else self.route_for(intent, confidence, transcript_confidence)
        return Understanding(text, language, intent, confidence, route)

    def probabilities(self, text: str) -> dict[Intent, float]:
        """Calibrated probability of every intent, given that the text is a request at all (sums to 1)."""
        probabilities, _ = self._calibrated([normalise(text)])
        return dict(zip(self._classes, (probabilities[0] / probabilities[0].sum()).tolist()))

    def classify(
        self, text: str, language: str | None = None, *, transcript_confidence: float = 1.0
    ) -> Understanding:
        if not isinstance(text, str):
            raise TypeError(f"text must be str, not {type(text).__name__}")
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(f"text is longer than {MAX_TEXT_CHARS} characters ({len(text)})")
        if language is not None and language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES} or None, not {language!r}")
        _check_unit_interval("transcript_confidence", transcript_confidence)
        cleaned = normalise(text)
        language = language or self._languages.identify(cleaned)
        if not cleaned:
            return Understanding(text, language, Intent.OUT_OF_SCOPE, 0.0, Route.CLARIFY)
        probabilities, noise = self._calibrated([cleaned])
        return self._decide(text, language, probabilities[0], float(noise[0]), transcript_confidence)

    def classify_many(self, texts: Sequence[str]) -> list[Understanding]:
        """classify(text) for each of many typed texts (transcript confidence 1, language detected), with
        the same results, vectorised: for benchmarks and cross-validation."""
        cleaned = [normalise(text) for text in texts]
        if any(len(text) > MAX_TEXT_CHARS for text in texts):
            raise ValueError(f"a text is longer than {MAX_TEXT_CHARS} characters")
        filled = [index for index, text in enumerate(cleaned) if text]
        results: list[Understanding | None] = [None] * len(texts)
        if filled:
            probabilities, noise = self._calibrated([cleaned[i] for i in filled])
            languages = self._languages.identify_many([cleaned[i] for i in filled])
            for row, index in enumerate(filled):
                results[index] = self._decide(texts[index], languages[row], probabilities[row], float(noise[row]), 1.0)
        for index, text in enumerate(cleaned):
            if not text:
                results[index] = Understanding(texts[index], FALLBACK_LANGUAGE, Intent.OUT_OF_SCOPE, 0.0, Route.CLARIFY)
        return results  # type: ignore[return-value]

    def route_for(self, intent: Intent, confidence: float, transcript_confidence: float = 1.0) -> Route:
        intent = Intent(intent)
        _check_unit_interval("confidence", confidence)
        _check_unit_interval("transcript_confidence", transcript_confidence)
        combined = confidence * min(1.0, transcript_confidence / TRANSCRIPT_CONFIDENCE_REFERENCE)
        if intent in ANSWERED_INTENTS:
            return Route.ANSWER if combined >= self.thresholds.answer else Route.CLARIFY
        return Route.HUMAN if combined >= self.thresholds.handoff else Route.CLARIFY


def _check_unit_interval(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number from 0 to 1, not {value!r}")


@functools.cache
def _default_classifier(banking77: Path) -> IntentClassifier:
    return IntentClassifier.train(default_training_examples(banking77))
