"""How well the intent classifier understands callers, and how often it would answer when it should not.

    .venv/bin/python benchmarks/intent_accuracy.py

1. Our own examples: the classifier is trained on all of data/intents.*.tsv plus Banking77's train.csv,
   exactly as load_default() trains, and judged on the FROZEN held-out set data/heldout.*.tsv, which is
   never trained on. It was drawn once (stratified 20 %, seed 2020, of our examples as they stood then;
   four lines that were verbatim Banking77 train queries went back to training) and is no longer redrawn,
   so adding training utterances does not move the yardstick.
2. Banking77's test.csv (3,080 real written queries, never trained on): the share the assistant would
   wrongly answer (route "answer" while the mapped truth is not that same intent), the share handed to a
   person or asked to clarify, and how the categories close to ours fared.
3. Calibration (expected calibration error) and latency of classify() per utterance.
4. With --cv K instead: K-fold stratified cross-validation on the TRAINING data only (our data/intents.*.tsv
   plus Banking77 train.csv, folded together; the held-out set and Banking77 test.csv are not read). Each
   fold is scored by a classifier trained exactly as load_default() trains, on the other folds: intent
   accuracy per language on our utterances, and the share of the fold's Banking77 rows wrongly answered.
   This is how data and model settings are chosen; the frozen held-out set only reports the result.
   --cv-eval-only TSV... scores only our utterances listed in those files (intent, text; e.g. an earlier
   version of the training data, `<(git show REV:voice_app/understanding/data/intents.de.tsv)`): the others
   are then always trained on, so the score shows what they add for the utterances we had before, and is not
   flattered by new utterances being easy to tell from their own near-copies.
5. With --audio N (optional, about 2.5 s per utterance): N held-out utterances per language spoken by
   espeak-ng, sent through the phone line (8 kHz mu-law) and transcribed by the bundled Whisper base, then
   classified with the transcript's confidence: how intent accuracy and routing depend on that confidence,
   and the maximum-likelihood fit of TRANSCRIPT_CONFIDENCE_REFERENCE (see voice_app.understanding.intents).

Prints Markdown for the README. Banking77: Casanueva et al. 2020, "Efficient Intent Detection with Dual
Sentence Encoders", CC BY 4.0.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voice_app.config import PROJECT_ROOT  # noqa: E402
from voice_app.understanding.intents import (  # noqa: E402
    TRANSCRIPT_CONFIDENCE_REFERENCE,
    IntentClassifier,
    Route,
    Understanding,
)
from voice_app.understanding.noise import noise_texts, vocabulary_of  # noqa: E402
from voice_app.understanding.splits import stratified_folds  # noqa: E402
from voice_app.understanding.text import clean_text  # noqa: E402
from voice_app.understanding.training_data import (  # noqa: E402
    LANGUAGES,
    Example,
    banking77_dir,
    held_out_examples,
    load_banking77,
    load_banking77_mapping,
    own_examples,
)
from voice_app.understanding.vocabulary import ANSWERED_INTENTS, Intent  # noqa: E402

# The frozen held-out set was drawn once as a stratified 20 % with this seed (see held_out_examples); the seed
# now only picks the utterances spoken with --audio.
SPLIT_SEED = 2020
CALIBRATION_BINS = 10
TARGET_ACCURACY = 0.95
TARGET_WRONGLY_ANSWERED = 0.05
# How many of the most frequent confusions a cross-validation lists per language.
CONFUSIONS = 15
CLOSE_CATEGORIES = (
    "Refund_not_showing_up",
    "request_refund",
    "balance_not_updated_after_bank_transfer",
    "pending_transfer",
    "transfer_timing",
    "card_payment_not_recognised",
    "direct_debit_payment_not_recognised",
    "cash_withdrawal_not_recognised",
    "compromised_card",
    "lost_or_stolen_card",
    "lost_or_stolen_phone",
    "transaction_charged_twice",
    "supported_cards_and_currencies",
    "transfer_into_account",
    "apple_pay_or_google_pay",
    "terminate_account",
    "pending_card_payment",
)


@dataclass(frozen=True)
class Verdict:
    truth: Intent
    language: str
    understanding: Understanding

    @property
    def correct(self) -> bool:
        return self.understanding.intent == self.truth

    @property
    def wrongly_answered(self) -> bool:
        return self.understanding.route is Route.ANSWER and not self.correct


@dataclass(frozen=True)
class Judged(Verdict):
    seconds: float


def judge(classifier: IntentClassifier, examples: list[Example]) -> list[Judged]:
    judged = []
    for example in examples:
        started = time.perf_counter()
        understanding = classifier.classify(example.text)
        judged.append(Judged(example.intent, example.language, understanding, time.perf_counter() - started))
    return judged


def calibration(judged: list[Judged]) -> tuple[float, list[tuple[str, int, float, float]]]:
    """Expected calibration error over equal-width confidence bins, and the bins (range, n, conf, acc)."""
    confidences = np.array([j.understanding.confidence for j in judged])
    correct = np.array([j.correct for j in judged], dtype=float)
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    bins = np.clip(np.digitize(confidences, edges[1:-1]), 0, CALIBRATION_BINS - 1)
    error = 0.0
    table = []
    for index in range(CALIBRATION_BINS):
        members = bins == index
        if not members.any():
            continue
        mean_confidence, accuracy = confidences[members].mean(), correct[members].mean()
        error += members.mean() * abs(mean_confidence - accuracy)
        table.append((f"{edges[index]:.1f}-{edges[index + 1]:.1f}", int(members.sum()), mean_confidence, accuracy))
    return float(error), table


def share(items: list[Judged], condition) -> float:
    return sum(1 for item in items if condition(item)) / len(items) if items else 0.0


def percent(value: float) -> str:
    return f"{100 * value:.1f} %"


@dataclass(frozen=True)
class Heard(Verdict):
    transcript_confidence: float


def cross_validate(
    own: list[Example],
    banking: list[Example],
    folds: int,
    seed: int = SPLIT_SEED,
    evaluate: set[tuple[str, str]] | None = None,
) -> tuple[dict[str, float], list[Verdict]]:
    """Stratified K-fold cross-validation on training data; `evaluate`, if given, limits which of our
    utterances are scored (keys (language, text)), the rest being trained on in every fold."""
    scored = [e for e in own if evaluate is None or (e.language, e.text) in evaluate]
    always = [e for e in own if evaluate is not None and (e.language, e.text) not in evaluate]
    parts = stratified_folds(scored + banking, folds, seed)
    held: list[Verdict] = []
    rows: list[Verdict] = []
    seconds = []
    # Gibberish never trained on (another seed than training's), to see that it is asked again.
    gibberish = noise_texts(vocabulary_of(example.text for example in own), count=200, seed=seed + 1)[:200]
    fresh: list[Understanding] = []
    for index, part in enumerate(parts):
        rest = always + [example for other, members in enumerate(parts) if other != index for example in members]
        started = time.perf_counter()
        classifier = IntentClassifier.train(rest)
        seconds.append(time.perf_counter() - started)
        understood = classifier.classify_many([example.text for example in part])
        fresh += classifier.classify_many(gibberish[index::folds])
        for example, understanding in zip(part, understood, strict=True):
            verdict = Verdict(example.intent, example.language, understanding)
            (held if example.weight == 1.0 else rows).append(verdict)
        print(f"\rfold {index + 1}/{folds}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    result = {
        "accuracy": share(held, lambda v: v.correct),
        **{
            f"accuracy {language}": share([v for v in held if v.language == language], lambda v: v.correct)
            for language in LANGUAGES
        },
        "wrongly answered, ours": share(held, lambda v: v.wrongly_answered),
        **{f"routed {route}, ours": share(held, lambda v, r=route: v.understanding.route is r) for route in Route},
        "Banking77 train wrongly answered": share(rows, lambda v: v.wrongly_answered),
        "Banking77 train accuracy (mapped)": share(rows, lambda v: v.correct),
        "ECE, ours": calibration(held)[0],
        "new gibberish asked again": sum(u.route is Route.CLARIFY for u in fresh) / len(fresh),
        "training seconds": float(np.mean(seconds)),
    }
    result["n scored"] = len(held)
    return result, held


def report_cv(folds: int, eval_only: list[Path]) -> None:
    own = own_examples()
    banking = load_banking77(banking77_dir() / "train.csv", load_banking77_mapping())
    evaluate = None
    if eval_only:
        evaluate = set()
        for path in eval_only:
            language = next((code for code in LANGUAGES if f".{code}." in path.name), None)
            for lang in [language] if language else LANGUAGES:
                with path.open(encoding="utf-8", newline="") as file:
                    rows = list(csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE))
                evaluate |= {(lang, clean_text(row["text"])) for row in rows}
    result, held = cross_validate(own, banking, folds, evaluate=evaluate)
    print(
        f"## {folds}-fold cross-validation on the training data ({len(own)} of our utterances, "
        f"{result.pop('n scored')} of them scored, + {len(banking)} Banking77 train rows)\n"
    )
    print("| measure | value |")
    print("| --- | --- |")
    for name, value in result.items():
        shown = (
            f"{value:.2f} s"
            if name == "training seconds"
            else (f"{value:.3f}" if name.startswith("ECE") else percent(value))
        )
        print(f"| {name} | {shown} |")
    for language in LANGUAGES:
        confusions = Counter(
            (v.truth.value, v.understanding.intent.value) for v in held if v.language == language and not v.correct
        )
        print(f"\nMost frequent confusions, {language} (true → classified): ", end="")
        print(", ".join(f"{truth} → {got} ({count})" for (truth, got), count in confusions.most_common(CONFUSIONS)))


def listen(classifier: IntentClassifier, examples: list[Example]) -> list[Heard]:
    from telephony.audio import phone_mulaw_to_float
    from voice_app.speech.model_store import resolve_model
    from voice_app.speech.stt import Transcriber
    from voice_app.speech.tts import Synthesizer

    transcriber = Transcriber(resolve_model("base", PROJECT_ROOT / "var" / "models"))
    synthesizer = Synthesizer()
    heard = []
    try:
        for number, example in enumerate(examples, start=1):
            audio = phone_mulaw_to_float(synthesizer.synthesize(example.text, example.language), 16000)
            transcript = transcriber.transcribe(audio, example.language)
            understanding = classifier.classify(
                transcript.text, example.language, transcript_confidence=transcript.confidence
            )
            heard.append(
                Heard(example.intent, example.language, understanding, transcript_confidence=transcript.confidence)
            )
            print(f"\rtranscribed {number}/{len(examples)}", end="", file=sys.stderr, flush=True)
    finally:
        synthesizer.close()
    print(file=sys.stderr)
    return heard


def fit_transcript_reference(heard: list[Heard]) -> float:
    """The reference r maximising the likelihood of the outcomes under P(right) = p * min(1, c / r)."""
    confidence = np.array([h.understanding.confidence for h in heard])
    transcript = np.array([h.transcript_confidence for h in heard])
    correct = np.array([h.correct for h in heard], dtype=float)
    candidates = np.arange(0.01, 1.0, 0.01)
    likelihoods = []
    for reference in candidates:
        probability = np.clip(confidence * np.minimum(1.0, transcript / reference), 1e-6, 1 - 1e-6)
        likelihoods.append(np.sum(correct * np.log(probability) + (1 - correct) * np.log(1 - probability)))
    return float(candidates[int(np.argmax(likelihoods))])


def report_audio(classifier: IntentClassifier, held_out: list[Example], per_language: int) -> None:
    rng = random.Random(SPLIT_SEED)
    sample = [
        example
        for language in LANGUAGES
        for example in rng.sample([e for e in held_out if e.language == language], per_language)
    ]
    heard = listen(classifier, sample)

    print("\n### Through the phone line: espeak-ng voice, 8 kHz mu-law, Whisper base\n")
    print("| transcript confidence | n | intent right | answered | wrongly answered |")
    print("| --- | --- | --- | --- | --- |")
    edges = (0.0, 0.2, 0.35, 0.5, 0.65, 1.01)
    for low, high in zip(edges, edges[1:], strict=False):
        members = [h for h in heard if low <= h.transcript_confidence < high]
        print(
            f"| {low:.2f}-{min(high, 1.0):.2f} | {len(members)} | {percent(share(members, lambda h: h.correct))} | "
            f"{percent(share(members, lambda h: h.understanding.route is Route.ANSWER))} | "
            f"{percent(share(members, lambda h: h.wrongly_answered))} |"
        )
    for language in LANGUAGES:
        members = [h for h in heard if h.language == language]
        print(
            f"\n{language}: intent right on {percent(share(members, lambda h: h.correct))} of {len(members)} "
            f"transcripts; routed answer / human / clarify "
            f"{' / '.join(percent(share(members, lambda h, r=r: h.understanding.route is r)) for r in Route)}; "
            f"wrongly answered {percent(share(members, lambda h: h.wrongly_answered))}."
        )
    print(
        f"\nTRANSCRIPT_CONFIDENCE_REFERENCE: {TRANSCRIPT_CONFIDENCE_REFERENCE} in use, "
        f"{fit_transcript_reference(heard):.2f} fitted on these {len(heard)} transcripts."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--audio",
        type=int,
        default=0,
        metavar="N",
        help="also speak and transcribe N held-out utterances per language (slow)",
    )
    parser.add_argument(
        "--cv", type=int, default=0, metavar="K", help="instead: K-fold cross-validation on the training data only"
    )
    parser.add_argument(
        "--cv-eval-only",
        type=Path,
        nargs="+",
        default=[],
        metavar="TSV",
        help="with --cv: score only our utterances listed in these files (intent, text)",
    )
    arguments = parser.parse_args()
    if arguments.audio < 0:
        parser.error("--audio must be 0 or more")
    if arguments.cv:
        if arguments.cv < 2:
            parser.error("--cv needs 2 or more folds")
        report_cv(arguments.cv, arguments.cv_eval_only)
        return
    mapping = load_banking77_mapping()
    data_dir = banking77_dir()
    banking_train = load_banking77(data_dir / "train.csv", mapping)
    banking_test_rows = load_banking77(data_dir / "test.csv", mapping)
    with (data_dir / "test.csv").open(encoding="utf-8", newline="") as file:
        categories = [row["category"] for row in csv.DictReader(file)]
    training = own_examples()
    held_out = held_out_examples()

    started = time.perf_counter()
    classifier = IntentClassifier.train(training + banking_train)
    training_seconds = time.perf_counter() - started

    held = judge(classifier, held_out)
    banking = judge(classifier, banking_test_rows)

    accuracy = share(held, lambda j: j.correct)
    per_language = {
        language: share([j for j in held if j.language == language], lambda j: j.correct) for language in LANGUAGES
    }
    language_id = share(held, lambda j: j.understanding.language == j.language)
    wrongly_answered = share(banking, lambda j: j.wrongly_answered)
    held_ece, held_bins = calibration(held)
    banking_ece, _ = calibration(banking)
    seconds = np.array([j.seconds for j in held + banking]) * 1000

    def target(value: float, bound: float, at_least: bool) -> str:
        met = value >= bound if at_least else value <= bound
        return f"{'≥' if at_least else '≤'} {percent(bound)} {'met' if met else '**missed**'}"

    print("## Intent classifier benchmark\n")
    print(
        f"Training: {len(training)} of our utterances + {len(banking_train)} Banking77 train rows, "
        f"{training_seconds:.1f} s. Held out: {len(held_out)} of our utterances, a frozen set "
        f"(data/heldout.*.tsv, drawn once with seed {SPLIT_SEED}, never trained on). "
        f"Temperature {classifier.temperature:.3f}; thresholds from out-of-fold scores: answer "
        f"{classifier.thresholds.answer:.3f}, hand-over {classifier.thresholds.handoff:.3f}.\n"
    )
    print("| measure | value | target |")
    print("| --- | --- | --- |")
    print(
        f"| intent accuracy, frozen held-out (both languages, n={len(held)}) | {percent(accuracy)} | "
        f"{target(accuracy, TARGET_ACCURACY, True)} |"
    )
    for language, value in per_language.items():
        count = sum(1 for j in held if j.language == language)
        print(f"| intent accuracy, held-out {language} (n={count}) | {percent(value)} | |")
    print(f"| language detected correctly, held-out | {percent(language_id)} | |")
    print(
        f"| held-out routed answer / human / clarify | "
        f"{' / '.join(percent(share(held, lambda j, r=r: j.understanding.route is r)) for r in Route)} | |"
    )
    print(f"| held-out wrongly answered | {percent(share(held, lambda j: j.wrongly_answered))} | |")
    print(
        f"| Banking77 test wrongly answered (n={len(banking)}) | {percent(wrongly_answered)} | "
        f"{target(wrongly_answered, TARGET_WRONGLY_ANSWERED, False)} |"
    )
    print(
        f"| Banking77 test routed answer / human / clarify | "
        f"{' / '.join(percent(share(banking, lambda j, r=r: j.understanding.route is r)) for r in Route)} | |"
    )
    print(f"| Banking77 test intent accuracy (mapped) | {percent(share(banking, lambda j: j.correct))} | |")
    print(f"| calibration error (ECE, {CALIBRATION_BINS} bins), held-out | {held_ece:.3f} | |")
    print(f"| calibration error (ECE, {CALIBRATION_BINS} bins), Banking77 test | {banking_ece:.3f} | |")
    print(
        f"| classify() latency mean / p50 / p95 / p99 | {seconds.mean():.2f} / "
        f"{np.percentile(seconds, 50):.2f} / {np.percentile(seconds, 95):.2f} / "
        f"{np.percentile(seconds, 99):.2f} ms | |"
    )

    print("\n### Held-out recall per intent and most frequent confusions\n")
    print("| intent | n | recall | mistaken for |")
    print("| --- | --- | --- | --- |")
    for intent in Intent:
        members = [j for j in held if j.truth is intent]
        confused = Counter(j.understanding.intent.value for j in members if not j.correct).most_common(3)
        print(
            f"| {intent.value} | {len(members)} | {percent(share(members, lambda j: j.correct))} | "
            f"{', '.join(f'{name} ({count})' for name, count in confused) or '-'} |"
        )

    print("\n### Reliability, held-out (confidence bin, n, mean confidence, accuracy)\n")
    print("| bin | n | confidence | accuracy |")
    print("| --- | --- | --- | --- |")
    for label, count, confidence, bin_accuracy in held_bins:
        print(f"| {label} | {count} | {confidence:.3f} | {bin_accuracy:.3f} |")

    print("\n### Banking77 categories close to ours (test.csv)\n")
    print("| category | mapped to | n | answered right | answered wrong | human | clarify | most often |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for category in CLOSE_CATEGORIES:
        members = [j for j, name in zip(banking, categories, strict=True) if name == category]
        top = Counter(j.understanding.intent.value for j in members).most_common(1)[0]
        print(
            f"| {category} | {mapping[category].value} | {len(members)} | "
            f"{percent(share(members, lambda j: j.understanding.route is Route.ANSWER and j.correct))} | "
            f"{percent(share(members, lambda j: j.wrongly_answered))} | "
            f"{percent(share(members, lambda j: j.understanding.route is Route.HUMAN))} | "
            f"{percent(share(members, lambda j: j.understanding.route is Route.CLARIFY))} | "
            f"{top[0]} ({top[1]}) |"
        )
    wrong_answers = Counter(
        (name, j.understanding.intent.value) for j, name in zip(banking, categories, strict=True) if j.wrongly_answered
    )
    print(
        "\nWrong answers on Banking77 test by (category, answered intent): "
        + ", ".join(f"{category} → {intent} ({count})" for (category, intent), count in wrong_answers.most_common(8))
    )
    print(f"\nIntents the assistant answers: {', '.join(sorted(i.value for i in ANSWERED_INTENTS))}.")
    if arguments.audio:
        report_audio(classifier, held_out, min(arguments.audio, len(held_out) // len(LANGUAGES)))


if __name__ == "__main__":
    main()
