"""Spoken answers to account questions, for the demo customers on a real SQLite file and for hand-made edge cases."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from tests.support import TEST_SECRETS
from voice_app.accounts.demo_data import (
    MANY_OPEN_ITEMS,
    WELL_KNOWN_ENGLISH,
    WELL_KNOWN_GERMAN,
    demo_customer,
    demo_customers,
    seed_demo,
)
from voice_app.accounts.directory import (
    AccountSummary,
    InstalmentInfo,
    InvoiceInfo,
    Money,
    SqlAccountDirectory,
)
from voice_app.accounts.models import PaymentStatus
from voice_app.answers.account_answers import (
    DEMO_PAYMENT_INSTRUCTIONS,
    MAX_REPLY_WORDS,
    answer,
    requires_verification,
)
from voice_app.answers.caller_criteria import criteria_from_transcript
from voice_app.answers.spoken import say_amount, say_characters, say_date, say_number
from voice_app.database import make_engine
from voice_app.dialogue.prompts import Prompt, prompt_text
from voice_app.understanding.text import MAX_TRANSCRIPT_CHARS
from voice_app.understanding.vocabulary import ACCOUNT_INTENTS, MONTH_NAMES, Intent

SECRET_KEY = TEST_SECRETS["VOICE_APP_SECRET_KEY"]
TODAY = date(2025, 3, 10)


@pytest.fixture(scope="module")
def summaries(module_database_url):
    engine = make_engine(module_database_url)
    seed_demo(engine, SECRET_KEY, today=TODAY)
    directory = SqlAccountDirectory(engine, SECRET_KEY)
    found = {}
    for customer in demo_customers(TODAY):
        found[customer.customer_number] = directory.summary(
            directory.find_by_customer_number(customer.customer_number).customer_id
        )
    yield found
    engine.dispose()


def _said(cents: int, currency: str, language: str) -> str:
    return say_amount(cents, currency, language)


def _on(day: date, language: str) -> str:
    return say_date(day, language, today=TODAY)


def _order(customer_number: str, merchant: str):
    return next(order for order in demo_customer(customer_number, TODAY).orders if order.merchant == merchant)


# --- the well-known customers, each intent ------------------------------------------------------------------------


@pytest.mark.parametrize("language, paid_word", [("de", "bezahlt"), ("en", "paid")])
def test_payment_status_is_about_the_latest_invoice(summaries, language, paid_word):
    facts = demo_customer(WELL_KNOWN_GERMAN, TODAY)
    latest = facts.latest_order
    reply = answer("payment_status", summaries[WELL_KNOWN_GERMAN], "Ist meine Rechnung bezahlt?", language, TODAY)
    assert (reply.items_total, reply.items_said, reply.needs_verification) == (1, 1, True)
    assert latest.merchant in reply.text and paid_word in reply.text
    assert _said(latest.amount_cents, "EUR", language) in reply.text
    assert _on(latest.paid_date, language) in reply.text
    assert _said(4990, "EUR", language) not in reply.text


def test_open_payments_of_the_german_customer(summaries):
    due = _order(WELL_KNOWN_GERMAN, "MediaMarkt").due_date
    reply = answer("open_payments", summaries[WELL_KNOWN_GERMAN], "Was ist noch offen?", "de", TODAY)
    assert (reply.items_total, reply.items_said) == (1, 1)
    assert reply.text == (
        f"Sie haben eine offene Zahlung. Neunundvierzig Euro neunzig für MediaMarkt, fällig {_on(due, 'de')}."
    )
    assert _on(due, "de") == "am vierundzwanzigsten März"


def test_open_payments_of_the_english_customer_include_the_instalment_plan(summaries):
    currys = _order(WELL_KNOWN_ENGLISH, "Currys")
    next_part = currys.instalments[2]
    outstanding = sum(part.amount_cents for part in currys.instalments if part.paid_date is None)
    first, second = _all_parts("open_payments", summaries[WELL_KNOWN_ENGLISH], "en")
    # Both at once would be over twenty seconds of speech: the earlier due date first, then the offer.
    assert (first.items_total, first.items_said, second.items_said) == (2, 1, 1)
    assert first.text.startswith(f"You have two open payments, {_said(4990 + outstanding, 'GBP', 'en')} in total.")
    assert "forty-nine pounds ninety for argos" in first.text.lower()
    assert first.text.endswith("Shall I read out the other one?")
    assert f"{_said(outstanding, 'GBP', 'en')} for currys in instalments" in second.text.lower()
    next_amount, next_due = _said(next_part.amount_cents, "GBP", "en"), _on(next_part.due_date, "en")
    assert f"the next one, {next_amount}, is due {next_due}" in second.text


@pytest.mark.parametrize("language", ["de", "en"])
def test_next_due_date(summaries, language):
    argos = _order(WELL_KNOWN_ENGLISH, "Argos")
    next_part = _order(WELL_KNOWN_ENGLISH, "Currys").instalments[2]
    reply = answer("next_due_date", summaries[WELL_KNOWN_ENGLISH], "", language, TODAY)
    assert (reply.items_total, reply.items_said) == (2, 2)
    first, second = reply.text.index(_on(argos.due_date, language)), reply.text.index(_on(next_part.due_date, language))
    assert first < second
    assert _said(argos.amount_cents, "GBP", language) in reply.text
    three_of_four = {"en": "instalment three of four", "de": "Rate drei von vier"}[language]
    assert three_of_four in reply.text


def test_next_due_date_of_the_german_customer(summaries):
    reply = answer("next_due_date", summaries[WELL_KNOWN_GERMAN], "Wann muss ich zahlen?", "de", TODAY)
    due = _order(WELL_KNOWN_GERMAN, "MediaMarkt").due_date
    assert reply.text == (f"Ihre nächste Zahlung: neunundvierzig Euro neunzig für MediaMarkt, fällig {_on(due, 'de')}.")


def test_refund_status_registered_but_not_yet_received(summaries):
    hm = _order(WELL_KNOWN_GERMAN, "H&M")
    reply = answer("refund_status", summaries[WELL_KNOWN_GERMAN], "Wo bleibt meine Erstattung?", "de", TODAY)
    assert (reply.items_total, reply.items_said) == (1, 1)
    assert "H&M" in reply.text and _said(hm.refund.amount_cents, "EUR", "de") in reply.text
    assert f"{_on(hm.refund.registered_date, 'de')} angemeldet" in reply.text
    assert "noch nicht bestätigt" in reply.text


def test_refund_status_lists_the_newest_return_first(summaries):
    jd, boohoo = _order(WELL_KNOWN_ENGLISH, "JD Sports"), _order(WELL_KNOWN_ENGLISH, "Boohoo")
    reply = answer("refund_status", summaries[WELL_KNOWN_ENGLISH], "where is my refund", "en", TODAY)
    assert (reply.items_total, reply.items_said) == (2, 2)
    assert reply.text.index("JD Sports") < reply.text.index("Boohoo")
    assert "hasn't confirmed receiving it yet" in reply.text
    refunded = _said(boohoo.refund.amount_cents, "GBP", "en")
    assert f"we refunded {refunded} {_on(boohoo.refund.refunded_date, 'en')}" in reply.text
    assert _on(jd.refund.registered_date, "en") in reply.text


def test_refund_received_by_the_merchant(summaries):
    bonprix = _order(MANY_OPEN_ITEMS, "bonprix")
    reply = answer("refund_status", summaries[MANY_OPEN_ITEMS], "bonprix Rücksendung", "de", TODAY)
    assert reply.items_total == 1
    assert f"Bonprix hat Ihre Rücksendung {_on(bonprix.refund.received_date, 'de')} erhalten" in reply.text


@pytest.mark.parametrize("language, transfer", [("de", "Überweisung"), ("en", "transfer")])
def test_payment_options_need_no_account_and_give_the_bank_details_at_once(language, summaries, transfer):
    general = answer("payment_options", None, "how can I pay", language, TODAY)
    assert (general.items_total, general.items_said, general.needs_verification) == (1, 1, False)
    iban = say_characters(DEMO_PAYMENT_INSTRUCTIONS.iban, language)
    assert transfer in general.text and iban in general.text
    assert DEMO_PAYMENT_INSTRUCTIONS.account_holder in general.text
    assert answer("payment_options", None, "what is your IBAN", language, TODAY) == general
    with_summary = answer("payment_options", summaries[WELL_KNOWN_GERMAN], "how can I pay", language, TODAY)
    assert with_summary == general  # the summary adds nothing: the answer is the same for everyone
    more = answer("payment_options", None, "how can I pay", language, TODAY, skip_items=1)
    assert more.items_said == 0 and iban not in more.text


def test_verification_is_required_exactly_for_account_intents(summaries):
    for intent in Intent:
        assert requires_verification(intent) is (intent in ACCOUNT_INTENTS)
        if intent in ACCOUNT_INTENTS:
            assert answer(intent, summaries[WELL_KNOWN_GERMAN], "", "en", TODAY).needs_verification


# --- choosing what the caller meant --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "transcript",
    [
        "Ist die Rechnung von Media Markt bezahlt?",
        "what about mediamarket",
        "das von media markt bitte",
        "the one for forty nine ninety",
        "neunundvierzig neunzig",
        "die über 49,90 €",
        "49.90",
        "neunundvierzig Komma neunzig",
        "the fifty euro invoice",
    ],
)
def test_the_invoice_the_caller_names_comes_first(summaries, transcript):
    due = _order(WELL_KNOWN_GERMAN, "MediaMarkt").due_date
    reply = answer("payment_status", summaries[WELL_KNOWN_GERMAN], transcript, "de", TODAY)
    assert reply.items_total == 1
    assert reply.text == (
        f"Ihre Rechnung von MediaMarkt über neunundvierzig Euro neunzig ist offen und {_on(due, 'de')} fällig."
    )


@pytest.mark.parametrize(
    "transcript, merchant",
    [("is the Salando one paid", "Zalando"), ("H und M", "H&M"), ("the H&M order", "H&M"), ("OTTO", "Otto")],
)
def test_merchants_are_recognised_despite_transcription_slips(summaries, transcript, merchant):
    reply = answer("payment_status", summaries[WELL_KNOWN_GERMAN], transcript, "en", TODAY)
    assert reply.items_total == 1 and merchant in reply.text


def test_the_invoice_of_a_named_month(summaries):
    customer = demo_customer(WELL_KNOWN_GERMAN, TODAY)
    otto = _order(WELL_KNOWN_GERMAN, "Otto")
    others = [order for order in customer.orders if order.merchant != otto.merchant]
    month = otto.order_date.month
    assert all(month not in (order.order_date.month, order.due_date.month) for order in others)  # a usable fixture
    for language, sentence in (("en", "the invoice from {}"), ("de", "die Rechnung vom {}")):
        reply = answer(
            "payment_status",
            summaries[WELL_KNOWN_GERMAN],
            sentence.format(MONTH_NAMES[language][month - 1]),
            language,
            TODAY,
        )
        assert reply.items_total == 1 and "Otto" in reply.text


def test_a_named_item_that_does_not_exist_is_said_so_before_the_default(summaries):
    default = answer("payment_status", summaries[WELL_KNOWN_GERMAN], "", "en", TODAY)
    reply = answer("payment_status", summaries[WELL_KNOWN_GERMAN], "the one for 12.34 from Currys", "en", TODAY)
    assert reply.text == f"I couldn't find an invoice matching that. {default.text}"
    german = answer("refund_status", summaries[WELL_KNOWN_GERMAN], "die Rücksendung an Zalando", "de", TODAY)
    assert german.text.startswith("Dazu habe ich keine passende Rücksendung gefunden.") and "H&M" in german.text


# --- short replies: a summary first, then the rest in parts ------------------------------------------------------


def _all_parts(intent, summary, language):
    parts, skip = [], 0
    while True:
        reply = answer(intent, summary, "", language, TODAY, skip_items=skip)
        parts.append(reply)
        if not reply.items_said or skip + reply.items_said >= reply.items_total:
            return parts
        skip += reply.items_said


@pytest.mark.parametrize(
    "language, offer", [("en", "Shall I read out the other four?"), ("de", "Soll ich Ihnen die anderen vier auch")]
)
def test_a_long_list_starts_with_a_summary_then_reads_the_rest_in_parts(summaries, language, offer):
    summary = summaries[MANY_OPEN_ITEMS]
    unpaid = summary.unpaid_invoices
    first, *rest = _all_parts("open_payments", summary, language)
    assert (first.items_total, first.items_said) == (len(unpaid), 1) == (5, 1)
    assert offer in first.text
    total = sum(invoice.outstanding.cents for invoice in unpaid)
    assert _said(total, "EUR", language) in first.text
    assert "Thomann" in first.text  # the overdue one is the one named in the summary
    assert sum(part.items_said for part in rest) == 4
    assert {invoice.merchant for invoice in unpaid if any(invoice.merchant in part.text for part in rest)} == (
        {invoice.merchant for invoice in unpaid} - {"Thomann"}
    )
    assert not any(_said(total, "EUR", language) in part.text for part in rest)
    done = answer("open_payments", summary, "", language, TODAY, skip_items=5)
    assert (done.items_total, done.items_said) == (5, 0)
    assert done.text in ("That's everything I have.", "Das war alles.")


def test_no_reply_is_longer_than_about_twenty_seconds_of_speech(summaries):
    """Over every demo customer, language, question and part: the answer with the question the dialogue adds
    after it ("Is there anything else…?") stays within MAX_REPLY_WORDS (55 words, about 20 s at 165 words a
    minute)."""
    longest = (0, "")
    for number, summary in summaries.items():
        for language in ("en", "de"):
            frame = prompt_text(Prompt.ANYTHING_ELSE, language)
            for intent in ("payment_status", "open_payments", "next_due_date", "refund_status", "payment_options"):
                parts = _all_parts(intent, summary, language)
                for part in parts:
                    # The question comes after the last part only; the others end with an offer of their own.
                    words = len(f"{part.text} {frame}".split() if part is parts[-1] else part.text.split())
                    longest = max(longest, (words, f"{number} {language} {intent}: {part.text}"))
    assert 30 < longest[0] <= MAX_REPLY_WORDS, longest


@pytest.mark.parametrize(
    "language, words", [("en", "isn't assigned to an invoice yet"), ("de", "noch keiner Rechnung zugeordnet")]
)
def test_an_unassigned_payment_is_mentioned_once_when_unpaid_items_are_read_out(summaries, language, words):
    facts = demo_customer(MANY_OPEN_ITEMS, TODAY)
    (payment,) = facts.unmatched_payments
    reply = answer("payment_status", summaries[MANY_OPEN_ITEMS], "", language, TODAY)
    assert words in reply.text
    assert _said(payment.amount_cents, payment.currency, language) in reply.text
    assert _on(payment.received_date, language) in reply.text
    listing = _all_parts("open_payments", summaries[MANY_OPEN_ITEMS], language)
    assert sum(words in part.text for part in listing) == 1
    for part in listing[:-1]:  # and the offer of the other items still comes last:
        assert part.text.endswith(("?", "vorlesen?"))
    assert words not in answer("refund_status", summaries[MANY_OPEN_ITEMS], "", language, TODAY).text
    assert words not in answer("open_payments", summaries[WELL_KNOWN_GERMAN], "", language, TODAY).text


def test_one_remaining_item_is_offered_as_the_other_one(summaries):
    parts = _all_parts(
        "next_due_date",
        summaries[MANY_OPEN_ITEMS],
        "en",
    )
    assert parts[0].items_total == 4  # the paused invoice has no due date
    assert parts[0].text.startswith("The payment of two hundred and forty-nine euros for Thomann is overdue")
    offers = [part.text for part in parts if part.text.endswith("?")]
    assert offers and all(text.endswith(("the other one?", "the other two?", "the other three?")) for text in offers)


def test_a_filter_that_matches_several_items_reads_them_all(summaries):
    summary = summaries[MANY_OPEN_ITEMS]
    march = [invoice for invoice in summary.unpaid_invoices if 3 in (invoice.order_date.month, invoice.due_date.month)]
    reply = answer("open_payments", summary, "what is due in March", "en", TODAY)
    assert reply.items_total == len(march) and reply.items_said == min(3, len(march))
    assert not reply.text.startswith("You have")  # the totals are for the whole account, not for the choice


# --- bad input ------------------------------------------------------------------------------------------------------


def test_unknown_intents_are_refused(summaries):
    for intent in ("refund", "", "PAYMENT_STATUS", None):
        with pytest.raises(ValueError):
            answer(intent, summaries[WELL_KNOWN_GERMAN], "", "en", TODAY)
        with pytest.raises(ValueError):
            requires_verification(intent)


@pytest.mark.parametrize("intent", sorted(ACCOUNT_INTENTS))
def test_account_intents_say_nothing_without_a_summary(intent):
    with pytest.raises(ValueError):
        answer(intent, None, "is my invoice paid", "en", TODAY)
    with pytest.raises(ValueError):
        answer(intent, {"invoices": []}, "is my invoice paid", "en", TODAY)


def test_other_bad_arguments_are_refused(summaries):
    summary = summaries[WELL_KNOWN_GERMAN]
    for kwargs in (
        {"language": "fr"},
        {"today": datetime(2025, 3, 10, 9)},
        {"today": "2025-03-10"},
        {"transcript": None},
        {"transcript": b"bytes"},
    ):
        arguments = {
            "intent": "open_payments",
            "summary": summary,
            "transcript": "",
            "language": "en",
            "today": TODAY,
        } | kwargs
        with pytest.raises(ValueError):
            answer(**arguments)
    for skip in (-1, 1.5, True):
        with pytest.raises(ValueError):
            answer("open_payments", summary, "", "en", TODAY, skip_items=skip)


@pytest.mark.parametrize(
    "transcript",
    [
        "",
        "   ",
        "???",
        "🙂🙂🙂",
        "ähm… also… ja",
        "1.2.3.4.5",
        "€€€ £££",
        "\x00\n\t",
        "und und und hundert tausend",
        "point comma komma",
        "May may MAY",
    ],
)
def test_weird_transcripts_get_the_default_answer(summaries, transcript):
    assert not criteria_from_transcript(transcript, summaries[WELL_KNOWN_ENGLISH].merchants).given
    for intent in sorted(ACCOUNT_INTENTS):
        default = answer(intent, summaries[WELL_KNOWN_ENGLISH], "", "en", TODAY)
        assert answer(intent, summaries[WELL_KNOWN_ENGLISH], transcript, "en", TODAY) == default


def test_only_the_start_of_a_very_long_transcript_is_read(summaries):
    padding = "blah " * (MAX_TRANSCRIPT_CHARS // 5)
    summary = summaries[WELL_KNOWN_GERMAN]
    assert "MediaMarkt" in answer("payment_status", summary, "MediaMarkt " + padding, "en", TODAY).text
    assert "MediaMarkt" not in answer("payment_status", summary, padding + "MediaMarkt", "en", TODAY).text


# --- hand-made summaries for cases the demo set does not have -----------------------------------------------------


def _summary(*invoices: InvoiceInfo) -> AccountSummary:
    return AccountSummary("1", "12345678", "Test", "Person", "en", invoices, (), ())


def _invoice(
    merchant: str,
    cents: int,
    currency: str,
    status: PaymentStatus,
    due: date,
    instalments: tuple[InstalmentInfo, ...] = (),
) -> InvoiceInfo:
    paid = due if status is PaymentStatus.PAID else None
    ordered = due - timedelta(days=30)
    return InvoiceInfo(f"invoice-{merchant}", merchant, ordered, Money(cents, currency), due, status, paid, instalments)


def test_an_empty_account():
    empty = _summary()
    for intent, english, german in (
        ("payment_status", "I can't see any invoices on your account.", "Ich sehe auf Ihrem Konto keine Rechnungen."),
        (
            "open_payments",
            "You have no open payments: everything is paid.",
            "Sie haben keine offenen Zahlungen, alles ist bezahlt.",
        ),
        ("next_due_date", "You have no payments coming up.", "Bei Ihnen steht zurzeit keine Zahlung an."),
        ("refund_status", "I can't see any returns on your account.", "Ich sehe auf Ihrem Konto keine Rücksendungen."),
    ):
        assert answer(intent, empty, "", "en", TODAY).text == english
        assert answer(intent, empty, "", "de", TODAY).text == german
        assert answer(intent, empty, "", "de", TODAY).items_total == 0


def test_totals_are_left_out_when_currencies_differ():
    summary = _summary(
        _invoice("Shop A", 1000, "EUR", PaymentStatus.OPEN, TODAY + timedelta(days=5)),
        _invoice("Shop B", 2000, "GBP", PaymentStatus.OPEN, TODAY + timedelta(days=9)),
    )
    reply = answer("open_payments", summary, "", "en", TODAY)
    assert reply.text.startswith("You have two open payments. Ten euros for Shop A, due on March fifteenth.")
    assert "Twenty pounds for Shop B, due on March nineteenth." in reply.text


def test_an_instalment_plan_with_an_overdue_instalment():
    parts = tuple(
        InstalmentInfo(
            number,
            4,
            Money(2500, "EUR"),
            TODAY + timedelta(days=30 * (number - 2) - 3),
            status,
            TODAY - timedelta(days=33) if status is PaymentStatus.PAID else None,
        )
        for number, status in (
            (1, PaymentStatus.PAID),
            (2, PaymentStatus.OVERDUE),
            (3, PaymentStatus.OPEN),
            (4, PaymentStatus.OPEN),
        )
    )
    plan = _invoice("Shop", 10000, "EUR", PaymentStatus.OVERDUE, parts[-1].due_date, parts)
    summary = _summary(plan)
    status = answer("payment_status", summary, "", "en", TODAY)
    assert status.text == (
        f"Your latest invoice, from Shop for one hundred euros, is being paid in four instalments: one is paid, "
        f"and the next one, twenty-five euros, is overdue: it was due {_on(parts[1].due_date, 'en')}."
    )
    german = answer("payment_status", summary, "", "de", TODAY)
    assert "in vier Raten bezahlt: eine ist bezahlt, die nächste Rate über fünfundzwanzig Euro ist überfällig" in (
        german.text
    )
    due = answer("next_due_date", summary, "", "en", TODAY)
    assert (due.items_total, due.items_said) == (2, 2)
    assert due.text.startswith("The payment of twenty-five euros for Shop, instalment two of four, is overdue")
    third_due = _on(parts[2].due_date, "en")
    assert f"Your next payment is twenty-five euros for Shop, instalment three of four, due {third_due}." in due.text
    open_payments = answer("open_payments", summary, "", "en", TODAY).text.lower()
    assert f"{say_number(75, 'en')} euros for shop in instalments" in open_payments  # three instalments of 25


def test_relative_days_are_used_near_today():
    summary = _summary(_invoice("Shop", 1990, "EUR", PaymentStatus.OPEN, TODAY + timedelta(days=1)))
    assert answer("payment_status", summary, "", "en", TODAY).text.endswith("is open and due tomorrow.")
    assert answer("payment_status", summary, "", "de", TODAY).text.endswith("ist offen und morgen fällig.")
