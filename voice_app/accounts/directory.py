"""The one interface the assistant reads customer accounts through.

A company plugs in its own billing system by implementing `AccountDirectory`; `SqlAccountDirectory` implements
it on the demo tables. The assistant only ever sees the frozen dataclasses below, never database rows.

Order of use in a call: find the customer (by caller ID or by the customer number they say), `verify` them
with their date of birth or postcode, and only then fetch the `summary`; `pause_invoice` is the one change a
call makes, after the caller confirmed it. Nothing here logs personal data: log
lines say what happened ("no match"), never for whom.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from voice_app.accounts.fee_schedule import FeeKind
from voice_app.accounts.models import (
    ChargedFee,
    Customer,
    CustomerPhone,
    Instalment,
    Invoice,
    Order,
    PaymentMethod,
    PaymentReceived,
    PaymentStatus,
    RefundStatus,
    ReturnRefund,
)
from voice_app.config import MIN_SECRET_KEY_LENGTH
from voice_app.pseudonyms import UNKNOWN_CALLER, normalise_phone_number, pseudonymise
from voice_app.rows import stored_id

log = logging.getLogger(__name__)

RECENT_PAYMENTS_IN_SUMMARY = 5
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
# Separators people use when they say or type a customer number: "1234 5678", "1234-5678", "1234/5678".
_CUSTOMER_NUMBER_SEPARATORS = re.compile(r"[\s\-/.]+")


class UnknownCustomerError(LookupError):
    """The customer id does not (or no longer) exist in the directory."""


class CannotPauseError(ValueError):
    """The invoice is not the customer's, or not one that can be paused (paid, or paid in instalments)."""


@dataclass(frozen=True)
class Money:
    cents: int  # minor units: cents, pence, Rappen
    currency: str  # ISO 4217, upper case

    def __post_init__(self) -> None:
        if isinstance(self.cents, bool) or not isinstance(self.cents, int) or self.cents < 0:
            raise ValueError(f"an amount must be a non-negative integer of minor units, not {self.cents!r}")
        if not isinstance(self.currency, str) or not _CURRENCY_CODE.match(self.currency):
            raise ValueError(f"a currency must be an upper-case ISO 4217 code, not {self.currency!r}")


@dataclass(frozen=True)
class CustomerRef:
    """What is known about a caller before verification: an opaque key and the language to speak."""

    customer_id: str
    preferred_language: str


@dataclass(frozen=True)
class InstalmentInfo:
    number: int
    count: int
    amount: Money
    due_date: date
    status: PaymentStatus
    paid_date: date | None


@dataclass(frozen=True)
class InvoiceInfo:
    invoice_id: str
    merchant: str
    order_date: date
    amount: Money
    due_date: date
    status: PaymentStatus
    paid_date: date | None
    instalments: tuple[InstalmentInfo, ...] = ()  # by number; empty unless paid in instalments
    paused_until: date | None = None  # set while paused for a return; the due date has moved to it

    @property
    def can_be_paused(self) -> bool:
        """Only an unpaid invoice paid at once: an instalment plan has a due date per part, which a person sorts out."""
        return self.status is not PaymentStatus.PAID and not self.instalments

    @property
    def outstanding(self) -> Money:
        """What is still to be paid: the unpaid instalments, or the whole amount until the invoice is paid."""
        if self.status is PaymentStatus.PAID:
            return Money(0, self.amount.currency)
        if self.instalments:
            unpaid = sum(part.amount.cents for part in self.instalments if part.status is not PaymentStatus.PAID)
            return Money(unpaid, self.amount.currency)
        return self.amount

    @property
    def next_instalment(self) -> InstalmentInfo | None:
        return next((part for part in self.instalments if part.status is not PaymentStatus.PAID), None)


@dataclass(frozen=True)
class RefundInfo:
    refund_id: str
    merchant: str
    order_date: date
    amount: Money
    status: RefundStatus
    registered_date: date
    received_date: date | None
    refunded_date: date | None


@dataclass(frozen=True)
class FeeInfo:
    kind: FeeKind
    amount: Money
    invoice_id: str
    merchant: str
    charged_date: date
    schedule_version: str


