"""Issue 12's conversation, driven by text events with the real classifier and the demo accounts: greetings and
other glue, two questions in one turn, a confirmed withdrawal of consent, frustration and urgent security
requests, in both languages."""

import pytest

from consent.ledger import Decision
from tests.dialogue_support import ENGLISH, GERMAN, consented, keypad_date, press, said, spoke
from tests.support import AT, of
from voice_app.dialogue.messages import (
    CallerInterrupted,
    DigitPressed,
    EndCall,
    PromptFinished,
    RecordConsent,
    Say,
    StoreTurn,
)
from voice_app.dialogue.prompts import Prompt, prompt_text
from voice_app.models import CallOutcome, HandoffReason

CUSTOMERS = {"en": ENGLISH, "de": GERMAN}


def verified(new_dialogue, language, question):
    """A known caller who asked `question` and proved their date of birth; returns the dialogue and the answer."""
    customer = CUSTOMERS[language]
    dialogue = consented(new_dialogue, language, customer.phones[0])
    asked = said(dialogue.handle(spoke(question, language)))
    assert prompt_text(Prompt.ASK_DATE_OF_BIRTH, language) in asked, asked
    return dialogue, said(press(dialogue, keypad_date(customer.date_of_birth)))


def transfer_reason(actions) -> HandoffReason | None:
    ends = of(actions, EndCall)
    assert ends, said(actions)
    assert ends[0].outcome is CallOutcome.TRANSFER
    return ends[0].reason


@pytest.mark.parametrize(
    "language, words, reply",
    [
        ("en", "Hello.", Prompt.GREETING_BACK),
        ("en", "Good morning.", Prompt.GREETING_BACK),
        ("de", "Hallo.", Prompt.GREETING_BACK),
        ("de", "Guten Morgen.", Prompt.GREETING_BACK),
        ("en", "Thanks.", Prompt.YOU_ARE_WELCOME),
        ("de", "Danke schön.", Prompt.YOU_ARE_WELCOME),
        ("en", "Wait, one more thing.", Prompt.GO_AHEAD),
        ("de", "Moment, noch eine Sache.", Prompt.GO_AHEAD),
        ("en", "I have a question about my invoice.", Prompt.ASK_ABOUT_TOPIC),
        ("de", "Ich habe eine Frage zu meiner Rechnung.", Prompt.ASK_ABOUT_TOPIC),
    ],
)
def test_glue_is_answered_with_a_question_back_and_never_ends_the_call(new_dialogue, language, words, reply):
    dialogue = consented(new_dialogue, language)
    actions = dialogue.handle(spoke(words, language))
    assert said(actions) == prompt_text(reply, language)
    assert not of(actions, EndCall)
    # Said with a poor transcript, the same words still get the question back rather than "say it again".
    unsure = consented(new_dialogue, language).handle(spoke(words, language, confidence=0.15))
    assert said(unsure) == prompt_text(reply, language)


@pytest.mark.parametrize("language", ["en", "de"])
def test_greetings_never_hand_over_however_often_they_come(new_dialogue, language):
    dialogue = consented(new_dialogue, language)
    for words in {"en": ("Hello?", "Hi there.", "Hello, can you hear me?"), "de": ("Hallo?", "Grüß Gott.", "Moin.")}[
        language
    ]:
        assert not of(dialogue.handle(spoke(words, language)), EndCall)
    assert dialogue.listening


@pytest.mark.parametrize("language, thanks, no", [("en", "Thank you.", "No."), ("de", "Vielen Dank.", "Nein.")])
def test_thanks_alone_asks_for_anything_else_and_no_then_ends(new_dialogue, language, thanks, no):
    dialogue, _ = verified(
        new_dialogue, language, "Is my last invoice paid?" if language == "en" else "Ist meine letzte Rechnung bezahlt?"
    )
    assert not of(dialogue.handle(spoke(thanks, language)), EndCall)
    assert of(dialogue.handle(spoke(no, language)), EndCall) == [EndCall(CallOutcome.HANGUP, None)]


