"""The intent classifier on utterances it was not trained on, its routing, calibration and input checks.

The fixed utterances below were written for these tests, in the style of 8 kHz Whisper transcripts, and are
checked not to occur in the training data. Accuracy bounds were measured (see each test) and set a little
below, so a worse model or worse data fails them."""

from __future__ import annotations

import re

import pytest

from voice_app.understanding.intents import CALIBRATION_FOLDS, MAX_WRONG_ANSWER_SHARE, IntentClassifier, Route
from voice_app.understanding.noise import noise_texts, vocabulary_of
from voice_app.understanding.text import MAX_TRANSCRIPT_CHARS
from voice_app.understanding.training_data import Example, default_training_examples, held_out_examples, own_examples
from voice_app.understanding.vocabulary import ANSWERED_INTENTS, SENSITIVE_INTENTS, Intent

REALISTIC = [
    ("uh yeah hi I wanted to check if my last in voice was payed", "en", Intent.PAYMENT_STATUS),
    ("did the money I sent on Thursday reach you for the invoice", "en", Intent.PAYMENT_STATUS),
    ("ähm hallo ist meine Rechnung vom Februar schon bezahlt", "de", Intent.PAYMENT_STATUS),
    ("haben Sie meine Überweisung von gestern schon bekommen", "de", Intent.PAYMENT_STATUS),
    ("so how much money do I still owe you all together", "en", Intent.OPEN_PAYMENTS),
    ("are there any bills still open on my name", "en", Intent.OPEN_PAYMENTS),
    ("wie viel muss ich denn insgesamt noch abbezahlen", "de", Intent.OPEN_PAYMENTS),
    ("sind bei mir noch Rechnungen offen", "de", Intent.OPEN_PAYMENTS),
    ("when is my next in stalment do", "en", Intent.NEXT_DUE_DATE),
    ("by which date do I need to pay the bill", "en", Intent.NEXT_DUE_DATE),
    ("wann wird die nächste Rathe von meinem Konto abgebucht", "de", Intent.NEXT_DUE_DATE),
    ("bis wann muss ich die Rechnung für die Schuhe bezahlen", "de", Intent.NEXT_DUE_DATE),
    ("I sent the jacket back three weeks ago, where's my re fund", "en", Intent.REFUND_STATUS),
    ("has my return been processed yet please", "en", Intent.REFUND_STATUS),
    ("ich habe das Paket zurückgeschickt, wann kommt mein Geld zurück", "de", Intent.REFUND_STATUS),
    ("wo bleibt die Erstatung für meine Retoure", "de", Intent.REFUND_STATUS),
    ("what's the eye ban I should send the money to", "en", Intent.PAYMENT_OPTIONS),
    ("can I pay the invoice with my credit card instead", "en", Intent.PAYMENT_OPTIONS),
    ("wie ist Ihre Bankverbindung für die Überweisung", "de", Intent.PAYMENT_OPTIONS),
    ("kann ich die Rechnung auch mit PayPal bezahlen", "de", Intent.PAYMENT_OPTIONS),
    ("please just put me through to a real human being", "en", Intent.HUMAN),
    ("I would like to speak with somebody from customer service", "en", Intent.HUMAN),
    ("ich möchte bitte mit einem echten Mitarbeiter sprechen", "de", Intent.HUMAN),
    ("verbinden Sie mich mit einem Menschen", "de", Intent.HUMAN),
    ("okay thanks that's all, bye bye", "en", Intent.GOODBYE),
    ("thank you, have a nice day, goodbye", "en", Intent.GOODBYE),
    ("danke, das war's, auf Wiederhören", "de", Intent.GOODBYE),
    ("alles klar, vielen Dank, tschüss", "de", Intent.GOODBYE),
    ("yes yes, that is exactly right", "en", Intent.AFFIRM),
    ("yeah sure thing, go on", "en", Intent.AFFIRM),
    ("ja, genau, das stimmt", "de", Intent.AFFIRM),
    ("ja, bitte so machen", "de", Intent.AFFIRM),
    ("no, that is not correct at all", "en", Intent.DENY),
    ("no no, that's the wrong one", "en", Intent.DENY),
    ("nein, das stimmt so überhaupt nicht", "de", Intent.DENY),
    ("nee, das war falsch", "de", Intent.DENY),
    ("sorry, can you say that one more time", "en", Intent.REPEAT),
    ("I didn't catch that, could you repeat it", "en", Intent.REPEAT),
    ("Entschuldigung, können Sie das noch einmal wiederholen", "de", Intent.REPEAT),
    ("wie bitte, das habe ich nicht verstanden", "de", Intent.REPEAT),
    ("I want to withdraw my consent and have my data deleted", "en", Intent.WITHDRAW_CONSENT),
    ("please delete all my personal data", "en", Intent.WITHDRAW_CONSENT),
    ("ich wiederrufe meine Einwilligung zur Datenverarbeitung", "de", Intent.WITHDRAW_CONSENT),
    ("bitte löschen Sie sämtliche Daten über mich", "de", Intent.WITHDRAW_CONSENT),
    ("someone ordered a phone in my name and I never bought it", "en", Intent.FRAUD),
    ("there's a purchase on my account that I did not make", "en", Intent.FRAUD),
    ("ich habe eine Rechnung bekommen, aber das habe ich nie bestellt", "de", Intent.FRAUD),
    ("jemand hat mit meinem Konto eingekauft, das war ich nicht", "de", Intent.FRAUD),
    ("my wallet was stolen yesterday with my bank card", "en", Intent.STOLEN_DATA),
    ("I think someone stole my login details", "en", Intent.STOLEN_DATA),
    ("mein Handy wurde geklaut und die App ist da drauf", "de", Intent.STOLEN_DATA),
    ("ich glaube, jemand hat meine Identität geklaut", "de", Intent.STOLEN_DATA),
    ("the parcel never arrived but I still got the invoice", "en", Intent.MERCHANT_DISPUTE),
    ("the shop sent me the wrong item and won't answer my emails", "en", Intent.MERCHANT_DISPUTE),
    ("das Paket ist nie angekommen und der Händler antwortet nicht", "de", Intent.MERCHANT_DISPUTE),
    ("der Shop hat mir einen kaputten Artikel geschickt", "de", Intent.MERCHANT_DISPUTE),
    ("I want to file a complaint about your service", "en", Intent.COMPLAINT),
    ("this is unacceptable, I'm really angry", "en", Intent.COMPLAINT),
    ("ich möchte mich über Ihren Kundenservice beschweren", "de", Intent.COMPLAINT),
    ("das ist eine Frechheit, ich bin total unzufrieden", "de", Intent.COMPLAINT),
    ("I lost my job and I can't pay the next instalment", "en", Intent.FINANCIAL_HARDSHIP),
    ("can I pause my payments for a couple of months", "en", Intent.FINANCIAL_HARDSHIP),
    ("ich bin arbeitslos geworden und kann die Rate nicht zahlen", "de", Intent.FINANCIAL_HARDSHIP),
    ("kann ich eine Zahlungspause bekommen, ich habe gerade kein Geld", "de", Intent.FINANCIAL_HARDSHIP),
]
# Measured: all 64 right; the bound leaves room for a few slips after data changes, not for a broken model.
MIN_REALISTIC_ACCURACY = 0.9
# Held-out measured 95.6 % (de 93.9 %, en 97.4 %); the bounds leave a point or two for training's randomness.
MIN_HELD_OUT_ACCURACY = 0.94
MIN_HELD_OUT_LANGUAGE_ACCURACY = 0.92

