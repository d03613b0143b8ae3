"""The conversation after consent, driven by text events: real classifier, real demo accounts on SQLite."""

import pytest

from consent.ledger import Decision
from tests.dialogue_support import ENGLISH, GERMAN, MANY, consented, keypad_date, press, said, spoke
from tests.support import AT, of
from voice_app.answers.spoken import say_amount
from voice_app.dialogue.messages import (
    EndCall,
    RecordConsent,
    SilenceElapsed,
    StoreTurn,
)
from voice_app.models import CallOutcome, HandoffReason


def test_a_known_caller_proves_their_birth_date_before_any_account_detail(new_dialogue):
    dialogue = consented(new_dialogue, "en", ENGLISH.phones[0])
    asked = dialogue.handle(spoke("Hi, where is my refund?"))
    assert "date of birth" in said(asked)
    assert not any(order.merchant in said(asked) for order, _ in ENGLISH.refunds)
    answered = press(dialogue, keypad_date(ENGLISH.date_of_birth))
    text = said(answered)
    assert text.startswith("Thank you.")
    assert any(order.merchant in text for order, _ in ENGLISH.refunds), text
    assert text.endswith("Is there anything else I can help you with?")


def test_an_unknown_caller_types_customer_number_then_birth_date(new_dialogue):
    dialogue = consented(new_dialogue, "de")
    asked = dialogue.handle(spoke("Ist meine Rechnung schon bezahlt?", "de"))
    assert "Kundennummer" in said(asked)
    assert "Geburtsdatum" in said(press(dialogue, GERMAN.customer_number + "#"))
    text = said(press(dialogue, keypad_date(GERMAN.date_of_birth)))
    assert text.startswith("Vielen Dank.")
    assert GERMAN.latest_order.merchant in text, text


def test_a_postcode_said_aloud_also_verifies(new_dialogue):
    dialogue = consented(new_dialogue, "en", ENGLISH.phones[0])
    dialogue.handle(spoke("what do I still have to pay"))
    actions = dialogue.handle(spoke(f"My postcode is {ENGLISH.postcode}."))
    assert said(actions).startswith("Thank you.")
    (turn,) = of(actions, StoreTurn)
    assert turn.transcript == "[verification details withheld]" and turn.reply == said(actions)


def test_three_failed_attempts_go_to_a_person_without_saying_what_was_wrong(new_dialogue):
    dialogue = consented(new_dialogue, "en")
    dialogue.handle(spoke("when is my next payment due"))
    replies = []
    for attempt in range(3):
        wrong_number = "99999999#" if attempt == 0 else ENGLISH.customer_number + "#"
        press(dialogue, wrong_number)
        replies.append(press(dialogue, "01011970"))
    assert said(replies[0]) == said(replies[1]), "an unknown number and a wrong birth date sound the same"
    assert of(replies[2], EndCall) == [
        EndCall(CallOutcome.TRANSFER, HandoffReason.VERIFICATION_FAILED, "next_due_date")
    ], "the agent learns what the caller wanted"
    assert "did not match" in said(replies[0])


def test_zero_is_a_digit_while_typing(new_dialogue):
    dialogue = consented(new_dialogue, "en", GERMAN.phones[0])
    dialogue.handle(spoke("is my last invoice paid"))
    actions = press(dialogue, "140")
    assert not of(actions, EndCall)


def test_payment_options_need_no_verification(new_dialogue):
    dialogue = consented(new_dialogue, "en")
    text = said(dialogue.handle(spoke("How can I pay my invoice?")))
    assert "transfer" in text.lower() and "IBAN" in text, text
    assert "date of birth" not in text


def test_a_long_list_is_summarised_first_and_the_rest_read_on_request(new_dialogue):
    dialogue = consented(new_dialogue, "de", MANY.phones[0])
    dialogue.handle(spoke("Was ist bei mir noch offen?", "de"))
    first = said(press(dialogue, keypad_date(MANY.date_of_birth)))
    assert "Sie haben fünf offene Zahlungen" in first and "die anderen vier" in first, first
    more = said(dialogue.handle(spoke("Ja, bitte.", "de")))
    assert more and more != first and "fünf offene" not in more


