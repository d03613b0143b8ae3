"""What fees and terms cost, with the figures from the fee schedule, and which fees a verified caller was charged.

The general answer needs no verification and is chosen by what the caller asked about (instalments, financing,
a paused invoice, collection, or else reminders and late fees), so that it stays one or two sentences. A
question about the caller's own charges ("why was I charged a fee?") is answered from their account only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from voice_app.accounts.directory import AccountSummary, FeeInfo
from voice_app.accounts.fee_schedule import CurrencyTerms, FeeSchedule, fee_schedule
from voice_app.answers.spoken import say_amount, say_date, say_number
from voice_app.config import SUPPORTED_LANGUAGES
from voice_app.understanding.text import fold_for_matching

# The currency of the country a phone number belongs to, and of each hotline language when nothing else is known.
CURRENCY_BY_COUNTRY_CODE = {"+49": "EUR", "+44": "GBP"}
CURRENCY_BY_LANGUAGE = {"de": "EUR", "en": "GBP"}

_TOPIC_WORDS: dict[str, tuple[str, ...]] = {
    "instalments": ("raten", "ratenzahlung", "instalment", "instalments", "installment", "installments", "in three"),
    "financing": ("finanzierung", "finanzieren", "financing", "finance", "zins", "zinsen", "zinssatz", "interest"),
    "pause": ("pause", "paused", "pausing", "pausiert", "pausieren", "on hold", "angehalten"),
    "collection": ("inkasso", "inkassoburo", "collection", "collections", "collector", "debt"),
}
# First person and a word about being charged: "why was I charged", "welche Gebühren habe ich bezahlt".
_FIRST_PERSON = {
    "en": {"i", "me", "my", "ive", "im"},
    "de": {"ich", "mir", "mich", "mein", "meine", "meinem", "meiner", "meinen", "hab"},
}
_OWN_CHARGE_WORDS = {
    "en": ("charged", "charging", "have i", "on my", "my account", "my invoice", "paid in fees", "can see"),
    "de": ("berechnet", "bezahlt", "gezahlt", "auf meinem", "auf meiner", "mein konto", "sehe", "steht da"),
}
_THIS_FEE = {
    "en": ("this fee", "this charge", "that fee", "that charge", "whats this"),
    "de": ("diese gebuhr", "die gebuhr auf", "was ist das fur", "was sind das fur", "wofur"),
}

_PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "reminders": "A reminder costs {reminder}; it is sent {reminder_days} days after the due date. After "
        "{late_days} days a late fee of {late} is added, and after {collection_days} days the claim goes to a "
        "collection agency.",
        "collection": "If an invoice is still unpaid {collection_days} days after the due date, the claim goes to "
        "a collection agency, and a colleague handles it from then on. Before that come a reminder for {reminder} "
        "after {reminder_days} days and a late fee of {late} after {late_days} days.",
        "instalments": "Paying in {count} instalments costs no interest and no fee.",
        "instalments_fee": "Paying in {count} instalments costs a fee of {fee} and {interest} percent interest.",
        "financing": "Financing has a nominal annual interest rate of {rate} percent.",
        "no_financing": "We don't offer financing in {currency_name}; paying in {count} instalments costs no "
        "interest and no fee.",
        "pause": "While an invoice is paused, there are no reminders and no fees; the due date moves to the end of "
        "the pause.",
        "own_none": "You haven't been charged any fees.",
        "own_invoice": "On your invoice from {merchant} you were charged {fees}.",
        "own_fee": "a {kind} of {amount} {date}",
        "and": "and",
        "reminder_fee": "reminder fee",
        "late_fee": "late fee",
        "EUR": "euros",
        "GBP": "pounds",
        "point": "point",
    },
    "de": {
        "reminders": "Eine Mahnung kostet {reminder}; sie kommt {reminder_days} Tage nach dem Fälligkeitsdatum. "
        "Nach {late_days} Tagen kommt eine Verzugsgebühr von {late} dazu, und nach {collection_days} Tagen geht "
        "die Forderung an ein Inkassobüro.",
        "collection": "Ist eine Rechnung {collection_days} Tage nach dem Fälligkeitsdatum noch offen, geht die "
        "Forderung an ein Inkassobüro, und ein Mitarbeiter kümmert sich darum. Vorher kommen nach "
        "{reminder_days} Tagen eine Mahnung für {reminder} und nach {late_days} Tagen eine Verzugsgebühr von "
        "{late}.",
        "instalments": "Die Zahlung in {count} Raten kostet keine Zinsen und keine Gebühr.",
        "instalments_fee": "Die Zahlung in {count} Raten kostet eine Gebühr von {fee} und {interest} Prozent Zinsen.",
        "financing": "Eine Finanzierung hat einen Sollzins von {rate} Prozent im Jahr.",
        "no_financing": "Eine Finanzierung in {currency_name} bieten wir nicht an; die Zahlung in {count} Raten "
        "kostet keine Zinsen und keine Gebühr.",
        "pause": "Solange eine Rechnung pausiert ist, gibt es keine Mahnungen und keine Gebühren; das "
        "Fälligkeitsdatum verschiebt sich auf das Ende der Pause.",
        "own_none": "Ihnen wurden keine Gebühren berechnet.",
        "own_invoice": "Auf Ihre Rechnung von {merchant} wurde {fees} berechnet.",
        "own_fee": "eine {kind} von {amount} {date}",
        "and": "und",
        "reminder_fee": "Mahngebühr",
        "late_fee": "Verzugsgebühr",
        "EUR": "Euro",
        "GBP": "Pfund",
        "point": "Komma",
    },
}


def currency_for(phone_number: str | None, language: str, summary: AccountSummary | None = None) -> str:
    """The currency to quote in: the verified caller's own (of their latest invoice), else that of the country
    of `phone_number`, else the hotline language's."""
    if summary is not None and summary.invoices:
        return summary.invoices[0].amount.currency
    for code, currency in CURRENCY_BY_COUNTRY_CODE.items():
        if isinstance(phone_number, str) and phone_number.startswith(code):
            return currency
    return CURRENCY_BY_LANGUAGE[language]


