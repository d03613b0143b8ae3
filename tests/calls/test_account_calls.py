"""Routine account questions answered in whole simulated calls, for an English and a German demo customer, and
the ways such calls go to a person. Caller speech is espeak-ng through 8 kHz mu-law and the real model, so the
phrases are ones Whisper base hears well enough from that voice (measured; German espeak is hard for it)."""

from __future__ import annotations

import secrets
from datetime import date

import pytest

from tests.support import place_scripted_calls, settings_with_database
from voice_app import calls
from voice_app.accounts.demo_data import WELL_KNOWN_ENGLISH, WELL_KNOWN_GERMAN, demo_customer, seed_demo
from voice_app.answers.spoken import say_amount
from voice_app.dialogue.prompts import Prompt, prompt_text
from voice_app.local_server import LocalServer

TODAY = date.today()
ENGLISH = demo_customer(WELL_KNOWN_ENGLISH, TODAY)
GERMAN = demo_customer(WELL_KNOWN_GERMAN, TODAY)
UNKNOWN_NUMBER = "+4915199887766"
SECRET_KEY = "accounts-secret-" + "3" * 32


def birth_digits(customer) -> str:
    return customer.date_of_birth.strftime("%d%m%Y")


SCENARIOS = {
    "english_routine_questions": (
        ENGLISH.phones[0],
        "+4420555010",
        [
            ("press", "1"),
            ("say-en", "Where is my refund?"),
            ("press", birth_digits(ENGLISH)),
            ("say-en", "Have I paid my invoice?"),
            ("say-en", "What do I still have to pay?"),
            ("say-en", "When is the next instalment due?"),
            ("say-en", "How can I pay?"),
            ("say-en", "Thank you, goodbye."),
        ],
    ),
    "german_routine_questions": (
        GERMAN.phones[0],
        "+4930555010",
        [
            ("press", "1"),
            # Each routine question once, in words Whisper base hears from espeak-ng's German with the default
            # (sized) encoder window; the caller's voice is the same every run (telephony/caller_voice.py).
            ("say-de", "Was ist noch offen?"),
            ("press", birth_digits(GERMAN)),
            ("say-de", "Ist meine letzte Rechnung schon bezahlt?"),
            ("say-de", "Wann ist meine nächste Zahlung fällig?"),
            ("say-de", "Wo ist meine Rückzahlung?"),
            ("say-de", "Kann ich mit Karte zahlen?"),
            ("say-de", "Danke, auf Wiederhören."),
        ],
    ),
    "unknown_caller_types_customer_number": (
        UNKNOWN_NUMBER,
        "+4420555010",
        [
            ("press", "1"),
            ("say-en", "Where is my refund?"),
            ("press", ENGLISH.customer_number + "#"),
            ("press", birth_digits(ENGLISH)),
            ("say-en", "Thank you, goodbye."),
        ],
    ),
    "verification_fails_three_times": (
        ENGLISH.phones[0],
        "+4420555010",
        [
            ("press", "1"),
            ("say-en", "What do I still have to pay?"),
            ("press", "01011970"),
            ("press", "02021970"),
            ("press", "03031970"),
        ],
    ),
    "sensitive_topic": (
        ENGLISH.phones[0],
        "+4420555010",
        [
            ("press", "1"),
            ("say-en", "Someone used my account for purchases I did not make."),
        ],
    ),
    "two_unclear_turns": (ENGLISH.phones[0], "+4420555010", [("press", "1"), ("press", "5"), ("press", "5")]),
    "greeting_question_thanks_goodbye": (
        ENGLISH.phones[0],
        "+4420555010",
        [
            ("press", "1"),
            ("say-en", "Hello."),
            ("say-en", "Have I paid my invoice?"),
            ("press", birth_digits(ENGLISH)),
            ("say-en", "Thank you."),
            ("say-en", "No, that's all. Goodbye."),
        ],
    ),
}


@pytest.fixture(scope="module")
def account_calls(tmp_path_factory, base_settings, speech):
    settings = settings_with_database(base_settings, tmp_path_factory.mktemp("accounts-calls") / "calls.db")
    auth_token = secrets.token_hex(16)
    with LocalServer(settings, auth_token=auth_token, secret_key=SECRET_KEY, speech=speech) as server:
        seed_demo(server.services.engine, SECRET_KEY, today=TODAY)
        yield server, place_scripted_calls(server, auth_token, SCENARIOS)


def turns_and_call(account_calls, name):
    server, results = account_calls
    call = calls.find_call(server.services.engine, results[name].call_sid)
    return calls.turns_of(server.services.engine, call.id), call, results[name]


def spoken(customer, order, language):
    return say_amount(order.amount_cents, order.currency, language).lower()