OUT_OF_SCOPE = [
    ("what's the weather like in Hamburg tomorrow", "en"),
    ("book me a flight to Lisbon next Friday", "en"),
    ("how do I top up my card with Apple Pay", "en"),
    ("why did my top up fail this morning", "en"),
    ("what's the exchange rate for Swiss francs", "en"),
    ("my card is stuck in the ATM", "en"),
    ("wie wird das Wetter morgen in München", "de"),
    ("buchen Sie mir bitte einen Flug nach Rom", "de"),
    ("wie lade ich meine Prepaidkarte auf", "de"),
    ("ich möchte bei Ihnen ein Tagesgeldkonto eröffnen", "de"),
    # Other organisations' bills and fees, phrased like questions about ours.
    ("wie überweise ich die Gebühr für den Angelschein", "de"),
    ("wie zahle ich den Mitgliedsbeitrag beim Kegelclub", "de"),
    ("wie bezahle ich die Rechnung vom Elektriker", "de"),
]

SENSITIVE = [
    ("I think my account has been hacked and someone is ordering things", "en"),
    ("my credit card got stolen on the train", "en"),
    ("I never received the TV and the shop ignores me", "en"),
    ("I'm really unhappy and want to complain", "en"),
    ("I can't afford the instalments since I lost my job", "en"),
    ("jemand hat in meinem Namen bestellt, das ist Betrug", "de"),
    ("meine Kreditkarte wurde mir gestern geklaut", "de"),
    ("die bestellte Ware ist bis heute nicht angekommen", "de"),
    ("ich will mich jetzt offiziell beschweren", "de"),
    ("ich kann diesen Monat meine Rate nicht bezahlen", "de"),
]