def _words(transcript: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", fold_for_matching(transcript)))


def asks_about_own_fees(transcript: str, language: str) -> bool:
    """Whether the caller asks about fees charged to them rather than about the terms."""
    _check_language(language)
    words = _words(transcript)
    padded = f" {words} "
    if any(f" {phrase} " in padded for phrase in _THIS_FEE[language]):
        return True
    first_person = bool(_FIRST_PERSON[language] & set(words.split()))
    return first_person and any(f" {phrase} " in padded for phrase in _OWN_CHARGE_WORDS[language])


def _topic(transcript: str) -> str:
    padded = f" {_words(transcript)} "
    for topic, words in _TOPIC_WORDS.items():
        if any(f" {word} " in padded for word in words):
            return topic
    return "reminders"


def _say_percent(percent: float, language: str) -> str:
    whole, _, decimals = f"{percent:.2f}".rstrip("0").rstrip(".").partition(".")
    said = say_number(int(whole), language)
    if decimals:
        said += f" {_PHRASES[language]['point']} " + " ".join(say_number(int(digit), language) for digit in decimals)
    return said


def general_fee_answer(transcript: str, language: str, currency: str, schedule: FeeSchedule | None = None) -> str:
    """The terms the caller asked about, with figures, in `currency` (the schedule's first currency if it has
    none in `currency`)."""
    _check_language(language)
    schedule = schedule or fee_schedule()
    terms = schedule.currencies.get(currency) or next(iter(schedule.currencies.values()))
    phrases = _PHRASES[language]
    figures = _figures(terms, language)
    topic = _topic(transcript)
    if topic == "instalments":
        return _instalments(terms, language)
    if topic == "financing":
        if terms.financing_interest_percent is None:
            return phrases["no_financing"].format(
                currency_name=phrases.get(terms.currency, terms.currency), count=figures["count"]
            )
        return phrases["financing"].format(rate=_say_percent(terms.financing_interest_percent, language))
    if topic == "pause":
        return phrases["pause"]
    return phrases[topic].format(**figures)


def _instalments(terms: CurrencyTerms, language: str) -> str:
    phrases = _PHRASES[language]
    count = say_number(terms.instalment_count, language)
    if terms.instalment_fee_cents == 0 and terms.instalment_interest_percent == 0:
        return phrases["instalments"].format(count=count)
    return phrases["instalments_fee"].format(
        count=count,
        fee=say_amount(terms.instalment_fee_cents, terms.currency, language),
        interest=_say_percent(terms.instalment_interest_percent, language),
    )


def _amount(cents: int, currency: str, language: str, case: str = "nominative") -> str:
    """An amount; in German "ein Euro" takes the case of the sentence: "kostet einen Euro", "von einem Euro"."""
    said = say_amount(cents, currency, language)
    if language == "de" and said.startswith("ein Euro"):
        return {"accusative": "einen", "dative": "einem"}.get(case, "ein") + said[len("ein") :]
    return said


def _figures(terms: CurrencyTerms, language: str) -> dict[str, str]:
    return {
        "reminder": _amount(terms.reminder_fee_cents, terms.currency, language, "accusative"),
        "late": say_amount(terms.late_fee_cents, terms.currency, language),
        "reminder_days": say_number(terms.reminder_after_days, language),
        "late_days": say_number(terms.late_fee_after_days, language),
        "collection_days": say_number(terms.collection_after_days, language),
        "count": say_number(terms.instalment_count, language),
    }


def own_fees_answer(summary: AccountSummary, language: str, today: date) -> str:
    """The fees charged to the verified caller: which, how much, on which invoice, when (newest invoice first)."""
    _check_language(language)
    if not isinstance(summary, AccountSummary):
        raise ValueError(f"summary must be an AccountSummary, not {type(summary).__name__}")
    phrases = _PHRASES[language]
    if not summary.fees:
        return phrases["own_none"]
    by_invoice: dict[str, list[FeeInfo]] = {}
    for fee in summary.fees:
        by_invoice.setdefault(fee.invoice_id, []).append(fee)
    sentences = []
    for fees in by_invoice.values():
        said = [
            phrases["own_fee"].format(
                kind=phrases[fee.kind.value],
                amount=_amount(fee.amount.cents, fee.amount.currency, language, "dative"),
                date=say_date(fee.charged_date, language, today=today),
            )
            for fee in sorted(fees, key=lambda fee: fee.charged_date)
        ]
        sentences.append(phrases["own_invoice"].format(merchant=fees[0].merchant, fees=_joined(said, language)))
    return " ".join(sentences)


def _joined(parts: Iterable[str], language: str) -> str:
    items = list(parts)
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {_PHRASES[language]['and']} {items[-1]}"


def _check_language(language: str) -> None:
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
