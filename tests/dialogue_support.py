"""Helpers for the dialogue tests driven by text events: the demo callers, their consent, their words and keys."""

from datetime import date

from tests.support import AT, of
from voice_app.accounts.demo_data import MANY_OPEN_ITEMS, WELL_KNOWN_ENGLISH, WELL_KNOWN_GERMAN, demo_customer
from voice_app.dialogue.messages import CallerSpoke, CallStarted, DigitPressed, PromptFinished, Say

ENGLISH = demo_customer(WELL_KNOWN_ENGLISH, date.today())
GERMAN = demo_customer(WELL_KNOWN_GERMAN, date.today())
MANY = demo_customer(MANY_OPEN_ITEMS, date.today())


def spoke(text, language="en", confidence=0.6):
    return CallerSpoke(text, language, 0.99, confidence, AT)


def said(actions) -> str:
    return " ".join(say.text for say in of(actions, Say))


def press(dialogue, digits):
    actions = []
    for digit in digits:
        actions += dialogue.handle(DigitPressed(digit, AT))
    return actions


def keypad_date(born: date) -> str:
    return born.strftime("%d%m%Y")


def consented(new_dialogue, language="en", caller_phone=None):
    dialogue = new_dialogue(language, caller_phone)
    for say in of(dialogue.handle(CallStarted(AT)), Say):
        dialogue.handle(PromptFinished(say.prompt_id, AT))
    dialogue.handle(DigitPressed("1", AT))
    assert dialogue.consent_granted
    return dialogue