GIBBERISH = ["asdkjh qwpoe zxcmn", "xkcd blorp", "zzzz", "qwertz uiop", "lorem ipsum dolor sit amet", "brrrt fnord"]


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


@pytest.fixture(scope="module")
def classifier() -> IntentClassifier:
    return IntentClassifier.load_default()


def test_fixed_utterances_are_not_training_data() -> None:
    trained = {_key(example.text) for example in own_examples() + held_out_examples()}
    trained |= {_key(text) for text in noise_texts(vocabulary_of(example.text for example in own_examples()))}
    fixed = [text for text, _, _ in REALISTIC] + [text for text, _ in OUT_OF_SCOPE + SENSITIVE] + GIBBERISH

    assert [text for text in fixed if _key(text) in trained] == []


def test_held_out_accuracy() -> None:
    """Trains exactly as load_default() does (all of data/intents.*.tsv plus Banking77 train) and scores the
    frozen held-out set data/heldout.*.tsv, which no model is trained on: measured 93.1 % (de 91.4 %,
    en 94.8 %) when it was frozen; 95.6 % (de 93.9 %, en 97.4 %) after more training data and the noise
    class, both chosen by cross-validation on the training data alone; with issue 12's intents and rows
    94.8 % (de 93.4 %, en 96.1 %), then 94.9 % (de 93.9 %, en 96.0 %) with German stems and more German
    utterances. Answers that were wrong stay
    within MAX_WRONG_ANSWER_SHARE, the share the answer threshold is chosen for on out-of-fold scores."""
    held_out = held_out_examples()
    classifier = IntentClassifier.load_default()

    results = [(example, classifier.classify(example.text)) for example in held_out]

    assert sum(u.intent == e.intent for e, u in results) / len(results) >= MIN_HELD_OUT_ACCURACY
    for language in ("en", "de"):
        own = [(e, u) for e, u in results if e.language == language]
        assert sum(u.intent == e.intent for e, u in own) / len(own) >= MIN_HELD_OUT_LANGUAGE_ACCURACY, language
        assert sum(u.language == language for _, u in own) / len(own) >= 0.98, language
    answered = [(e, u) for e, u in results if u.route is Route.ANSWER]
    wrongly_answered = [e.text for e, u in answered if u.intent != e.intent]
    assert len(wrongly_answered) / len(answered) <= MAX_WRONG_ANSWER_SHARE, wrongly_answered


def test_realistic_utterances(classifier: IntentClassifier) -> None:
    results = [(text, intent, classifier.classify(text, language)) for text, language, intent in REALISTIC]
    wrong = [(text, intent.value, u.intent.value) for text, intent, u in results if u.intent != intent]

    assert 1 - len(wrong) / len(results) >= MIN_REALISTIC_ACCURACY, wrong
    # Whatever it got wrong, it must not answer a question the caller did not ask.
    assert [
        (text, u.intent.value) for text, intent, u in results if u.route is Route.ANSWER and u.intent != intent
    ] == []


@pytest.mark.parametrize("text, language, intent", [case for case in REALISTIC if case[2] in ANSWERED_INTENTS])
def test_routine_and_conversation_utterances_are_answered_or_clarified(
    classifier: IntentClassifier, text: str, language: str, intent: Intent
) -> None:
    understanding = classifier.classify(text, language)

    assert understanding.route in (Route.ANSWER, Route.CLARIFY)
    assert understanding.language == language


@pytest.mark.parametrize("text, language", OUT_OF_SCOPE)
def test_out_of_scope_is_never_answered(classifier: IntentClassifier, text: str, language: str) -> None:
    understanding = classifier.classify(text)

    assert understanding.route is not Route.ANSWER, understanding
    assert understanding.intent is Intent.OUT_OF_SCOPE, understanding
    assert understanding.language == language


