"""The spoken answers to fee, merchant and unregistered-return questions, as text, in both languages."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from voice_app.accounts.directory import AccountSummary, FeeInfo, InstalmentInfo, InvoiceInfo, Money
from voice_app.accounts.fee_schedule import FeeKind
from voice_app.accounts.merchant_directory import merchant_directory
from voice_app.accounts.models import PaymentStatus
from voice_app.answers.fees import asks_about_own_fees, currency_for, general_fee_answer, own_fees_answer
from voice_app.answers.merchants import (
    choose_merchant,
    country_for,
    merchant_answer,
    named_merchant,
    order_meant,
    say_phone_number,
)
from voice_app.answers.returns import confirmation_question, invoice_to_pause, pause_offer, paused_answer
from voice_app.answers.terms_and_merchants import needs_account, terms_reply
from voice_app.understanding.training_data import load_banking77_mapping
from voice_app.understanding.vocabulary import Intent

TODAY = date(2026, 11, 30)
# About 20 seconds of speech at the configured 165 words a minute.
MAX_WORDS = 55


def invoice(number, merchant, cents, status, due_offset, *, currency="EUR", ordered=-10, instalments=()):
    return InvoiceInfo(
        invoice_id=str(number),
        merchant=merchant,
        order_date=TODAY + timedelta(days=ordered),
        amount=Money(cents, currency),
        due_date=TODAY + timedelta(days=due_offset),
        status=status,
        paid_date=TODAY if status is PaymentStatus.PAID else None,
        instalments=instalments,
    )


def summary(*invoices, fees=(), language="de"):
    return AccountSummary("7", "40217735", "Anna", "Becker", language, tuple(invoices), (), (), fees)


PLAN = (InstalmentInfo(1, 3, Money(1000, "EUR"), TODAY, PaymentStatus.OPEN, None),)


@pytest.mark.parametrize(
    "transcript, language, currency, expected",
    [
        ("what does a reminder cost", "en", "GBP", "A reminder costs one pound fifty; it is sent seven days after"),
        ("what does a reminder cost", "en", "EUR", "A reminder costs one euro ninety-five"),
        ("what happens if i pay late", "en", "GBP", "a late fee of five pounds is added, and after thirty days"),
        ("is there interest on instalments", "en", "EUR", "Paying in three instalments costs no interest and no fee."),
        ("whats the interest rate for financing", "en", "EUR", "nominal annual interest rate of nine point nine nine"),
        ("whats the interest rate for financing", "en", "GBP", "We don't offer financing in pounds"),
        ("what do i pay if my invoice is paused", "en", "GBP", "While an invoice is paused, there are no reminders"),
        ("when does it go to a debt collector", "en", "GBP", "thirty days after the due date, the claim goes to"),
        ("Was kostet eine Mahnung?", "de", "EUR", "Eine Mahnung kostet einen Euro fünfundneunzig; sie kommt sieben"),
        ("Was kostet eine Mahnung?", "de", "GBP", "Eine Mahnung kostet ein Pfund fünfzig"),
        ("Was kostet die Ratenzahlung?", "de", "EUR", "Die Zahlung in drei Raten kostet keine Zinsen"),
        ("Zinsen bei einer Finanzierung", "de", "EUR", "Sollzins von neun Komma neun neun Prozent im Jahr"),
        ("wann geht das ans inkasso", "de", "EUR", "geht die Forderung an ein Inkassobüro"),
        ("Was kostet es, wenn die Rechnung pausiert ist?", "de", "EUR", "keine Mahnungen und keine Gebühren"),
    ],
)
def test_general_fee_answers_give_the_figures_asked_about(transcript, language, currency, expected):
    answer = general_fee_answer(transcript, language, currency)
    assert expected in answer
    assert len(answer.split()) <= MAX_WORDS


def test_the_currency_is_the_accounts_then_the_numbers_then_the_languages():
    assert currency_for(None, "de") == "EUR" and currency_for(None, "en") == "GBP"
    assert currency_for("+4915123456789", "en") == "EUR" and currency_for("+447911123456", "de") == "GBP"
    assert currency_for("+447911123456", "de", summary(invoice(1, "Otto", 100, PaymentStatus.OPEN, 5))) == "EUR"
    assert currency_for("+15550001111", "en") == "GBP"


@pytest.mark.parametrize(
    "transcript, language, own",
    [
        ("why was I charged a late fee", "en", True),
        ("What's this fee?", "en", True),
        ("have i been charged any fees", "en", True),
        ("what happens if I pay late", "en", False),
        ("When is a reminder fee charged?", "en", False),
        ("Warum wurde mir eine Mahngebühr berechnet?", "de", True),
        ("Was ist das für eine Gebühr von fünf Euro?", "de", True),
        ("Was passiert, wenn ich nicht pünktlich zahle?", "de", False),
        ("Was kostet eine Mahnung?", "de", False),
    ],
)
def test_a_question_about_ones_own_fees_is_told_from_one_about_the_terms(transcript, language, own):
    assert asks_about_own_fees(transcript, language) is own


def test_own_fees_say_which_how_much_on_which_invoice_and_when():
    thomann = invoice(3, "Thomann", 24900, PaymentStatus.OVERDUE, -30, ordered=-60)
    fees = (
        FeeInfo(FeeKind.LATE_FEE, Money(500, "EUR"), "3", "Thomann", TODAY - timedelta(days=16), "2026-11"),
        FeeInfo(FeeKind.REMINDER_FEE, Money(195, "EUR"), "3", "Thomann", TODAY - timedelta(days=23), "2026-11"),
    )
    account = summary(thomann, fees=fees)
    assert own_fees_answer(account, "de", TODAY) == (
        "Auf Ihre Rechnung von Thomann wurde eine Mahngebühr von einem Euro fünfundneunzig am siebten November "
        "und eine Verzugsgebühr von fünf Euro am vierzehnten November berechnet."
    )
    assert own_fees_answer(account, "en", TODAY) == (
        "On your invoice from Thomann you were charged a reminder fee of one euro ninety-five on November seventh "
        "and a late fee of five euros on November fourteenth."
    )
    assert own_fees_answer(summary(thomann), "en", TODAY) == "You haven't been charged any fees."


def test_merchant_contacts_are_read_in_digit_groups_for_the_callers_country():
    hm = named_merchant("my order from H und M")
    assert hm is not None and hm.name == "H&M"
    assert (
        say_phone_number("+49 30 23125 101", "en") == "plus four nine, three zero, two three one two five, one zero one"
    )
    german = merchant_answer(hm, "de", "de")
    assert "plus vier neun, drei null, zwo drei eins zwo fünf, eins null acht" in german
    assert "hm.com" in german and "service@hm.com" in german and len(german.split()) <= MAX_WORDS
    english = merchant_answer(hm, "en", "gb")
    assert "handled by H&M directly" in english and "plus four four, two zero, seven nine four six, zero one zero six"
    assert country_for(None, "en") == "gb" and country_for("+4917612345678", "en") == "de"


def test_a_merchant_misheard_slightly_is_still_found_and_none_named_needs_the_account():
    salando = named_merchant("wann kommt mein paket von salando")
    assert salando is not None and salando.name == "Zalando"
    assert choose_merchant("where is my parcel", None).needs_verification
    account = summary(
        invoice(1, "Otto", 12000, PaymentStatus.OPEN, 5, ordered=-3),
        invoice(2, "Tchibo", 3995, PaymentStatus.OPEN, 10, ordered=-20),
    )
    choice = choose_merchant("where is my parcel", account)
    assert choice.contact is not None and choice.contact.name == "Otto" and not choice.needs_verification
    meant = order_meant("the one for thirty-nine ninety-five", account)
    assert meant is not None and meant.merchant == "Tchibo"


def test_the_invoice_to_pause_is_the_one_named_else_the_latest_unpaid_one_paid_at_once():
    account = summary(
        invoice(1, "Zalando", 8995, PaymentStatus.PAID, 24, ordered=-3),
        invoice(2, "Saturn", 12900, PaymentStatus.OPEN, 16, ordered=-14, instalments=PLAN),
        invoice(3, "Tchibo", 3995, PaymentStatus.OPEN, 10, ordered=-20),
        invoice(4, "Otto", 5000, PaymentStatus.OVERDUE, -3, ordered=-30),
    )
    latest = invoice_to_pause("I sent it back and it's not registered", account)
    assert latest is not None and latest.merchant == "Tchibo"
    named = invoice_to_pause("die Retoure an Otto ist nicht erfasst", account)
    assert named is not None and named.merchant == "Otto"
    assert invoice_to_pause("my Zalando return is not registered", account) is None  # paid: nothing to pause
    assert invoice_to_pause("my Saturn return", account) is None  # instalments: a person
    assert invoice_to_pause("sent it back", summary(invoice(1, "Zalando", 8995, PaymentStatus.PAID, 24))) is None


def test_the_pause_is_confirmed_first_then_said_with_the_date_and_what_follows():
    tchibo = invoice(3, "Tchibo", 3995, PaymentStatus.OPEN, 10)
    offer = pause_offer(tchibo, TODAY, 21)
    assert offer.until == date(2026, 12, 21)
    assert confirmation_question(offer, "de", TODAY) == (
        "Ich kann Ihre Rechnung von Tchibo über neununddreißig Euro fünfundneunzig für einundzwanzig Tage "
        "pausieren, bis zum einundzwanzigsten Dezember, dann gibt es so lange keine Mahnungen und keine Gebühren. "
        "Soll ich das tun?"
    )
    english = paused_answer("Tchibo", offer.until, "en", TODAY)
    assert english.startswith("Done: your invoice from Tchibo is paused until December twenty-first.")
    assert "the invoice is due on that day and reminders follow" in english
    assert "ist bis zum einundzwanzigsten Dezember pausiert" in paused_answer("Tchibo", offer.until, "de", TODAY)
    for text in (confirmation_question(offer, "en", TODAY), english, paused_answer("Tchibo", offer.until, "de", TODAY)):
        assert len(text.split()) <= MAX_WORDS, text
    with pytest.raises(ValueError):
        pause_offer(tchibo, TODAY, 0)


def test_the_dispatch_asks_for_the_account_only_where_it_is_needed():
    assert not needs_account(Intent.FEES, "what does a reminder cost", "en", None)
    assert needs_account(Intent.FEES, "why was I charged a fee", "en", None)
    assert not needs_account(Intent.MERCHANT_QUESTION, "the number of Argos please", "en", None)
    assert needs_account(Intent.RETURN_NOT_REGISTERED, "sent it back", "en", None)
    with pytest.raises(ValueError, match="needs the account summary"):
        terms_reply(Intent.RETURN_NOT_REGISTERED, "sent it back", "en", None, TODAY, caller_number=None, pause_days=21)
    with pytest.raises(ValueError, match="not a fee, merchant or return request"):
        needs_account(Intent.PAYMENT_STATUS, "is it paid", "en", None)
    unknown = summary(invoice(1, "Corner Shop", 500, PaymentStatus.OPEN, 5))
    reply = terms_reply(
        Intent.MERCHANT_QUESTION, "where is my parcel", "en", unknown, TODAY, caller_number=None, pause_days=21
    )
    assert reply.hand_over  # a merchant the directory does not know: a person


def test_every_merchant_answer_stays_short():
    for merchant in merchant_directory().merchants:
        for language, country in (("en", "gb"), ("de", "de")):
            assert len(merchant_answer(merchant, language, country).split()) <= MAX_WORDS, merchant.name


def test_banking77_fee_categories_are_a_banks_fees_not_ours():
    mapping = load_banking77_mapping()
    for category in (
        "card_payment_fee_charged",
        "cash_withdrawal_charge",
        "exchange_charge",
        "extra_charge_on_statement",
        "top_up_by_bank_transfer_charge",
        "top_up_by_card_charge",
        "transfer_fee_charged",
    ):
        assert mapping[category] is Intent.OUT_OF_SCOPE
    assert Intent.FEES not in mapping.values()


def test_an_invoice_already_paused_is_not_offered_again():
    paused = InvoiceInfo(
        "5",
        "Otto",
        TODAY,
        Money(5000, "EUR"),
        TODAY + timedelta(days=9),
        PaymentStatus.PAUSED,
        None,
        (),
        TODAY + timedelta(days=9),
    )
    reply = terms_reply(
        Intent.RETURN_NOT_REGISTERED, "sent it back", "de", summary(paused), TODAY, caller_number=None, pause_days=21
    )
    assert reply.pause is None and not reply.hand_over
    assert reply.text == "Ihre Rechnung von Otto ist schon bis zum neunten Dezember pausiert."
