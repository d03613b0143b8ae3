"""Short spoken answers to routine account questions, in the caller's language, from an AccountSummary.

The most relevant item comes first: the one the caller named (a merchant, an amount or a month in the
transcript), else the latest or most urgent. No reply is longer than about twenty seconds of speech, because a
long list is lost on the phone: items are read out only as far as they fit (at most three), then the assistant
offers the rest or a colleague; a list longer than three starts with a summary (how many, how much in all, the
most urgent one) and offers the rest. How to pay is said first in general, the bank details on request.

Account answers need a summary, and the dialogue fetches one only after the caller is verified: without it they
refuse (ValueError) instead of saying anything. Only `payment_options` is general and needs no account.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from voice_app.accounts.directory import AccountSummary, InstalmentInfo, InvoiceInfo, Money, RefundInfo
from voice_app.accounts.models import PaymentStatus, RefundStatus
from voice_app.answers.caller_criteria import CallerCriteria, criteria_from_transcript
from voice_app.answers.phrases import ANSWER_PHRASES
from voice_app.answers.spoken import Gender, say_amount, say_characters, say_date, say_number
from voice_app.config import SUPPORTED_LANGUAGES
from voice_app.understanding.vocabulary import ACCOUNT_INTENTS, ROUTINE_INTENTS, Intent

MAX_ITEMS_SPOKEN = 3
# About twenty seconds of speech at 165 words a minute is 55 words; the dialogue adds up to nine after an answer
# ("Is there anything else I can help you with?"), and "Thank you." before the first answer after verification.
MAX_REPLY_WORDS = 55
MAX_ANSWER_WORDS = 46


@dataclass(frozen=True)
class SpokenAnswer:
    text: str
    items_total: int  # items relevant to the question (after the caller's merchant/amount/month, if any)
    items_said: int
    needs_verification: bool  # the text holds account data: it may only be said to a verified caller


@dataclass(frozen=True)
class PaymentInstructions:
    account_holder: str
    iban: str  # SEPA transfers need no BIC, and every character read out is one more to mishear


DEMO_PAYMENT_INSTRUCTIONS = PaymentInstructions(account_holder="Fairpay GmbH", iban="DE89 3704 0044 0532 0130 00")


def requires_verification(intent: str) -> bool:
    return Intent(intent) in ACCOUNT_INTENTS


def answer(
    intent: str,
    summary: AccountSummary | None,
    transcript: str,
    language: str,
    today: date,
    *,
    skip_items: int = 0,
    payment_instructions: PaymentInstructions = DEMO_PAYMENT_INSTRUCTIONS,
) -> SpokenAnswer:
    """The spoken answer to `intent`.

    `skip_items` continues a list after the caller accepted the offer to hear the others: pass the same
    transcript as before and the number of items already said.
    """
    chosen = Intent(intent)  # ValueError for an unknown intent
    if chosen not in ROUTINE_INTENTS:
        raise ValueError(f"{chosen} is no routine question that the assistant answers")
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    if not isinstance(today, date) or isinstance(today, datetime):
        raise ValueError(f"today must be a date, not {type(today).__name__}")
    if not isinstance(transcript, str):
        raise ValueError(f"transcript must be a string, not {type(transcript).__name__}")
    if isinstance(skip_items, bool) or not isinstance(skip_items, int) or skip_items < 0:
        raise ValueError(f"skip_items must be a non-negative int, not {skip_items!r}")
    if chosen is Intent.PAYMENT_OPTIONS:
        return _payment_options(payment_instructions, language, skip_items)
    if summary is None:
        raise ValueError(f"{chosen} needs the account summary of a verified caller")
    if not isinstance(summary, AccountSummary):
        raise ValueError(f"summary must be an AccountSummary, not {type(summary).__name__}")

    criteria = criteria_from_transcript(transcript, summary.merchants)
    phrases = ANSWER_PHRASES[language]
    say = _Sayer(language, today)
    items, default_count, intro = _ITEM_BUILDERS[chosen](summary, say)
    selected, criteria_missed = _select(items, criteria, default_count)
    lead = []
    if criteria_missed:
        lead.append(phrases["not_found"][chosen])
    if not selected:
        return SpokenAnswer(" ".join([*lead, phrases["none"][chosen]]), 0, 0, needs_verification=True)
    summarised = len(selected) == len(items) and intro is not None
    if summarised:
        lead.append(intro)
    unmatched = next((payment for payment in summary.recent_payments if payment.merchant is None), None)
    # "I paid but it is still open" often means a transfer we could not assign: say so rather than leave the
    # caller to argue with the list.
    note = (
        phrases["unmatched_payment"].format(amount=say.money(unmatched.amount), date=say.date(unmatched.received_date))
        if unmatched is not None and any(item.unpaid for item in selected)
        else None
    )
    sentences = [item.sentence(position) for position, item in enumerate(selected)]
    offers = [
        phrases["offer_one"] if remaining == 1 else phrases["offer_many"].format(n=say.number(remaining))
        for remaining in range(len(selected) + 1)
    ]
    parts = _read_out(lead, sentences, [item.unpaid for item in selected], note, offers, summarised)
    if skip_items >= len(selected):
        return SpokenAnswer(phrases["that_was_all"], len(selected), 0, needs_verification=True)
    first, count, text = next(part for part in parts if part[0] + part[1] > skip_items)
    if first != skip_items:
        # A caller's own count that does not fall on a part's start: carry on from there, one item a part.
        first, count = skip_items, 1
        remaining = len(selected) - skip_items - 1
        text = " ".join([sentences[skip_items], *([offers[remaining]] if remaining else [])])
    return SpokenAnswer(text, len(selected), count, needs_verification=True)


def _words(text: str) -> int:
    return len(text.split())


def _read_out(
    lead: list[str],
    sentences: list[str],
    unpaid: list[bool],
    note: str | None,
    offers: list[str],
    summarised: bool,
) -> list[tuple[int, int, str]]:
    """The list cut into replies that each fit MAX_ANSWER_WORDS: (first item, item count, text) for each.

    The first reply carries the lead (a miss, the summary) and, after a summary of a list longer than
    MAX_ITEMS_SPOKEN, only the most relevant item, so that it stays a summary. The note goes into the first
    reply that reads out an unpaid item and still has room for it (else the last); at least one item is said in
    every reply, whatever its length."""
    parts: list[tuple[int, int, str]] = []
    first = 0
    pending_note = note
    while first < len(sentences):
        said: list[str] = list(lead) if first == 0 else []
        cap = 1 if first == 0 and summarised and len(sentences) > MAX_ITEMS_SPOKEN else MAX_ITEMS_SPOKEN
        count = 0
        while first + count < len(sentences) and count < cap:
            candidate = [*said, sentences[first + count]]
            remaining = len(sentences) - first - count - 1
            if (
                count
                and _words(" ".join([*candidate, offers[remaining]] if remaining else candidate)) > MAX_ANSWER_WORDS
            ):
                break
            said, count = candidate, count + 1
        if pending_note and any(unpaid[first : first + count]):
            remaining = len(sentences) - first - count
            fitted = [*said, pending_note, *([offers[remaining]] if remaining else [])]
            if _words(" ".join(fitted)) <= MAX_ANSWER_WORDS or first + count == len(sentences):
                said.append(pending_note)
                pending_note = None
        remaining = len(sentences) - first - count
        if remaining:
            said.append(offers[remaining])
        parts.append((first, count, " ".join(said)))
        first += count
    return parts


# --- items ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    merchant: str
    amounts: frozenset[int]  # cents the caller might name for it
    months: frozenset[int]  # months the caller might name for it
    sentence: Callable[[int], str]  # position in the list -> what to say
    unpaid: bool = False

    def score(self, criteria: CallerCriteria) -> int:
        return (
            (self.merchant in criteria.merchants)
            + any(spoken.matches(cents) for spoken in criteria.amounts for cents in self.amounts)
            + bool(self.months & criteria.months)
        )


def _select(items: list[_Item], criteria: CallerCriteria, default_count: int | None) -> tuple[list[_Item], bool]:
    """The items to talk about, and whether the caller named something that matched none of them."""
    default = items[:default_count] if default_count is not None else items
    if not criteria.given:
        return default, False
    scores = [item.score(criteria) for item in items]
    best = max(scores, default=0)
    if best == 0:
        return default, True
    return [item for item, score in zip(items, scores, strict=True) if score == best], False


class _Sayer:
    """Amounts, dates and counts in one language, relative to one day."""

    def __init__(self, language: str, today: date):
        self.language = language
        self.today = today
        self.phrases = ANSWER_PHRASES[language]

    def money(self, money: Money) -> str:
        return say_amount(money.cents, money.currency, self.language)

    def date(self, day: date | None) -> str:
        # The summary leaves a date empty only where the item's status says it has none, so an empty one
        # here is a broken summary, refused as say_date refuses any other non-date.
        if day is None:
            raise ValueError("day must be a date, not NoneType")
        return say_date(day, self.language, today=self.today)

    def number(self, number: int, gender: Gender | None = None) -> str:
        return say_number(number, self.language, gender=gender)


def _months(*days: date) -> frozenset[int]:
    return frozenset(day.month for day in days)


def _invoice_amounts(invoice: InvoiceInfo) -> frozenset[int]:
    parts = (part.amount.cents for part in invoice.instalments)
    return frozenset({invoice.amount.cents, invoice.outstanding.cents, *parts})


def _payment_status_items(summary: AccountSummary, say: _Sayer) -> tuple[list[_Item], int | None, str | None]:
    phrases = say.phrases

    def sentence(invoice: InvoiceInfo, position: int) -> str:
        subject_key = "invoice_latest" if invoice is summary.invoices[0] and position == 0 else "invoice"
        subject = phrases[subject_key].format(merchant=invoice.merchant, amount=say.money(invoice.amount))
        return _capitalise(f"{subject} {_invoice_state(invoice, say)}")

    items = [
        _Item(
            merchant=invoice.merchant,
            amounts=_invoice_amounts(invoice),
            months=_months(invoice.order_date, invoice.due_date),
            sentence=functools.partial(sentence, invoice),
            unpaid=invoice.status is not PaymentStatus.PAID,
        )
        for invoice in summary.invoices
    ]
    # Without a hint, "is my invoice paid?" is about the latest one.
    return items, 1, None


def _invoice_state(invoice: InvoiceInfo, say: _Sayer) -> str:
    phrases = say.phrases
    if invoice.status is PaymentStatus.PAID:
        return phrases["state_paid"].format(paid=say.date(invoice.paid_date))
    if invoice.status is PaymentStatus.PAUSED:
        return phrases["state_paused"]
    next_part = invoice.next_instalment
    if next_part is not None:
        paid_parts = sum(part.status is PaymentStatus.PAID for part in invoice.instalments)
        paid_key = "plan_paid_none" if paid_parts == 0 else "plan_paid_one" if paid_parts == 1 else "plan_paid_many"
        return phrases["state_plan"].format(
            count=say.number(len(invoice.instalments)),
            paid=phrases[paid_key].format(n=say.number(paid_parts)),
            next=_next_instalment(next_part, say),
        )
    if invoice.status is PaymentStatus.OVERDUE:
        return phrases["state_overdue"].format(due=say.date(invoice.due_date))
    return phrases["state_open"].format(due=say.date(invoice.due_date))


def _next_instalment(part: InstalmentInfo, say: _Sayer) -> str:
    key = "next_instalment_overdue" if part.status is PaymentStatus.OVERDUE else "next_instalment"
    return say.phrases[key].format(amount=say.money(part.amount), due=say.date(part.due_date))


def _open_payment_items(summary: AccountSummary, say: _Sayer) -> tuple[list[_Item], int | None, str | None]:
    phrases = say.phrases
    urgency = {PaymentStatus.OVERDUE: 0, PaymentStatus.OPEN: 1, PaymentStatus.PAUSED: 2}
    unpaid = sorted(
        summary.unpaid_invoices,
        key=lambda invoice: (urgency[invoice.status], (invoice.next_instalment or invoice).due_date),
    )

    def sentence(invoice: InvoiceInfo, _position: int) -> str:
        fields = {"amount": say.money(invoice.outstanding), "merchant": invoice.merchant}
        if invoice.status is PaymentStatus.PAUSED:
            return _capitalise(phrases["open_paused"].format(**fields))
        if invoice.next_instalment is not None:
            next_part = _next_instalment(invoice.next_instalment, say)
            return _capitalise(phrases["open_plan"].format(next=next_part, **fields))
        key = "open_overdue" if invoice.status is PaymentStatus.OVERDUE else "open_open"
        return _capitalise(phrases[key].format(due=say.date(invoice.due_date), **fields))

    items = [
        _Item(
            merchant=invoice.merchant,
            amounts=_invoice_amounts(invoice),
            months=_months(invoice.order_date, invoice.due_date, *(part.due_date for part in invoice.instalments)),
            sentence=functools.partial(sentence, invoice),
            unpaid=True,
        )
        for invoice in unpaid
    ]
    if len(items) <= 1:
        return items, None, phrases["open_intro_one"] if items else None
    currencies = {invoice.outstanding.currency for invoice in unpaid}
    count = say.number(len(items))
    if len(currencies) > 1:
        return items, None, phrases["open_intro_many"].format(n=count)  # a sum across currencies means nothing
    total = Money(sum(invoice.outstanding.cents for invoice in unpaid), currencies.pop())
    return items, None, phrases["open_intro_total"].format(n=count, total=say.money(total))


@dataclass(frozen=True)
class _DuePayment:
    invoice: InvoiceInfo
    amount: Money
    due_date: date
    overdue: bool
    instalment: InstalmentInfo | None


def _next_due_items(summary: AccountSummary, say: _Sayer) -> tuple[list[_Item], int | None, str | None]:
    phrases = say.phrases
    due: list[_DuePayment] = []
    for invoice in summary.invoices:
        if invoice.status in (PaymentStatus.PAID, PaymentStatus.PAUSED):
            continue  # a paused invoice has no due date until the return is settled
        if not invoice.instalments:
            due.append(
                _DuePayment(invoice, invoice.amount, invoice.due_date, invoice.status is PaymentStatus.OVERDUE, None)
            )
            continue
        # Every overdue instalment, and of the upcoming ones only the next.
        overdue_parts = [part for part in invoice.instalments if part.status is PaymentStatus.OVERDUE]
        upcoming = next((part for part in invoice.instalments if part.status is PaymentStatus.OPEN), None)
        for part in [*overdue_parts, *([upcoming] if upcoming else [])]:
            due.append(_DuePayment(invoice, part.amount, part.due_date, part.status is PaymentStatus.OVERDUE, part))
    due.sort(key=lambda payment: (not payment.overdue, payment.due_date))
    first_upcoming = next((payment for payment in due if not payment.overdue), None)

    def sentence(payment: _DuePayment, _position: int) -> str:
        fields = {
            "amount": say.money(payment.amount),
            "merchant": payment.invoice.merchant,
            "due": say.date(payment.due_date),
            "instalment": ""
            if payment.instalment is None
            else phrases["instalment_of"].format(
                k=say.number(payment.instalment.number), n=say.number(payment.instalment.count)
            ),
        }
        key = "due_overdue" if payment.overdue else "due_first" if payment is first_upcoming else "due_later"
        if payment.overdue and payment.instalment is not None:
            fields["instalment"] += ","  # the aside sits between subject and verb: "…, instalment 2 of 4, is overdue"
        return _capitalise(phrases[key].format(**fields))

    items = [
        _Item(
            merchant=payment.invoice.merchant,
            amounts=frozenset({payment.amount.cents, payment.invoice.amount.cents}),
            months=_months(payment.due_date, payment.invoice.order_date),
            sentence=functools.partial(sentence, payment),
            unpaid=True,
        )
        for payment in due
    ]
    return items, None, None


def _refund_items(summary: AccountSummary, say: _Sayer) -> tuple[list[_Item], int | None, str | None]:
    phrases = say.phrases

    def sentence(refund: RefundInfo, _position: int) -> str:
        fields = {"merchant": refund.merchant, "amount": say.money(refund.amount)}
        if refund.status is RefundStatus.REFUNDED:
            return _capitalise(phrases["refund_refunded"].format(date=say.date(refund.refunded_date), **fields))
        if refund.status is RefundStatus.RECEIVED_BY_MERCHANT:
            return _capitalise(phrases["refund_received"].format(date=say.date(refund.received_date), **fields))
        return _capitalise(phrases["refund_registered"].format(date=say.date(refund.registered_date), **fields))

    items = [
        _Item(
            merchant=refund.merchant,
            amounts=frozenset({refund.amount.cents}),
            months=_months(refund.order_date, refund.registered_date),
            sentence=functools.partial(sentence, refund),
        )
        for refund in summary.refunds
    ]
    return items, None, None


_ITEM_BUILDERS: dict[Intent, Callable[[AccountSummary, _Sayer], tuple[list[_Item], int | None, str | None]]] = {
    Intent.PAYMENT_STATUS: _payment_status_items,
    Intent.OPEN_PAYMENTS: _open_payment_items,
    Intent.NEXT_DUE_DATE: _next_due_items,
    Intent.REFUND_STATUS: _refund_items,
}


def _payment_options(instructions: PaymentInstructions, language: str, skip_items: int) -> SpokenAnswer:
    """The ways to pay with the bank details in one reply: a caller who asks how to pay is about to pay, and a
    question back ("shall I read the bank details?") cost them a turn. Worded to fit the short-answer limit."""
    phrases = ANSWER_PHRASES[language]
    if skip_items:
        return SpokenAnswer(phrases["that_was_all"], 1, 0, needs_verification=False)
    text = phrases["payment_options"].format(
        holder=instructions.account_holder, iban=say_characters(instructions.iban, language)
    )
    return SpokenAnswer(text, 1, 1, needs_verification=False)


def _capitalise(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]