@pytest.mark.parametrize("language, words", [("en", "Thanks, goodbye!"), ("de", "Danke, auf Wiederhören!")])
def test_a_clear_goodbye_still_ends_the_call(new_dialogue, language, words):
    assert of(consented(new_dialogue, language).handle(spoke(words, language)), EndCall) == [
        EndCall(CallOutcome.HANGUP, None)
    ]


@pytest.mark.parametrize(
    "language, both, first, second",
    [
        (
            "en",
            "Is my last invoice paid and when is the next payment due?",
            "Is my last invoice paid?",
            "When is the next payment due?",
        ),
        (
            "de",
            "Ist meine letzte Rechnung bezahlt und wann ist die nächste Zahlung fällig?",
            "Ist meine letzte Rechnung bezahlt?",
            "Wann ist die nächste Zahlung fällig?",
        ),
    ],
)
def test_two_questions_in_one_turn_are_both_answered_in_order_after_one_verification(
    new_dialogue, language, both, first, second
):
    anything_else = prompt_text(Prompt.ANYTHING_ELSE, language)
    thanks = prompt_text(Prompt.VERIFIED, language)
    alone = [verified(new_dialogue, language, question)[1] for question in (first, second)]
    answers = [text.removeprefix(thanks).removesuffix(anything_else).strip() for text in alone]
    _, together = verified(new_dialogue, language, both)
    assert answers[0] in together and answers[1] in together, together
    assert together.index(answers[0]) < together.index(answers[1])


@pytest.mark.parametrize(
    "language, withdraw, no",
    [("en", "I withdraw my consent.", "No."), ("de", "Ich widerrufe meine Einwilligung.", "Nein.")],
)
def test_no_to_the_withdrawal_question_keeps_consent_and_the_call(new_dialogue, language, withdraw, no):
    dialogue = consented(new_dialogue, language)
    dialogue.handle(spoke(withdraw, language))
    kept = dialogue.handle(spoke(no, language))
    assert said(kept) == prompt_text(Prompt.CONSENT_KEPT, language)
    assert not of(kept, RecordConsent) and not of(kept, EndCall)
    assert dialogue.consent_granted and dialogue.listening
    # The call goes on as before.
    assert said(dialogue.handle(spoke("Hello." if language == "en" else "Hallo.", language))) == prompt_text(
        Prompt.GREETING_BACK, language
    )


@pytest.mark.parametrize("language", ["en", "de"])
def test_an_unclear_answer_to_the_withdrawal_question_is_asked_once_more_then_consent_stays(new_dialogue, language):
    dialogue = consented(new_dialogue, language)
    dialogue.handle(spoke("Delete my data." if language == "en" else "Löschen Sie meine Daten.", language))
    again = dialogue.handle(spoke("mmh", language, confidence=0.1))
    assert said(again) == prompt_text(Prompt.CONFIRM_WITHDRAWAL_AGAIN, language)
    kept = dialogue.handle(spoke("the weather", language))
    assert said(kept) == prompt_text(Prompt.CONSENT_KEPT, language)
    assert not of(again + kept, RecordConsent) and dialogue.consent_granted


def test_the_withdrawal_can_be_confirmed_or_refused_on_the_keypad(new_dialogue):
    refused = consented(new_dialogue, "de")
    refused.handle(spoke("Ich widerrufe meine Einwilligung.", "de"))
    assert not of(refused.handle(DigitPressed("2", AT)), RecordConsent) and refused.consent_granted
    confirmed = consented(new_dialogue, "en")
    confirmed.handle(spoke("I withdraw my consent.", "en"))
    (record,) = of(confirmed.handle(DigitPressed("1", AT)), RecordConsent)
    assert record.decision is Decision.WITHDRAWN


@pytest.mark.parametrize(
    "language, words",
    [
        ("en", "This is useless."),
        ("en", "You stupid machine, you don't understand anything."),
        ("de", "Das bringt doch alles nichts."),
        ("de", "Blöde Maschine, Sie verstehen mich überhaupt nicht."),
    ],
)
def test_insults_and_this_is_useless_go_to_a_person_at_once_as_frustration(new_dialogue, language, words):
    actions = consented(new_dialogue, language).handle(spoke(words, language))
    assert transfer_reason(actions) is HandoffReason.CALLER_FRUSTRATED
    assert prompt_text(Prompt.FRUSTRATED_TRANSFER, language) in said(actions)


