"""A return the merchant has not registered yet: which invoice to pause, the question before pausing it, and what
the caller is told once it is paused.

Only an unpaid invoice paid at once can be paused (an instalment plan has a due date per part). The invoice is
the one matching the merchant, amount or month the caller named; with nothing named, the only candidate, or the
latest unpaid one. When nothing fits, or what the caller named matches no candidate, a person sorts it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from voice_app.accounts.directory import AccountSummary, InvoiceInfo
from voice_app.accounts.models import PaymentStatus
from voice_app.answers.caller_criteria import criteria_from_transcript
from voice_app.answers.spoken import say_amount, say_date, say_number
from voice_app.config import SUPPORTED_LANGUAGES

_PHRASES = {
    "en": {
        "confirm": "I can pause your invoice from {merchant} for {amount} for {days} days, until {until}, so you get "
        "no reminders or fees meanwhile. Shall I do that?",
        "already": "Your invoice from {merchant} is already paused until {until}.",
        "paused": "Done: your invoice from {merchant} is paused until {until}. If {merchant} hasn't confirmed your "
        "return by then, the invoice is due on that day and reminders follow as usual, so please contact "
        "{merchant} before then.",
        "kept": "All right, I haven't changed your invoice.",
    },
    "de": {
        "confirm": "Ich kann Ihre Rechnung von {merchant} über {amount} für {days} Tage pausieren, bis {until}, "
        "dann gibt es so lange keine Mahnungen und keine Gebühren. Soll ich das tun?",
        "already": "Ihre Rechnung von {merchant} ist schon bis {until} pausiert.",
        "paused": "Erledigt: Ihre Rechnung von {merchant} ist bis {until} pausiert. Hat {merchant} Ihre Rücksendung "
        "bis dahin nicht bestätigt, ist die Rechnung an diesem Tag fällig und es folgen wie üblich Mahnungen; "
        "melden Sie sich deshalb vorher bei {merchant}.",
        "kept": "In Ordnung, ich habe Ihre Rechnung nicht geändert.",
    },
}


@dataclass(frozen=True)
class PauseOffer:
    invoice: InvoiceInfo
    until: date
    days: int


def invoice_to_pause(transcript: str, summary: AccountSummary) -> InvoiceInfo | None:
    """The invoice the caller sent goods back for, or None when it is unclear (then a person helps)."""
    if not isinstance(summary, AccountSummary):
        raise ValueError(f"summary must be an AccountSummary, not {type(summary).__name__}")
    candidates = [invoice for invoice in summary.invoices if invoice.can_be_paused]
    criteria = criteria_from_transcript(transcript, summary.merchants)
    if criteria.given:
        matching = [
            invoice
            for invoice in candidates
            if invoice.merchant in criteria.merchants
            or any(spoken.matches(invoice.amount.cents) for spoken in criteria.amounts)
            or invoice.order_date.month in criteria.months
        ]
        # Two invoices from the merchant named are told apart by amount or month, or by a person.
        return matching[0] if len(matching) == 1 or (matching and not criteria.merchants) else None
    return candidates[0] if candidates else None


def pause_offer(invoice: InvoiceInfo, today: date, pause_days: int) -> PauseOffer:
    if isinstance(pause_days, bool) or not isinstance(pause_days, int) or pause_days < 1:
        raise ValueError(f"pause_days must be a positive int, not {pause_days!r}")
    return PauseOffer(invoice, today + timedelta(days=pause_days), pause_days)


def is_paused(invoice: InvoiceInfo) -> bool:
    return invoice.status is PaymentStatus.PAUSED and invoice.paused_until is not None


def confirmation_question(offer: PauseOffer, language: str, today: date) -> str:
    _check_language(language)
    invoice = offer.invoice
    if is_paused(invoice):
        until = invoice.paused_until
        assert until is not None
        return _PHRASES[language]["already"].format(merchant=invoice.merchant, until=_until(until, language, today))
    return _PHRASES[language]["confirm"].format(
        merchant=invoice.merchant,
        amount=say_amount(invoice.amount.cents, invoice.amount.currency, language),
        days=say_number(offer.days, language),
        until=_until(offer.until, language, today),
    )


def paused_answer(merchant: str, until: date, language: str, today: date) -> str:
    _check_language(language)
    return _PHRASES[language]["paused"].format(merchant=merchant, until=_until(until, language, today))


def kept_answer(language: str) -> str:
    _check_language(language)
    return _PHRASES[language]["kept"]


def _until(day: date, language: str, today: date) -> str:
    """The end of the pause after "until" / "bis": "until December twenty-first", "bis zum einundzwanzigsten
    Dezember" (say_date's forms follow "on" / "am")."""
    said = say_date(day, language, today=today)
    if language == "de":
        return f"zum {said[len('am ') :]}" if said.startswith("am ") else said
    return said.removeprefix("on ")


def _check_language(language: str) -> None:
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