@dataclass(frozen=True)
class PaymentInfo:
    amount: Money
    received_date: date
    method: PaymentMethod
    merchant: str | None  # None when the payment is not (yet) matched to an invoice


@dataclass(frozen=True, repr=False)
class AccountSummary:
    """Everything the spoken answers need about one verified customer. Lists are newest first."""

    customer_id: str
    customer_number: str
    first_name: str
    last_name: str
    preferred_language: str
    invoices: tuple[InvoiceInfo, ...]  # by order date, newest first
    refunds: tuple[RefundInfo, ...]  # by registration date, newest first
    recent_payments: tuple[PaymentInfo, ...]  # the last few, newest first
    fees: tuple[FeeInfo, ...] = ()  # charged fees, newest first

    def __repr__(self) -> str:
        # Purchases and names are personal data: an accidental log of a summary must not spill them.
        return (
            f"AccountSummary(customer_id={self.customer_id!r}, invoices={len(self.invoices)}, "
            f"refunds={len(self.refunds)}, recent_payments={len(self.recent_payments)}, fees={len(self.fees)})"
        )

    @property
    def unpaid_invoices(self) -> tuple[InvoiceInfo, ...]:
        return tuple(invoice for invoice in self.invoices if invoice.status is not PaymentStatus.PAID)

    @property
    def overdue_invoices(self) -> tuple[InvoiceInfo, ...]:
        return tuple(invoice for invoice in self.invoices if invoice.status is PaymentStatus.OVERDUE)

    @property
    def paid_invoices(self) -> tuple[InvoiceInfo, ...]:
        return tuple(invoice for invoice in self.invoices if invoice.status is PaymentStatus.PAID)

    @property
    def merchants(self) -> tuple[str, ...]:
        """Every merchant the customer bought from, once each, newest purchase first."""
        names = [invoice.merchant for invoice in self.invoices] + [refund.merchant for refund in self.refunds]
        return tuple(dict.fromkeys(names))


@runtime_checkable
class AccountDirectory(Protocol):
    def find_by_phone(self, e164: str) -> CustomerRef | None:
        """The customer who registered this number; None when nobody or more than one customer did."""

    def find_by_customer_number(self, number: str) -> CustomerRef | None:
        """The customer with this number; spaces and dashes as people say or type them are ignored."""

    def verify(self, customer_id: str, *, date_of_birth: date | None = None, postcode: str | None = None) -> bool:
        """True when every given detail matches. Compares in constant time and never says which one failed."""

    def summary(self, customer_id: str) -> AccountSummary:
        """The customer's account; raises UnknownCustomerError for an unknown id. Only after `verify`."""

    def pause_invoice(self, customer_id: str, invoice_id: str, *, until: date) -> date:
        """Pauses the customer's unpaid invoice until `until` (no reminders or fees meanwhile; the due date moves
        to the end of the pause) and returns the new due date. Raises UnknownCustomerError for an unknown
        customer, CannotPauseError for an invoice that is not theirs or cannot be paused. Only after `verify`
        and the caller's confirmation."""


def normalise_customer_number(number: str) -> str | None:
    """The digits of a customer number as said or typed, or None when it is not one."""
    if not isinstance(number, str):
        return None
    digits = _CUSTOMER_NUMBER_SEPARATORS.sub("", number)
    return digits if digits.isascii() and digits.isdigit() else None


def normalise_postcode(postcode: str) -> str:
    """Case and spaces do not matter in a postcode: 'sw1a 1aa' is 'SW1A1AA'."""
    return "".join(postcode.split()).upper()


def _same_secret(given: str, stored: str) -> bool:
    # Comparing digests keeps the time independent of where the strings differ and of their lengths.
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), hashlib.sha256(stored.encode()).digest())


