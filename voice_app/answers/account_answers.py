"""Short spoken answers to routine account questions, in the caller's language, from an AccountSummary.

The most relevant item comes first: the one the caller named (a merchant, an amount or a month in the
transcript), else the latest or most urgent. At most three items are read out, then the assistant offers the
rest or a colleague, because a long list is lost on the phone.

Account answers need a summary, and the dialogue fetches one only after the caller is verified: without it they
refuse (ValueError) instead of saying anything. Only `payment_options` is general and needs no account.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from rapidfuzz import fuzz

from voice_app.accounts.directory import AccountSummary, InstalmentInfo, InvoiceInfo, Money, RefundInfo
from voice_app.accounts.models import PaymentStatus, RefundStatus
from voice_app.answers.spoken import MONTH_NAMES, Gender, say_amount, say_characters, say_date, say_number
from voice_app.config import SUPPORTED_LANGUAGES

MAX_ITEMS_SPOKEN = 3
# Transcripts are stored up to this length (Turn.transcript); longer input is not speech worth parsing.
MAX_TRANSCRIPT_CHARS = 2000
# rapidfuzz ratio (0-100) from which a stretch of the transcript counts as naming a merchant: it lets
# "salando" find Zalando but not "saturday" Saturn. Names of four letters or fewer must match exactly.
MERCHANT_MATCH_THRESHOLD = 85
SHORT_MERCHANT_NAME = 4


class Intent(StrEnum):
    PAYMENT_STATUS = "payment_status"  # is my invoice paid?
    OPEN_PAYMENTS = "open_payments"  # what is still open?
    NEXT_DUE_DATE = "next_due_date"  # when is my next payment due?
    REFUND_STATUS = "refund_status"  # where is my refund?
    PAYMENT_OPTIONS = "payment_options"  # how can I pay, what are your bank details?


ACCOUNT_INTENTS = frozenset(
    {Intent.PAYMENT_STATUS, Intent.OPEN_PAYMENTS, Intent.NEXT_DUE_DATE, Intent.REFUND_STATUS}
)


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


DEMO_PAYMENT_INSTRUCTIONS = PaymentInstructions(
    account_holder="Fairpay GmbH", iban="DE89 3704 0044 0532 0130 00"
)


@dataclass(frozen=True)
class SpokenAmount:
    cents: int
    exact: bool  # False when only whole units were said ("the fifty euro one")

    def matches(self, cents: int) -> bool:
        # Whole units are how people round: "fifty euros" or "forty-nine" both mean 49.90.
        return cents == self.cents if self.exact else abs(cents - self.cents) < 100


@dataclass(frozen=True)
class CallerCriteria:
    """What the caller named to pick an item: merchants (as the summary spells them), amounts, months (1-12)."""

    merchants: frozenset[str] = frozenset()
    amounts: tuple[SpokenAmount, ...] = ()
    months: frozenset[int] = frozenset()

    @property
    def given(self) -> bool:
        return bool(self.merchants or self.amounts or self.months)


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
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    if not isinstance(today, date) or isinstance(today, datetime):
        raise ValueError(f"today must be a date, not {type(today).__name__}")
    if not isinstance(transcript, str):
        raise ValueError(f"transcript must be a string, not {type(transcript).__name__}")
    if isinstance(skip_items, bool) or not isinstance(skip_items, int) or skip_items < 0:
        raise ValueError(f"skip_items must be a non-negative int, not {skip_items!r}")
    if chosen is Intent.PAYMENT_OPTIONS:
        return SpokenAnswer(_payment_options(payment_instructions, language), 0, 0, needs_verification=False)
    if summary is None:
        raise ValueError(f"{chosen} needs the account summary of a verified caller")
    if not isinstance(summary, AccountSummary):
        raise ValueError(f"summary must be an AccountSummary, not {type(summary).__name__}")

    criteria = criteria_from_transcript(transcript, summary.merchants)
    phrases = _PHRASES[language]
    say = _Sayer(language, today)
    items, default_count, intro = _ITEM_BUILDERS[chosen](summary, say)
    selected, criteria_missed = _select(items, criteria, default_count)
    parts = []
    if criteria_missed and skip_items == 0:
        parts.append(phrases["not_found"][chosen])
    if not selected:
        parts.append(phrases["none"][chosen])
        return SpokenAnswer(" ".join(parts), 0, 0, needs_verification=True)
    if skip_items >= len(selected):
        return SpokenAnswer(phrases["that_was_all"], len(selected), 0, needs_verification=True)
    if skip_items == 0 and len(selected) == len(items) and intro:
        parts.append(intro)
    said = selected[skip_items:skip_items + MAX_ITEMS_SPOKEN]
    parts.extend(item.sentence(skip_items + position) for position, item in enumerate(said))
    unmatched = next((payment for payment in summary.recent_payments if payment.merchant is None), None)
    if unmatched is not None and skip_items == 0 and any(item.unpaid for item in said):
        # "I paid but it is still open" often means a transfer we could not assign: say so rather than leave
        # the caller to argue with the list.
        parts.append(phrases["unmatched_payment"].format(
            amount=say.money(unmatched.amount), date=say.date(unmatched.received_date)))
    remaining = len(selected) - skip_items - len(said)
    if remaining:
        parts.append(phrases["offer_one"] if remaining == 1 else phrases["offer_many"].format(n=say.number(remaining)))
    return SpokenAnswer(" ".join(parts), len(selected), len(said), needs_verification=True)


def criteria_from_transcript(transcript: str, merchants: Iterable[str]) -> CallerCriteria:
    """The merchants (of `merchants`), amounts and months the caller named, in English or German."""
    text = transcript[:MAX_TRANSCRIPT_CHARS]
    lexemes = _lexemes(_fold(text))
    return CallerCriteria(
        merchants=_named_merchants(text, merchants),
        amounts=tuple(_amounts(lexemes)),
        months=frozenset(lexeme.value for lexeme in lexemes if lexeme.kind == "month"),
    )


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
    return [item for item, score in zip(items, scores) if score == best], False


class _Sayer:
    """Amounts, dates and counts in one language, relative to one day."""

    def __init__(self, language: str, today: date):
        self.language = language
        self.today = today
        self.phrases = _PHRASES[language]

    def money(self, money: Money) -> str:
        return say_amount(money.cents, money.currency, self.language)

    def date(self, day: date) -> str:
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
            sentence=lambda position, invoice=invoice: sentence(invoice, position),
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

    def sentence(invoice: InvoiceInfo) -> str:
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
            sentence=lambda _position, invoice=invoice: sentence(invoice),
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
            due.append(_DuePayment(invoice, invoice.amount, invoice.due_date,
                                   invoice.status is PaymentStatus.OVERDUE, None))
            continue
        # Every overdue instalment, and of the upcoming ones only the next.
        overdue_parts = [part for part in invoice.instalments if part.status is PaymentStatus.OVERDUE]
        upcoming = next((part for part in invoice.instalments if part.status is PaymentStatus.OPEN), None)
        for part in [*overdue_parts, *([upcoming] if upcoming else [])]:
            due.append(_DuePayment(invoice, part.amount, part.due_date, part.status is PaymentStatus.OVERDUE, part))
    due.sort(key=lambda payment: (not payment.overdue, payment.due_date))
    first_upcoming = next((payment for payment in due if not payment.overdue), None)

    def sentence(payment: _DuePayment) -> str:
        fields = {
            "amount": say.money(payment.amount),
            "merchant": payment.invoice.merchant,
            "due": say.date(payment.due_date),
            "instalment": "" if payment.instalment is None else phrases["instalment_of"].format(
                k=say.number(payment.instalment.number), n=say.number(payment.instalment.count)),
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
            sentence=lambda _position, payment=payment: sentence(payment),
            unpaid=True,
        )
        for payment in due
    ]
    return items, None, None


def _refund_items(summary: AccountSummary, say: _Sayer) -> tuple[list[_Item], int | None, str | None]:
    phrases = say.phrases

    def sentence(refund: RefundInfo) -> str:
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
            sentence=lambda _position, refund=refund: sentence(refund),
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


def _payment_options(instructions: PaymentInstructions, language: str) -> str:
    return _PHRASES[language]["payment_options"].format(
        holder=instructions.account_holder,
        iban=say_characters(instructions.iban, language),
    )


def _capitalise(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


# --- what the caller named ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lexeme:
    kind: str  # "num", "month", "ordinal" or "word"
    text: str
    value: int = 0
    cents: int | None = None  # for "num" written with decimals: "49,90"


def _fold(text: str) -> str:
    """Lower case without accents, so "März", "Marz" and "MÄRZ" compare equal."""
    text = text.lower().replace("ß", "ss").replace("ø", "o").replace("ł", "l")
    text = text.replace("€", " euro ").replace("£", " pound ").replace("$", " dollar ")
    return "".join(char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char))


_TOKEN = re.compile(r"\d+(?:st|nd|rd|th)\b|\d+(?:[.,]\d+)*|[a-z]+")
_DIGITS = re.compile(r"(?P<whole>\d+|\d{1,3}(?:[.,]\d{3})+)(?:[.,](?P<cents>\d{1,2}))?")

_EN_SMALL = {word: value for value, word in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"))}
_EN_TENS = {word: value * 10 for value, word in enumerate(
    ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"), start=2)}
_DE_SMALL = {word: value for value, word in enumerate((
    "null", "eins", "zwei", "drei", "vier", "funf", "sechs", "sieben", "acht", "neun", "zehn", "elf", "zwolf",
    "dreizehn", "vierzehn", "funfzehn", "sechzehn", "siebzehn", "achtzehn", "neunzehn"))} | {
    "ein": 1, "eine": 1, "zwo": 2}
_DE_TENS = {word: value * 10 for value, word in enumerate(
    ("zwanzig", "dreissig", "vierzig", "funfzig", "sechzig", "siebzig", "achtzig", "neunzig"), start=2)}

_MONTHS = {_fold(name): index + 1 for names in MONTH_NAMES.values() for index, name in enumerate(names)}
_MONTHS |= {"maerz": 3, "janner": 1, "sept": 9}
# "may" is a month only where a month can stand: "in May", "from May", "May 3rd"; not in "may I ask".
_BEFORE_MAY = {"in", "from", "of", "since", "for", "on", "the", "last", "early", "late", "mid", "until", "till"}

_MAJOR_UNITS = {"euro", "euros", "eur", "pound", "pounds", "quid", "gbp", "pfund", "dollar", "dollars", "usd",
                "franken", "franc", "francs", "chf"}
_MINOR_UNITS = {"cent", "cents", "ct", "pence", "penny", "p", "rappen", "centimes"}
_DECIMAL_WORDS = {"point", "comma", "komma"}
_CONNECTORS = {"and", "und"}


def _lexemes(folded: str) -> list[_Lexeme]:
    tokens = _TOKEN.findall(folded)
    lexemes: list[_Lexeme] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token[0].isdigit():
            if token[-1].isalpha():
                lexemes.append(_Lexeme("ordinal", token))
            else:
                parsed_digits = _digits_value(token)
                lexemes.append(_Lexeme("num", token, *parsed_digits) if parsed_digits else _Lexeme("word", token))
            i += 1
            continue
        parsed = _english_number(tokens, i) or _german_number_at(tokens, i)
        if parsed is not None:
            value, i_next = parsed
            lexemes.append(_Lexeme("num", " ".join(tokens[i:i_next]), value))
            i = i_next
            continue
        month = _MONTHS.get(token)
        if month is not None and (token != "may" or _may_is_month(tokens, i)):
            lexemes.append(_Lexeme("month", token, month))
        else:
            lexemes.append(_Lexeme("word", token))
        i += 1
    return lexemes


def _may_is_month(tokens: list[str], i: int) -> bool:
    before = tokens[i - 1] if i > 0 else ""
    after = tokens[i + 1] if i + 1 < len(tokens) else ""
    return before in _BEFORE_MAY or before[:1].isdigit() or after[:1].isdigit()


def _digits_value(token: str) -> tuple[int, int | None] | None:
    """'49,90' -> (49, 90); '1.234,56' -> (1234, 56); '1,234' -> (1234, None), as thousands are grouped in
    threes; None for what is no amount at all ('1.2.3.4')."""
    match = _DIGITS.fullmatch(token)
    if match is None:
        return None
    whole = int(re.sub(r"[.,]", "", match["whole"]))
    return whole, None if match["cents"] is None else int(match["cents"].ljust(2, "0"))


def _english_number(tokens: list[str], i: int) -> tuple[int, int] | None:
    """The number in English words starting at tokens[i] ("one thousand two hundred and five"), with the index
    after it. Stops where a new number must begin: "forty nine ninety" is 49, then 90."""
    first = _english_below_thousand(tokens, i)
    if first is None and _at(tokens, i) == "a" and _at(tokens, i + 1) == "thousand":
        first = (1, i + 1)
    if first is None:
        return None
    value, j = first
    if _at(tokens, j) == "thousand":
        value, j = value * 1000, j + 1
        rest = _english_below_thousand(tokens, j + (_at(tokens, j) == "and"))
        if rest is not None:
            value, j = value + rest[0], rest[1]
    return value, j


def _english_below_thousand(tokens: list[str], i: int) -> tuple[int, int] | None:
    word = _at(tokens, i)
    hundreds = _EN_SMALL.get(word, 1 if word == "a" else None)
    if hundreds and _at(tokens, i + 1) == "hundred":
        j = i + 2
        rest = _english_below_hundred(tokens, j + (_at(tokens, j) == "and"))
        return (hundreds * 100 + rest[0], rest[1]) if rest else (hundreds * 100, j)
    return _english_below_hundred(tokens, i)


def _english_below_hundred(tokens: list[str], i: int) -> tuple[int, int] | None:
    word = _at(tokens, i)
    if word in _EN_TENS:
        unit = _EN_SMALL.get(_at(tokens, i + 1), 0)
        return (_EN_TENS[word] + unit, i + 2) if 0 < unit < 10 else (_EN_TENS[word], i + 1)
    if word in _EN_SMALL:
        return _EN_SMALL[word], i + 1
    return None


def _german_number_at(tokens: list[str], i: int) -> tuple[int, int] | None:
    """German number words are single compounds ("neunundvierzig"), but transcripts sometimes split them
    ("neun und vierzig"): the longest run of up to three tokens that forms a number wins."""
    for end in range(min(len(tokens), i + 3), i, -1):
        value = _german_number("".join(tokens[i:end]))
        if value is not None:
            return value, end
    return None


def _german_number(word: str) -> int | None:
    if word in _DE_SMALL:
        return _DE_SMALL[word]
    if word in _DE_TENS:
        return _DE_TENS[word]
    for separator, factor, max_multiplier in (("tausend", 1000, 999), ("hundert", 100, 19)):
        if separator in word:
            left, _, right = word.partition(separator)
            multiplier = 1 if left in ("", "ein") else _german_number(left)
            rest = 0 if right == "" else _german_number(right)
            if multiplier is None or rest is None or not 1 <= multiplier <= max_multiplier or rest >= factor:
                return None
            return multiplier * factor + rest
    unit, separator, tens = word.partition("und")
    if separator and tens in _DE_TENS:
        unit_value = _DE_SMALL.get(unit)
        if unit_value is not None and 1 <= unit_value <= 9:
            return unit_value + _DE_TENS[tens]
    return None


def _at(tokens: Sequence[str], i: int) -> str:
    return tokens[i] if 0 <= i < len(tokens) else ""


def _amounts(lexemes: list[_Lexeme]) -> list[SpokenAmount]:
    """Amounts in the forms callers use: "49.90", "49,90 €", "49 euros 90", "forty nine ninety",
    "neunundvierzig Euro neunzig", "neunundvierzig Komma neunzig", "ninety cents", "about fifty euros"."""

    def is_word(index: int, words: set[str]) -> bool:
        return index < len(lexemes) and lexemes[index].kind == "word" and lexemes[index].text in words

    def is_number(index: int) -> bool:
        return index < len(lexemes) and lexemes[index].kind == "num" and not _next_to_month(lexemes, index)

    amounts = []
    i = 0
    while i < len(lexemes):
        if not is_number(i):
            i += 1
            continue
        number = lexemes[i]
        if number.cents is not None:
            amounts.append(SpokenAmount(number.value * 100 + number.cents, exact=True))
            i += 1
            continue
        j = i + 1
        has_unit = is_word(j, _MAJOR_UNITS)
        j += has_unit
        if is_word(j, _DECIMAL_WORDS) and is_number(j + 1):
            cents, j = _decimal_cents(lexemes, j + 1)
            amounts.append(SpokenAmount(number.value * 100 + cents, exact=True))
            i = j
            continue
        joined = has_unit and is_word(j, _CONNECTORS) and is_number(j + 1)
        j += joined
        if is_number(j) and lexemes[j].cents is None and lexemes[j].value < 100:
            with_minor_unit = is_word(j + 1, _MINOR_UNITS)
            # Cents said bare are two-digit ("forty-nine ninety"); a lone "one" after "euros" is a pronoun.
            if lexemes[j].value >= 10 or joined or with_minor_unit:
                amounts.append(SpokenAmount(number.value * 100 + lexemes[j].value, exact=True))
                i = j + 1 + with_minor_unit
                continue
        if not has_unit and is_word(j, _MINOR_UNITS) and number.value < 100:
            amounts.append(SpokenAmount(number.value, exact=True))
            i = j + 1
            continue
        # A bare number without a currency is more likely a count, a day or a customer number than an amount.
        if has_unit:
            amounts.append(SpokenAmount(number.value * 100, exact=False))
        i = j
    return amounts


def _decimal_cents(lexemes: list[_Lexeme], i: int) -> tuple[int, int]:
    """Cents after "point"/"Komma": "nine zero" or "ninety" -> 90, "nine" -> 90, "zero five" -> 5."""
    first = lexemes[i]
    if first.value >= 10 or first.cents is not None:
        return first.value % 100, i + 1
    digits = str(first.value)
    if i + 1 < len(lexemes) and lexemes[i + 1].kind == "num" and lexemes[i + 1].value < 10:
        return int(digits + str(lexemes[i + 1].value)), i + 2
    return int(digits.ljust(2, "0")), i + 1


def _next_to_month(lexemes: list[_Lexeme], i: int) -> bool:
    # "3. März", "March 3", "May 2024": a number beside a month is a day or a year, not an amount.
    return any(0 <= j < len(lexemes) and lexemes[j].kind == "month" for j in (i - 1, i + 1))


def _merchant_key(text: str) -> list[str]:
    folded = _fold(text).replace("&", " and ")
    return ["and" if word == "und" else word for word in re.findall(r"[a-z0-9]+", folded)]


def _named_merchants(transcript: str, merchants: Iterable[str]) -> frozenset[str]:
    """Merchants whose name appears in the transcript, allowing for transcription slips ("Salando", "Media
    Markt", "H und M"). Stretches of one more or one fewer word than the name are compared, spaces removed."""
    words = _merchant_key(transcript)
    named = set()
    for merchant in merchants:
        name_words = _merchant_key(merchant)
        name = "".join(name_words)
        if not name:
            continue
        threshold = 100 if len(name) <= SHORT_MERCHANT_NAME else MERCHANT_MATCH_THRESHOLD
        sizes = range(max(1, len(name_words) - 1), len(name_words) + 2)
        if any(
            fuzz.ratio(name, "".join(words[start:start + size])) >= threshold
            for size in sizes
            for start in range(0, max(0, len(words) - size) + 1)
        ):
            named.add(merchant)
    return frozenset(named)


# --- wording ------------------------------------------------------------------------------------------------------

_PHRASES: dict[str, dict] = {
    "en": {
        "invoice_latest": "your latest invoice, from {merchant} for {amount},",
        "invoice": "your invoice from {merchant} for {amount}",
        "state_paid": "was paid {paid}.",
        "state_open": "is open and due {due}.",
        "state_overdue": "is overdue: it was due {due}.",
        "state_paused": "is paused while your return is being processed.",
        "state_plan": "is being paid in {count} instalments: {paid}, {next}.",
        "plan_paid_none": "none is paid yet",
        "plan_paid_one": "one is paid",
        "plan_paid_many": "{n} are paid",
        "next_instalment": "and the next one, {amount}, is due {due}",
        "next_instalment_overdue": "and the next one, {amount}, is overdue: it was due {due}",
        "open_intro_one": "You have one open payment.",
        "open_intro_total": "You have {n} open payments, {total} in total.",
        "open_intro_many": "You have {n} open payments.",
        "open_open": "{amount} for {merchant}, due {due}.",
        "open_overdue": "{amount} for {merchant}, which is overdue: it was due {due}.",
        "open_paused": "{amount} for {merchant}, paused while your return is being processed.",
        "open_plan": "{amount} for {merchant} in instalments, {next}.",
        "instalment_of": ", instalment {k} of {n}",
        "due_first": "your next payment is {amount} for {merchant}{instalment}, due {due}.",
        "due_later": "after that, {amount} for {merchant}{instalment}, due {due}.",
        "due_overdue": "the payment of {amount} for {merchant}{instalment} is overdue: it was due {due}.",
        "refund_registered": "your return to {merchant} for {amount} was registered {date}. The merchant hasn't "
        "confirmed receiving it yet; we'll process your refund as soon as they do.",
        "refund_received": "{merchant} received your return {date}; the refund of {amount} is being processed.",
        "refund_refunded": "for your return to {merchant}, we refunded {amount} {date}.",
        "unmatched_payment": "We also received a payment of {amount} {date} that isn't assigned to an invoice "
        "yet; a colleague can sort that out for you.",
        "none": {
            Intent.PAYMENT_STATUS: "I can't see any invoices on your account.",
            Intent.OPEN_PAYMENTS: "You have no open payments: everything is paid.",
            Intent.NEXT_DUE_DATE: "You have no payments coming up.",
            Intent.REFUND_STATUS: "I can't see any returns on your account.",
        },
        "not_found": {
            Intent.PAYMENT_STATUS: "I couldn't find an invoice matching that.",
            Intent.OPEN_PAYMENTS: "I couldn't find an open payment matching that.",
            Intent.NEXT_DUE_DATE: "I couldn't find a payment matching that.",
            Intent.REFUND_STATUS: "I couldn't find a return matching that.",
        },
        "offer_one": "I can read out the other one, or connect you to a colleague.",
        "offer_many": "I can read out the other {n}, or connect you to a colleague.",
        "that_was_all": "That's everything I have.",
        "payment_options": "You can pay in the app or online, by card or direct debit, or by bank transfer. "
        "For a transfer, the account holder is {holder}. The IBAN is {iban}. "
        "Please give your customer number as the reference.",
    },
    "de": {
        "invoice_latest": "Ihre letzte Rechnung, von {merchant} über {amount},",
        "invoice": "Ihre Rechnung von {merchant} über {amount}",
        "state_paid": "wurde {paid} bezahlt.",
        "state_open": "ist offen und {due} fällig.",
        "state_overdue": "ist überfällig: sie war {due} fällig.",
        "state_paused": "ist pausiert, solange Ihre Rücksendung bearbeitet wird.",
        "state_plan": "wird in {count} Raten bezahlt: {paid}, {next}.",
        "plan_paid_none": "noch keine ist bezahlt",
        "plan_paid_one": "eine ist bezahlt",
        "plan_paid_many": "{n} sind bezahlt",
        "next_instalment": "die nächste Rate über {amount} ist {due} fällig",
        "next_instalment_overdue": "die nächste Rate über {amount} ist überfällig: sie war {due} fällig",
        "open_intro_one": "Sie haben eine offene Zahlung.",
        "open_intro_total": "Sie haben {n} offene Zahlungen, insgesamt {total}.",
        "open_intro_many": "Sie haben {n} offene Zahlungen.",
        "open_open": "{amount} für {merchant}, fällig {due}.",
        "open_overdue": "{amount} für {merchant}, überfällig: die Zahlung war {due} fällig.",
        "open_paused": "{amount} für {merchant}, pausiert, solange Ihre Rücksendung bearbeitet wird.",
        "open_plan": "{amount} für {merchant} in Raten, {next}.",
        "instalment_of": ", Rate {k} von {n}",
        "due_first": "Ihre nächste Zahlung: {amount} für {merchant}{instalment}, fällig {due}.",
        "due_later": "danach {amount} für {merchant}{instalment}, fällig {due}.",
        "due_overdue": "die Zahlung über {amount} für {merchant}{instalment} ist überfällig: "
        "sie war {due} fällig.",
        "refund_registered": "Ihre Rücksendung an {merchant} über {amount} wurde {date} angemeldet. Der Händler hat "
        "den Eingang noch nicht bestätigt; sobald er das tut, bearbeiten wir Ihre Erstattung.",
        "refund_received": "{merchant} hat Ihre Rücksendung {date} erhalten; die Erstattung über {amount} wird "
        "bearbeitet.",
        "refund_refunded": "für Ihre Rücksendung an {merchant} haben wir Ihnen {amount} {date} erstattet.",
        "unmatched_payment": "Außerdem ist {date} eine Zahlung über {amount} eingegangen, die noch keiner Rechnung "
        "zugeordnet ist; ein Mitarbeiter kann das für Sie klären.",
        "none": {
            Intent.PAYMENT_STATUS: "Ich sehe auf Ihrem Konto keine Rechnungen.",
            Intent.OPEN_PAYMENTS: "Sie haben keine offenen Zahlungen, alles ist bezahlt.",
            Intent.NEXT_DUE_DATE: "Bei Ihnen steht zurzeit keine Zahlung an.",
            Intent.REFUND_STATUS: "Ich sehe auf Ihrem Konto keine Rücksendungen.",
        },
        "not_found": {
            Intent.PAYMENT_STATUS: "Dazu habe ich keine passende Rechnung gefunden.",
            Intent.OPEN_PAYMENTS: "Dazu habe ich keine passende offene Zahlung gefunden.",
            Intent.NEXT_DUE_DATE: "Dazu habe ich keine passende Zahlung gefunden.",
            Intent.REFUND_STATUS: "Dazu habe ich keine passende Rücksendung gefunden.",
        },
        "offer_one": "Ich kann Ihnen auch die andere vorlesen oder Sie mit einem Mitarbeiter verbinden.",
        "offer_many": "Ich kann Ihnen auch die anderen {n} vorlesen oder Sie mit einem Mitarbeiter verbinden.",
        "that_was_all": "Das war alles.",
        "payment_options": "Sie können in der App oder online bezahlen, per Karte oder Lastschrift, oder per "
        "Überweisung. Für eine Überweisung: Empfänger ist {holder}. Die IBAN lautet {iban}. "
        "Bitte geben Sie Ihre Kundennummer als Verwendungszweck an.",
    },
}