@pytest.mark.parametrize(
    "text, reason, topic",
    [
        ("There are purchases on my account I never made, I think it's fraud", HandoffReason.SENSITIVE_TOPIC, "fraud"),
        ("I lost my job and cannot pay my instalments", HandoffReason.SENSITIVE_TOPIC, "financial_hardship"),
        ("I want to make a complaint about your service", HandoffReason.SENSITIVE_TOPIC, "complaint"),
        ("Let me speak to a human being", HandoffReason.CALLER_ASKED, "human"),
    ],
)
def test_sensitive_topics_and_requests_for_a_person_go_to_a_person(new_dialogue, text, reason, topic):
    actions = consented(new_dialogue).handle(spoke(text))
    assert of(actions, EndCall) == [EndCall(CallOutcome.TRANSFER, reason, topic)]
    assert of(actions, StoreTurn)[0].route == "human"


def test_out_of_scope_is_never_answered(new_dialogue):
    dialogue = consented(new_dialogue)
    actions = dialogue.handle(spoke("Can you book me a flight to Madrid next week?"))
    if not of(actions, EndCall):
        actions = dialogue.handle(spoke("A flight to Madrid please."))
    (end,) = of(actions, EndCall)
    assert end.outcome is CallOutcome.TRANSFER
    assert end.reason in (HandoffReason.OUT_OF_SCOPE, HandoffReason.UNCLEAR_TWICE)


@pytest.mark.parametrize(
    "language, words",
    [
        ("en", "I withdraw my consent."),
        ("en", "Delete my data."),
        ("en", "I withdraw my consent, delete my data."),
        ("de", "Ich widerrufe meine Einwilligung."),
    ],
)
def test_withdrawing_consent_is_confirmed_then_recorded_and_nothing_of_it_kept(new_dialogue, language, words):
    dialogue = consented(new_dialogue, language)
    asked = dialogue.handle(spoke(words, language))
    assert not of(asked, RecordConsent) and not of(asked, StoreTurn) and not of(asked, EndCall)
    assert ("withdraw your consent?" if language == "en" else "Einwilligung widerrufen?") in said(asked)
    actions = dialogue.handle(spoke("Yes." if language == "en" else "Ja.", language))
    (record,) = of(actions, RecordConsent)
    assert record.decision is Decision.WITHDRAWN
    assert words in (record.recognised_answer or "")
    assert of(actions, EndCall)[0].reason is HandoffReason.CONSENT_WITHDRAWN
    assert not of(actions, StoreTurn)
    assert not dialogue.listening


def test_goodbye_and_no_to_anything_else_end_the_call(new_dialogue):
    assert of(consented(new_dialogue).handle(spoke("Thanks, goodbye!")), EndCall) == [EndCall(CallOutcome.HANGUP, None)]
    dialogue = consented(new_dialogue, "en", ENGLISH.phones[0])
    dialogue.handle(spoke("is my invoice paid"))
    press(dialogue, keypad_date(ENGLISH.date_of_birth))
    assert of(dialogue.handle(spoke("No, that's all.")), EndCall) == [EndCall(CallOutcome.HANGUP, None)]


def test_repeat_says_the_last_answer_again(new_dialogue):
    dialogue = consented(new_dialogue, "en", ENGLISH.phones[0])
    dialogue.handle(spoke("when is my next payment due"))
    answer = said(press(dialogue, keypad_date(ENGLISH.date_of_birth)))
    assert said(dialogue.handle(spoke("Sorry, could you repeat that?"))) == answer


def test_amounts_are_said_in_words(new_dialogue):
    dialogue = consented(new_dialogue, "de", GERMAN.phones[0])
    dialogue.handle(spoke("Was muss ich noch bezahlen?", "de"))
    text = said(press(dialogue, keypad_date(GERMAN.date_of_birth)))
    unpaid = next(order for order in GERMAN.unpaid_orders if not order.instalments)
    assert say_amount(unpaid.amount_cents, unpaid.currency, "de").lower() in text.lower(), text


def test_two_unclear_turns_and_two_silences_go_to_a_person(new_dialogue):
    dialogue = consented(new_dialogue)
    dialogue.handle(spoke("", confidence=0.0))
    assert of(dialogue.handle(spoke("mmh", confidence=0.05)), EndCall)[0].reason is HandoffReason.UNCLEAR_TWICE
    quiet = consented(new_dialogue)
    quiet.handle(SilenceElapsed(AT))
    assert of(quiet.handle(SilenceElapsed(AT)), EndCall)[0].reason is HandoffReason.SILENCE