class SqlAccountDirectory:
    """`AccountDirectory` on the demo tables (models.py)."""

    def __init__(self, engine: Engine, secret_key: str):
        if not isinstance(secret_key, str) or len(secret_key) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(f"the secret key must be at least {MIN_SECRET_KEY_LENGTH} characters")
        self._engine = engine
        self._secret_key = secret_key

    def find_by_phone(self, e164: str) -> CustomerRef | None:
        number = normalise_phone_number(e164) if isinstance(e164, str) else None
        if number is None:
            log.info("phone lookup: not a valid number")
            return None
        pseudonym = pseudonymise(number, self._secret_key)
        if pseudonym == UNKNOWN_CALLER:
            return None
        with Session(self._engine) as session:
            customers = session.exec(
                select(Customer)
                .join(CustomerPhone, col(CustomerPhone.customer_id) == col(Customer.id))
                .where(CustomerPhone.phone_pseudonym == pseudonym)
                .distinct()
                .limit(2)
            ).all()
        if len(customers) != 1:
            # A number shared by two customers (a household) cannot tell them apart: ask for the number instead.
            log.info("phone lookup: %s", "no match" if not customers else "shared number, not used")
            return None
        log.info("phone lookup: match")
        return _reference(customers[0])

    def find_by_customer_number(self, number: str) -> CustomerRef | None:
        digits = normalise_customer_number(number)
        if digits is None:
            log.info("customer number lookup: not a customer number")
            return None
        with Session(self._engine) as session:
            customer = session.exec(select(Customer).where(Customer.customer_number == digits)).first()
        log.info("customer number lookup: %s", "match" if customer else "no match")
        return _reference(customer) if customer else None

    def verify(self, customer_id: str, *, date_of_birth: date | None = None, postcode: str | None = None) -> bool:
        if date_of_birth is None and postcode is None:
            raise ValueError("verify needs a date of birth, a postcode or both")
        if date_of_birth is not None and not _is_plain_date(date_of_birth):
            raise ValueError(f"date_of_birth must be a date, not {type(date_of_birth).__name__}")
        if postcode is not None and not isinstance(postcode, str):
            raise ValueError(f"postcode must be a string, not {type(postcode).__name__}")
        customer = self._customer(customer_id)
        # An unknown id is compared against placeholders, so it takes as long as a wrong answer and fails the same.
        stored_birth = customer.date_of_birth.isoformat() if customer else "unknown"
        stored_postcode = normalise_postcode(customer.postcode) if customer else "unknown"
        matches = customer is not None
        if date_of_birth is not None:
            matches &= _same_secret(date_of_birth.isoformat(), stored_birth)
        if postcode is not None:
            matches &= _same_secret(normalise_postcode(postcode), stored_postcode)
        log.info("verification: %s", "passed" if matches else "failed")
        return matches

    def summary(self, customer_id: str) -> AccountSummary:
        customer = self._customer(customer_id)
        if customer is None:
            raise UnknownCustomerError("no customer with this id")
        with Session(self._engine) as session:
            invoice_rows = session.exec(
                select(Invoice, Order)
                .join(Order, col(Invoice.order_id) == col(Order.id))
                .where(Invoice.customer_id == customer.id)
                .order_by(col(Order.order_date).desc(), col(Invoice.id).desc())
            ).all()
            currency_by_invoice = {invoice.id: invoice.currency for invoice, _ in invoice_rows}
            instalments_by_invoice: dict[int, list[InstalmentInfo]] = {}
            for part in session.exec(
                select(Instalment)
                .where(col(Instalment.invoice_id).in_(list(currency_by_invoice)))
                .order_by(col(Instalment.number))
            ).all():
                instalments_by_invoice.setdefault(part.invoice_id, []).append(
                    InstalmentInfo(
                        number=part.number,
                        count=part.instalment_count,
                        amount=Money(part.amount_cents, currency_by_invoice[part.invoice_id]),
                        due_date=part.due_date,
                        status=PaymentStatus(part.status),
                        paid_date=part.paid_date,
                    )
                )
            refund_rows = session.exec(
                select(ReturnRefund, Order)
                .join(Order, col(ReturnRefund.order_id) == col(Order.id))
                .where(ReturnRefund.customer_id == customer.id)
                .order_by(col(ReturnRefund.registered_date).desc(), col(ReturnRefund.id).desc())
            ).all()
            fee_rows = session.exec(
                select(ChargedFee, Order.merchant)
                .join(Invoice, col(ChargedFee.invoice_id) == col(Invoice.id))
                .join(Order, col(Invoice.order_id) == col(Order.id))
                .where(ChargedFee.customer_id == customer.id)
                .order_by(col(ChargedFee.charged_date).desc(), col(ChargedFee.id).desc())
            ).all()
            payment_rows = session.exec(
                select(PaymentReceived, Order.merchant)
                .outerjoin(Invoice, col(PaymentReceived.invoice_id) == col(Invoice.id))
                .outerjoin(Order, col(Invoice.order_id) == col(Order.id))
                .where(PaymentReceived.customer_id == customer.id)
                .order_by(col(PaymentReceived.received_date).desc(), col(PaymentReceived.id).desc())
                .limit(RECENT_PAYMENTS_IN_SUMMARY)
            ).all()
        return AccountSummary(
            customer_id=str(customer.id),
            customer_number=customer.customer_number,
            first_name=customer.first_name,
            last_name=customer.last_name,
            preferred_language=customer.preferred_language,
            invoices=tuple(
                InvoiceInfo(
                    invoice_id=str(invoice.id),
                    merchant=order.merchant,
                    order_date=order.order_date,
                    amount=Money(invoice.amount_cents, invoice.currency),
                    due_date=invoice.due_date,
                    status=PaymentStatus(invoice.status),
                    paid_date=invoice.paid_date,
                    instalments=tuple(instalments_by_invoice.get(stored_id(invoice), ())),
                    paused_until=invoice.paused_until,
                )
                for invoice, order in invoice_rows
            ),
            refunds=tuple(
                RefundInfo(
                    refund_id=str(refund.id),
                    merchant=order.merchant,
                    order_date=order.order_date,
                    amount=Money(refund.amount_cents, refund.currency),
                    status=RefundStatus(refund.status),
                    registered_date=refund.registered_date,
                    received_date=refund.received_date,
                    refunded_date=refund.refunded_date,
                )
                for refund, order in refund_rows
            ),
            recent_payments=tuple(
                PaymentInfo(
                    amount=Money(payment.amount_cents, payment.currency),
                    received_date=payment.received_date,
                    method=PaymentMethod(payment.method),
                    merchant=merchant,
                )
                for payment, merchant in payment_rows
            ),
            fees=tuple(
                FeeInfo(
                    kind=FeeKind(fee.kind),
                    amount=Money(fee.amount_cents, fee.currency),
                    invoice_id=str(fee.invoice_id),
                    merchant=merchant,
                    charged_date=fee.charged_date,
                    schedule_version=fee.schedule_version,
                )
                for fee, merchant in fee_rows
            ),
        )

    def pause_invoice(self, customer_id: str, invoice_id: str, *, until: date) -> date:
        if not _is_plain_date(until):
            raise ValueError(f"until must be a date, not {type(until).__name__}")
        customer = self._customer(customer_id)
        if customer is None:
            raise UnknownCustomerError("no customer with this id")
        if not isinstance(invoice_id, str) or not invoice_id.isascii() or not invoice_id.isdigit():
            raise CannotPauseError("not an invoice id")
        with Session(self._engine) as session:
            invoice = session.exec(
                select(Invoice)
                .where(Invoice.id == int(invoice_id), Invoice.customer_id == customer.id)
                .with_for_update()
            ).first()
            if invoice is None:
                raise CannotPauseError("no such invoice of this customer")
            has_instalments = session.exec(select(Instalment.id).where(Instalment.invoice_id == invoice.id)).first()
            if invoice.status == PaymentStatus.PAID or has_instalments is not None:
                raise CannotPauseError("the invoice is paid or paid in instalments")
            invoice.status = PaymentStatus.PAUSED
            invoice.paused_until = until
            invoice.due_date = max(invoice.due_date, until)
            new_due_date = invoice.due_date
            session.add(invoice)
            session.commit()
        log.info("invoice paused")
        return new_due_date

    def _customer(self, customer_id: str) -> Customer | None:
        if not isinstance(customer_id, str) or not customer_id.isascii() or not customer_id.isdigit():
            return None
        with Session(self._engine) as session:
            return session.get(Customer, int(customer_id))


def _reference(customer: Customer) -> CustomerRef:
    return CustomerRef(customer_id=str(customer.id), preferred_language=customer.preferred_language)


def _is_plain_date(value: object) -> bool:
    # datetime is a subclass of date, but its isoformat() would never equal a stored birth date.
    return isinstance(value, date) and not isinstance(value, datetime)
