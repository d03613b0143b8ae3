"""Who calls in the compliance tests, and with which keys."""

from __future__ import annotations

from datetime import date

from voice_app.accounts.demo_data import (
    WELL_KNOWN_ENGLISH,
    WELL_KNOWN_GERMAN,
    demo_customer,
)

SECRET_KEY = "compliance-secret-" + "5" * 32
PASSWORD = "correct horse battery staple"
TODAY = date.today()
ENGLISH = demo_customer(WELL_KNOWN_ENGLISH, TODAY)
GERMAN = demo_customer(WELL_KNOWN_GERMAN, TODAY)
ENGLISH_LINE = "+4420555010"
UNKNOWN_NUMBER = "+4915199887766"
VOICE_MESSAGE = "Please call me back about my last invoice."

# The English customer calls twice (a routine question, then straight to a person); the German one refuses;
# a caller without an account agrees, then withdraws.
CALLS = {
    "english_question": (
        ENGLISH.phones[0],
        ENGLISH_LINE,
        [
            ("say-en", "Yes, I agree."),
            ("say-en", "What do I still have to pay?"),
            ("press", ENGLISH.date_of_birth.strftime("%d%m%Y")),
            ("say-en", "Thank you, goodbye."),
        ],
    ),
    "english_to_a_person": (ENGLISH.phones[0], ENGLISH_LINE, [("press", "1"), ("press", "0")]),
    # Nobody answers the transfer, so the German caller leaves a voice message and ends it with #.
    "german_refuses": (
        GERMAN.phones[0],
        ENGLISH_LINE,
        [("press", "2"), ("press", "2"), ("say-en", VOICE_MESSAGE), ("hash", "#")],
    ),
    # The withdrawal is confirmed before it is recorded; the key, so that the confirmation cannot be misheard.
    "unknown_caller_withdraws": (
        UNKNOWN_NUMBER,
        ENGLISH_LINE,
        [("say-en", "Yes, I agree."), ("say-en", "I withdraw my consent."), ("press", "1")],
    ),
}
