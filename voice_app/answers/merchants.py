"""Questions only the merchant can answer (delivery, the product, sizes, warranty): who handles it and how to
reach them, from the merchant directory.

The merchant is the one the caller names (matched in the transcript as spelled in the directory, then allowing
for transcription slips), or, for a verified caller who names none, the merchant of the order they mean: the one
matching an amount or month they said, else their latest. The phone number is read in digit groups, as written
in the directory; the number for the caller's country when the merchant has several.
"""

from __future__ import annotations

from dataclasses import dataclass

from voice_app.accounts.directory import AccountSummary, InvoiceInfo
from voice_app.accounts.merchant_directory import MerchantContact, MerchantDirectory, merchant_directory
from voice_app.answers.caller_criteria import criteria_from_transcript
from voice_app.answers.spoken import say_characters
from voice_app.config import SUPPORTED_LANGUAGES

COUNTRY_BY_CODE = {"+49": "de", "+44": "gb"}
COUNTRY_BY_LANGUAGE = {"de": "de", "en": "gb"}

_PHRASES = {
    "en": {
        "contact": "Questions about delivery, the product, sizes or the warranty are handled by {name} directly. "
        "You can call them on {phone}, visit {website}, or e-mail {email}.",
        "plus": "plus",
    },
    "de": {
        "contact": "Fragen zu Lieferung, Produkt, Größe oder Garantie klärt {name} direkt. Sie erreichen den "
        "Händler unter {phone}, im Internet unter {website} oder per E-Mail an {email}.",
        "plus": "plus",
    },
}


@dataclass(frozen=True)
class MerchantChoice:
    """Whose contact to give, or None: then the caller needs to be verified (to find their order) or, when
    already verified, the merchant is not in the directory and a person helps."""

    contact: MerchantContact | None
    needs_verification: bool


def country_for(phone_number: str | None, language: str, summary: AccountSummary | None = None) -> str:
    """The caller's country for the merchant's number: from their account's currency, the phone number, or the
    hotline language."""
    if summary is not None and summary.invoices:
        return "gb" if summary.invoices[0].amount.currency == "GBP" else "de"
    for code, country in COUNTRY_BY_CODE.items():
        if isinstance(phone_number, str) and phone_number.startswith(code):
            return country
    return COUNTRY_BY_LANGUAGE[language]


def named_merchant(transcript: str, directory: MerchantDirectory | None = None) -> MerchantContact | None:
    """The first merchant the caller names: spelled as in the directory, or close to it ("Salando")."""
    directory = directory or merchant_directory()
    exact = directory.named_in(transcript)
    if exact:
        return exact[0]
    spellings = {
        spelling: merchant for merchant in directory.merchants for spelling in (merchant.name, *merchant.aliases)
    }
    fuzzy = criteria_from_transcript(transcript, spellings).merchants
    return spellings[sorted(fuzzy)[0]] if fuzzy else None


def choose_merchant(
    transcript: str, summary: AccountSummary | None, directory: MerchantDirectory | None = None
) -> MerchantChoice:
    directory = directory or merchant_directory()
    named = named_merchant(transcript, directory)
    if named is not None:
        return MerchantChoice(named, needs_verification=False)
    if summary is None:
        return MerchantChoice(None, needs_verification=True)
    invoice = order_meant(transcript, summary)
    return MerchantChoice(directory.get(invoice.merchant) if invoice else None, needs_verification=False)


def order_meant(transcript: str, summary: AccountSummary) -> InvoiceInfo | None:
    """The caller's order matching what they said (merchant, amount, month), else their latest."""
    if not summary.invoices:
        return None
    criteria = criteria_from_transcript(transcript, summary.merchants)
    if criteria.given:
        for invoice in summary.invoices:
            if (
                invoice.merchant in criteria.merchants
                or any(spoken.matches(invoice.amount.cents) for spoken in criteria.amounts)
                or invoice.order_date.month in criteria.months
            ):
                return invoice
    return summary.invoices[0]


def say_phone_number(number: str, language: str) -> str:
    """ "+49 30 23125 101" as "plus four nine, three zero, two three one two five, one zero one"."""
    _check_language(language)
    if not isinstance(number, str) or not number.startswith("+"):
        raise ValueError("a phone number in digit groups starts with +")
    return f"{_PHRASES[language]['plus']} {say_characters(number[1:], language)}"


def merchant_answer(contact: MerchantContact, language: str, country: str) -> str:
    _check_language(language)
    return _PHRASES[language]["contact"].format(
        name=contact.name,
        phone=say_phone_number(contact.phone_for(country), language),
        website=contact.website,
        email=contact.email,
    )


def _check_language(language: str) -> None:
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