@pytest.mark.parametrize("text, language", SENSITIVE)
def test_sensitive_topics_go_to_a_person(classifier: IntentClassifier, text: str, language: str) -> None:
    understanding = classifier.classify(text, language)

    assert understanding.intent in SENSITIVE_INTENTS, understanding
    assert understanding.route is Route.HUMAN, understanding


def test_gibberish_gets_lower_confidence_and_is_never_answered(classifier: IntentClassifier) -> None:
    gibberish = [classifier.classify(text, "en") for text in GIBBERISH]
    realistic = [classifier.classify(text, language) for text, language, _ in REALISTIC]
    mean = lambda items: sum(u.confidence for u in items) / len(items)  # noqa: E731

    assert mean(gibberish) < mean(realistic) - 0.3
    assert all(u.route is not Route.ANSWER for u in gibberish)
    assert sum(u.route is Route.CLARIFY for u in gibberish) >= len(gibberish) // 2


def test_noise_is_learnt_but_never_reported_as_an_intent(classifier: IntentClassifier) -> None:
    """The training-only noise class: its examples hold no word of a real example, and whatever it takes
    in is asked again, never answered or handed over, while the reported intent is always a real one."""
    vocabulary = vocabulary_of(example.text for example in own_examples())
    generated = noise_texts(vocabulary, count=200, seed=11)

    assert noise_texts(vocabulary, count=200, seed=11) == generated
    assert not [text for text in generated[:200] if set(text.split()) & vocabulary]
    understood = classifier.classify_many(generated[:200])
    assert all(u.intent in set(Intent) for u in understood)
    assert sum(u.route is Route.CLARIFY for u in understood) >= 0.95 * len(understood)
    assert all(u.route is not Route.ANSWER for u in understood)


def test_a_model_trained_without_noise_still_classifies(classifier: IntentClassifier) -> None:
    plain = IntentClassifier.train(own_examples(), noise=[])

    understanding = plain.classify("when is my next instalment due", "en")
    assert understanding.intent is Intent.NEXT_DUE_DATE
    assert sum(plain.probabilities("hello").values()) == pytest.approx(1.0)


def test_confidence_is_a_probability_over_all_intents(classifier: IntentClassifier) -> None:
    probabilities = classifier.probabilities("is my invoice paid")

    assert set(probabilities) == set(Intent)
    assert sum(probabilities.values()) == pytest.approx(1.0)
    assert max(probabilities, key=probabilities.get) is Intent.PAYMENT_STATUS


def test_classify_many_gives_what_classify_gives(classifier: IntentClassifier) -> None:
    texts = [text for text, _, _ in REALISTIC[::4]] + GIBBERISH + ["", "  "] + [text for text, _ in OUT_OF_SCOPE[::3]]

    assert classifier.classify_many(texts) == [classifier.classify(text) for text in texts]
    with pytest.raises(ValueError, match="longer than"):
        classifier.classify_many(["x" * (MAX_TRANSCRIPT_CHARS + 1)])


def test_routing_rules(classifier: IntentClassifier) -> None:
    answer, handoff = classifier.thresholds.answer, classifier.thresholds.handoff

    assert 0.5 <= answer <= 1.0 and 0.0 < handoff <= answer
    assert classifier.route_for(Intent.PAYMENT_STATUS, 1.0) is Route.ANSWER
    assert classifier.route_for(Intent.AFFIRM, answer) is Route.ANSWER
    assert classifier.route_for(Intent.PAYMENT_STATUS, answer * 0.99) is Route.CLARIFY
    for intent in (Intent.HUMAN, Intent.WITHDRAW_CONSENT, Intent.FRAUD, Intent.OUT_OF_SCOPE):
        assert classifier.route_for(intent, 1.0) is Route.HUMAN
        assert classifier.route_for(intent, handoff * 0.99) is Route.CLARIFY
    assert classifier.route_for("complaint", 1.0) is Route.HUMAN


