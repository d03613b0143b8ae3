"""The answer to a fee, merchant or unregistered-return request, decided from text alone: what to say, whether
the caller must be verified first, whether to offer a pause, or that a person should help. The dialogue
(dialogue/assistance.py) keeps the state; the modules it draws on hold the wording and the choices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from voice_app.accounts.directory import AccountSummary
from voice_app.accounts.merchant_directory import merchant_directory
from voice_app.answers.fees import asks_about_own_fees, currency_for, general_fee_answer, own_fees_answer
from voice_app.answers.merchants import choose_merchant, country_for, merchant_answer
from voice_app.answers.returns import PauseOffer, confirmation_question, invoice_to_pause, is_paused, pause_offer
from voice_app.understanding.vocabulary import TERMS_AND_MERCHANT_INTENTS, Intent


@dataclass(frozen=True)
class TermsReply:
    text: str = ""  # what to say; empty when a person takes over
    pause: PauseOffer | None = None  # set: `text` asks whether to pause, and a yes pauses this
    hand_over: bool = False


def needs_account(intent: Intent, transcript: str, language: str, summary: AccountSummary | None) -> bool:
    """Whether the answer needs the verified caller's account: a return always, their own fees, and a merchant
    question that names no merchant (the merchant of their order)."""
    _check_intent(intent)
    if intent is Intent.RETURN_NOT_REGISTERED:
        return True
    if intent is Intent.FEES:
        return asks_about_own_fees(transcript, language)
    return choose_merchant(transcript, summary).needs_verification


def terms_reply(
    intent: Intent,
    transcript: str,
    language: str,
    summary: AccountSummary | None,
    today: date,
    *,
    caller_number: str | None,
    pause_days: int,
) -> TermsReply:
    _check_intent(intent)
    if needs_account(intent, transcript, language, summary) and summary is None:
        raise ValueError(f"{intent} needs the account summary of a verified caller here")
    if intent is Intent.FEES:
        if summary is not None and asks_about_own_fees(transcript, language):
            return TermsReply(own_fees_answer(summary, language, today))
        currency = currency_for(caller_number, language, summary)
        return TermsReply(general_fee_answer(transcript, language, currency))
    if intent is Intent.MERCHANT_QUESTION:
        contact = choose_merchant(transcript, summary, merchant_directory()).contact
        if contact is None:
            return TermsReply(hand_over=True)
        return TermsReply(merchant_answer(contact, language, country_for(caller_number, language, summary)))
    assert summary is not None  # needs_account above
    invoice = invoice_to_pause(transcript, summary)
    if invoice is None:
        # Nothing that can be paused, or not clear which: a person looks at it with the caller.
        return TermsReply(hand_over=True)
    offer = pause_offer(invoice, today, pause_days)
    question = confirmation_question(offer, language, today)
    return TermsReply(question) if is_paused(invoice) else TermsReply(question, pause=offer)


def _check_intent(intent: Intent) -> None:
    if intent not in TERMS_AND_MERCHANT_INTENTS:
        raise ValueError(f"{intent} is not a fee, merchant or return request")