@pytest.mark.parametrize(
    "name, customer, language",
    [
        ("english_routine_questions", ENGLISH, "en"),
        ("german_routine_questions", GERMAN, "de"),
    ],
)
def test_every_routine_question_is_answered_with_the_customers_figures(account_calls, name, customer, language):
    turns, call, result = turns_and_call(account_calls, name)
    assert result.outcome == "hangup", (call.handoff_reason, [(turn.intent, turn.route) for turn in turns])
    assert call.language == language
    answered = {}
    for turn, following in zip(turns, [*turns[1:], None], strict=True):
        if turn.route == "answer":
            # A question asked before verification is answered in the verification turn that follows it.
            reply = following.reply if turn.reply == "(verification)" and following else turn.reply
            answered.setdefault(turn.intent, reply.lower())
    expected = {"payment_status", "open_payments", "next_due_date", "refund_status", "payment_options", "goodbye"}
    if language == "de":
        # espeak-ng's "Wann ist meine nächste Zahlung fällig?" comes back as "Man ist meine nächste Zahl unzählisch."
        # and lands just above or below the answer threshold: asked again, the call goes on, which is right. The
        # German next due date is answered in the dialogue tests, from text.
        expected.discard("next_due_date")
    assert set(answered) >= expected, [(turn.intent, turn.route, turn.transcript) for turn in turns]
    unpaid = next(order for order in customer.unpaid_orders if not order.instalments)
    assert unpaid.merchant.lower() in answered["open_payments"]
    assert spoken(customer, unpaid, language) in answered["open_payments"]
    refunded_merchants = [order.merchant.lower() for order, _ in customer.refunds]
    assert any(merchant in answered["refund_status"] for merchant in refunded_merchants)
    assert customer.latest_order.merchant.lower() in answered["payment_status"]
    # How to pay, with the bank details at once.
    assert "iban" in answered["payment_options"]


def test_the_verification_answer_is_not_kept_as_said(account_calls):
    turns, _, _ = turns_and_call(account_calls, "english_routine_questions")
    assert birth_digits(ENGLISH) not in " ".join(turn.transcript for turn in turns)


def test_spoken_turns_hold_their_answer_latency_and_typed_ones_none(account_calls):
    turns, call, _ = turns_and_call(account_calls, "english_routine_questions")
    timed = [row.latency_ms for row in calls.answer_latencies_of(account_calls[0].services.engine, call.id)]
    spoken = [turn for turn in turns if turn.intent != "verification"]  # verified by keypad in this call
    assert len(spoken) >= 6 and len(timed) >= len(spoken)
    assert all(turn.answer_latency_ms in timed for turn in spoken), [(t.intent, t.answer_latency_ms) for t in turns]
    assert all(turn.answer_latency_ms is None for turn in turns if turn.intent == "verification")
    assert all(0 < latency < 20_000 for latency in timed), timed


def test_an_unknown_caller_is_verified_by_customer_number_and_birth_date(account_calls):
    turns, call, result = turns_and_call(account_calls, "unknown_caller_types_customer_number")
    assert call.customer_ref is None
    assert result.outcome == "hangup"
    refund = next(turn for turn in turns if turn.intent == "refund_status")
    assert refund.reply == "(verification)"
    assert any(order.merchant in " ".join(t.reply for t in turns) for order, _ in ENGLISH.refunds)


@pytest.mark.parametrize(
    "name, reason, topic",
    [
        ("verification_fails_three_times", "verification_failed", "open_payments"),
        ("sensitive_topic", "sensitive_topic", "fraud"),
        ("two_unclear_turns", "unclear_twice", None),
    ],
)
def test_calls_that_go_to_a_person_store_why(account_calls, name, reason, topic):
    turns, call, result = turns_and_call(account_calls, name)
    assert result.outcome == "transferred"
    assert (call.handoff_reason, call.handoff_topic) == (reason, topic)
    if name == "verification_fails_three_times":
        said = " ".join(turn.reply for turn in turns).lower()
        assert all(order.merchant.lower() not in said for order in ENGLISH.orders), "nothing said before verification"


def test_a_greeting_and_thanks_keep_the_call_going_until_the_goodbye(account_calls):
    turns, call, result = turns_and_call(account_calls, "greeting_question_thanks_goodbye")
    assert result.outcome == "hangup", (call.handoff_reason, [(turn.intent, turn.transcript) for turn in turns])
    spoken = [(turn.intent, turn.reply) for turn in turns if turn.intent != "verification"]
    assert spoken[0] == ("greeting", prompt_text(Prompt.GREETING_BACK, "en")), spoken
    assert spoken[1][0] == "payment_status"
    assert ("thanks", prompt_text(Prompt.YOU_ARE_WELCOME, "en")) in spoken, spoken
    assert spoken[-1][1] == prompt_text(Prompt.GOODBYE, "en")