def test_an_unsure_transcript_turns_an_answer_into_a_question(classifier: IntentClassifier) -> None:
    assert classifier.route_for(Intent.NEXT_DUE_DATE, 1.0, transcript_confidence=1.0) is Route.ANSWER
    assert classifier.route_for(Intent.NEXT_DUE_DATE, 1.0, transcript_confidence=0.05) is Route.CLARIFY
    assert classifier.route_for(Intent.FRAUD, 1.0, transcript_confidence=0.05) is Route.CLARIFY
    heard = classifier.classify("when is my next payment due", "en", transcript_confidence=0.05)
    assert heard.intent is Intent.NEXT_DUE_DATE and heard.route is Route.CLARIFY


@pytest.mark.parametrize(
    "confidence, transcript_confidence", [(-0.1, 1.0), (1.1, 1.0), (0.9, 1.5), (0.9, float("nan"))]
)
def test_route_for_rejects_values_outside_zero_to_one(
    classifier: IntentClassifier, confidence: float, transcript_confidence: float
) -> None:
    with pytest.raises(ValueError):
        classifier.route_for(Intent.AFFIRM, confidence, transcript_confidence)


def test_route_for_rejects_unknown_intents(classifier: IntentClassifier) -> None:
    with pytest.raises(ValueError):
        classifier.route_for("order_pizza", 0.9)


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "\x00\x07\x1b"])
def test_nothing_to_go_by_is_clarified(classifier: IntentClassifier, text: str) -> None:
    understanding = classifier.classify(text)

    assert understanding.intent is Intent.OUT_OF_SCOPE
    assert understanding.confidence == 0.0
    assert understanding.route is Route.CLARIFY
    assert understanding.language in ("de", "en")
    assert understanding.text == text


def test_language_is_detected_or_taken_as_given(classifier: IntentClassifier) -> None:
    assert classifier.classify("wann ist meine nächste Rate fällig").language == "de"
    assert classifier.classify("when is my next instalment due").language == "en"
    assert classifier.classify("when is my next instalment due", "de").language == "de"


def test_long_text_up_to_the_limit_is_classified_beyond_it_rejected(classifier: IntentClassifier) -> None:
    sentence = "I lost my job and cannot pay my instalments. "
    longest = (sentence * (MAX_TRANSCRIPT_CHARS // len(sentence) + 1))[:MAX_TRANSCRIPT_CHARS]

    assert classifier.classify(longest, "en").intent is Intent.FINANCIAL_HARDSHIP
    with pytest.raises(ValueError, match="longer than"):
        classifier.classify(longest + "x", "en")


def test_non_text_input_is_rejected(classifier: IntentClassifier) -> None:
    with pytest.raises(TypeError):
        classifier.classify(b"\xff\xfe is my invoice paid")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        classifier.classify(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        classifier.classify("is my invoice paid", "fr")
    with pytest.raises(ValueError):
        classifier.classify("is my invoice paid", transcript_confidence=2.0)


def test_training_needs_every_intent() -> None:
    with pytest.raises(ValueError, match="no training examples"):
        IntentClassifier.train([Example("is my invoice paid", Intent.PAYMENT_STATUS, "en")])


def test_default_model_is_trained_once_per_process(classifier: IntentClassifier) -> None:
    assert IntentClassifier.load_default() is classifier


def test_thresholds_and_temperature_hardly_depend_on_how_the_calibration_folds_are_dealt(
    classifier: IntentClassifier,
) -> None:
    """Measured over 11 seeds: the answer threshold stayed within 0.82-0.85 with out-of-fold calibration,
    where a single development split gave 0.68-0.87; with that split, this seed and the default one gave
    0.802 and 0.679."""
    redealt = IntentClassifier.train(default_training_examples(), split_seed=9)

    assert abs(redealt.thresholds.answer - classifier.thresholds.answer) <= 0.05
    assert abs(redealt.thresholds.handoff - classifier.thresholds.handoff) <= 0.05
    assert abs(redealt.temperature - classifier.temperature) <= 0.01


def test_calibration_needs_examples_for_every_fold() -> None:
    examples = [
        Example(f"{intent.value} {word}", intent, "en")
        for intent in Intent
        for word in (["only"] if intent is Intent.REPEAT else ["one", "two", "three", "four", "five", "six"])
    ]

    with pytest.raises(ValueError, match=f"at least {CALIBRATION_FOLDS} training examples"):
        IntentClassifier.train(examples, noise=["blorp fnord", "zzz qwx", "brrt", "mmh hm", "xkq", "plonk"])
