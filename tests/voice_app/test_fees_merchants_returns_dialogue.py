"""Fee, merchant and unregistered-return questions in the conversation, driven by text events: real classifier,
real demo accounts on SQLite. The pause itself is the executor's (tests/calls/test_fees_merchants_returns_calls.py);
here the dialogue asks for it only after a yes."""

from datetime import date, timedelta

from tests.support import of
from tests.voice_app.test_assistance import consented, keypad_date, press, said, spoke
from voice_app.accounts.demo_data import MANY_OPEN_ITEMS, WELL_KNOWN_ENGLISH, WELL_KNOWN_GERMAN, demo_customer
from voice_app.dialogue.messages import EndCall, PauseInvoice, StoreTurn
from voice_app.models import CallOutcome, HandoffReason

TODAY = date.today()
ENGLISH = demo_customer(WELL_KNOWN_ENGLISH, TODAY)
GERMAN = demo_customer(WELL_KNOWN_GERMAN, TODAY)
MANY = demo_customer(MANY_OPEN_ITEMS, TODAY)


def test_a_general_fee_question_is_answered_with_figures_without_verification(new_dialogue):
    english = consented(new_dialogue, "en")
    text = said(english.handle(spoke("how much is the late fee if I pay late")))
    assert "A reminder costs one pound fifty; it is sent seven days after the due date." in text
    assert "late fee of five pounds" in text and "thirty days" in text
    assert "date of birth" not in text and "customer number" not in text

    german = consented(new_dialogue, "de")
    text = said(german.handle(spoke("Was kostet eine Mahnung bei Ihnen?", "de")))
    assert "Eine Mahnung kostet einen Euro fünfundneunzig" in text
    assert said(german.handle(spoke("Gibt es Zinsen bei der Ratenzahlung?", "de"))).startswith(
        "Die Zahlung in drei Raten kostet keine Zinsen und keine Gebühr."
    )


def test_the_callers_own_fees_after_verification(new_dialogue):
    dialogue = consented(new_dialogue, "de", MANY.phones[0])
    asked = said(dialogue.handle(spoke("Warum wurde mir eine Mahngebühr berechnet?", "de")))
    assert "Geburtsdatum" in asked and "Thomann" not in asked
    text = said(press(dialogue, keypad_date(MANY.date_of_birth)))
    thomann = next(order for order in MANY.orders if order.merchant == "Thomann")
    assert thomann.fees
    assert "Auf Ihre Rechnung von Thomann wurde eine Mahngebühr von einem Euro fünfundneunzig" in text
    assert "und eine Verzugsgebühr von fünf Euro" in text


def test_a_merchant_question_gives_the_named_merchants_contact(new_dialogue):
    dialogue = consented(new_dialogue, "en")
    text = said(dialogue.handle(spoke("when will my order from ASOS be delivered")))
    assert "handled by ASOS directly" in text
    assert "plus four four, two zero, seven nine four six, zero one zero one" in text
    assert "asos.com" in text and "service@asos.com" in text

    german = consented(new_dialogue, "de")
    text = said(german.handle(spoke("Wann wird meine Bestellung von Zalando geliefert?", "de")))
    assert "klärt Zalando direkt" in text
    assert "plus vier neun, drei null, zwo drei eins zwo fünf, eins null eins" in text


def test_without_a_name_the_merchant_of_the_callers_latest_order_after_verification(new_dialogue):
    dialogue = consented(new_dialogue, "en", ENGLISH.phones[0])
    asked = said(dialogue.handle(spoke("how long is the warranty on the thing I bought")))
    assert "date of birth" in asked
    text = said(press(dialogue, keypad_date(ENGLISH.date_of_birth)))
    assert f"handled by {ENGLISH.latest_order.merchant} directly" in text, text


def test_a_dispute_still_goes_to_a_person(new_dialogue):
    dialogue = consented(new_dialogue, "en")
    actions = dialogue.handle(spoke("the shop charged me twice for the same order and won't refund me"))
    ended = of(actions, EndCall)
    assert ended and ended[0].outcome is CallOutcome.TRANSFER
    assert ended[0].reason is HandoffReason.SENSITIVE_TOPIC


def test_an_unregistered_return_is_paused_only_after_a_yes(new_dialogue):
    dialogue = consented(new_dialogue, "en", ENGLISH.phones[0])
    asked = said(dialogue.handle(spoke("I sent the Argos order back but they haven't registered the return yet")))
    assert "date of birth" in asked
    question = said(press(dialogue, keypad_date(ENGLISH.date_of_birth)))
    until = TODAY + timedelta(days=21)
    assert "pause your invoice from Argos for forty-nine pounds ninety for twenty-one days" in question, question
    assert question.endswith("Shall I do that?")

    confirmed = dialogue.handle(spoke("yes please"))
    pauses = of(confirmed, PauseInvoice)
    argos = next(order for order in ENGLISH.orders if order.merchant == "Argos")
    assert len(pauses) == 1 and pauses[0].until == until
    assert confirmed.index(pauses[0]) < confirmed.index(of(confirmed, StoreTurn)[0])
    text = said(confirmed)
    assert text.startswith("Done: your invoice from Argos is paused until")
    assert "If Argos hasn't confirmed your return by then, the invoice is due on that day" in text
    assert argos.status.value == "open"


def test_a_no_keeps_the_invoice_and_german_works_the_same(new_dialogue):
    dialogue = consented(new_dialogue, "de", GERMAN.phones[0])
    dialogue.handle(spoke("Ich habe die Sachen zurückgeschickt, aber der Händler hat die Retoure nicht erfasst.", "de"))
    question = said(press(dialogue, keypad_date(GERMAN.date_of_birth)))
    assert "Rechnung von MediaMarkt über neunundvierzig Euro neunzig für einundzwanzig Tage pausieren" in question
    kept = dialogue.handle(spoke("nein danke", "de"))
    assert not of(kept, PauseInvoice)
    assert said(kept).startswith("In Ordnung, ich habe Ihre Rechnung nicht geändert.")


def test_a_return_with_nothing_to_pause_goes_to_a_person(new_dialogue):
    dialogue = consented(new_dialogue, "en", ENGLISH.phones[0])
    dialogue.handle(spoke("I sent the Boohoo parcel back and the return isn't registered, the invoice is due"))
    actions = press(dialogue, keypad_date(ENGLISH.date_of_birth))
    ended = of(actions, EndCall)
    assert ended and ended[0].outcome is CallOutcome.TRANSFER and ended[0].topic == "return_not_registered"