@pytest.mark.parametrize("language, human", [("en", "I want to talk to a human."), ("de", "Ich will einen Menschen.")])
def test_a_person_asked_for_after_the_assistant_struggled_is_frustration(new_dialogue, language, human):
    first_thing = consented(new_dialogue, language).handle(spoke(human, language))
    assert transfer_reason(first_thing) is HandoffReason.CALLER_ASKED
    dialogue = consented(new_dialogue, language)
    dialogue.handle(spoke("", language, confidence=0.0))
    assert transfer_reason(dialogue.handle(spoke(human, language))) is HandoffReason.CALLER_FRUSTRATED


@pytest.mark.parametrize(
    "language, question", [("en", "When is my next payment due?"), ("de", "Wann ist meine nächste Rate fällig?")]
)
def test_two_unclear_turns_after_an_answer_or_the_same_question_again_is_frustration(new_dialogue, language, question):
    dialogue, _ = verified(new_dialogue, language, question)
    dialogue.handle(spoke("", language, confidence=0.0))
    assert transfer_reason(dialogue.handle(spoke("mmh", language, confidence=0.05))) is HandoffReason.CALLER_FRUSTRATED
    again, _ = verified(new_dialogue, language, question)
    assert transfer_reason(again.handle(spoke(question, language))) is HandoffReason.CALLER_FRUSTRATED


def test_talking_over_the_assistant_again_and_again_is_frustration(new_dialogue):
    dialogue = consented(new_dialogue, "de")
    assert dialogue.handle(CallerInterrupted(AT)) == [] and dialogue.handle(CallerInterrupted(AT)) == []
    assert transfer_reason(dialogue.handle(CallerInterrupted(AT))) is HandoffReason.CALLER_FRUSTRATED


@pytest.mark.parametrize(
    "language, words, confidence",
    [
        ("en", "Can you freeze my account?", 0.6),
        ("en", "I lost my card.", 0.6),
        ("en", "Someone else used my account.", 0.6),
        ("de", "Können Sie mein Konto einfrieren?", 0.6),
        ("de", "Ich habe meine Karte verloren.", 0.6),
        ("de", "Jemand anderes hat mein Konto benutzt.", 0.6),
        # Half heard: would be asked again, but a request to block an account is not to be kept waiting.
        ("en", "can you freeze my", 0.12),
        ("de", "Konto sperren", 0.12),
    ],
)
def test_urgent_security_requests_go_to_a_person_at_once(new_dialogue, language, words, confidence):
    actions = consented(new_dialogue, language).handle(spoke(words, language, confidence=confidence))
    assert transfer_reason(actions) is HandoffReason.SENSITIVE_TOPIC
    assert prompt_text(Prompt.NOT_UNDERSTOOD, language) not in said(actions)
    assert of(actions, EndCall)[0].topic in ("fraud", "stolen_data")
    assert of(actions, StoreTurn)


def test_keys_nobody_asked_for_are_one_unclear_turn_not_one_per_key(new_dialogue):
    dialogue = consented(new_dialogue, "en", ENGLISH.phones[0])
    dialogue.handle(spoke("how can I pay", "en"))
    typed_ahead = press(dialogue, "1234")  # (a 0 among them would reach a person, as it does at any time)
    assert said(typed_ahead).count(prompt_text(Prompt.NOT_UNDERSTOOD, "en")) == 1, said(typed_ahead)
    assert not of(typed_ahead, EndCall)


def test_a_key_pressed_again_after_the_question_back_was_heard_is_a_second_unclear_turn(new_dialogue):
    dialogue = consented(new_dialogue, "en", ENGLISH.phones[0])
    first = dialogue.handle(DigitPressed("5", AT))
    assert said(first) == prompt_text(Prompt.NOT_UNDERSTOOD, "en")
    dialogue.handle(DigitPressed("5", AT))  # still while the question back plays: the same turn
    assert not of(dialogue.handle(DigitPressed("7", AT)), EndCall)
    for reply in of(first, Say):
        dialogue.handle(PromptFinished(reply.prompt_id, AT))
    assert transfer_reason(dialogue.handle(DigitPressed("5", AT))) is HandoffReason.UNCLEAR_TWICE
