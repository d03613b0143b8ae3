"""Demo account tables: customers, their orders, invoices, instalments, payments, returns and charged fees.

A company with its own billing system does not need these tables: it implements `AccountDirectory`
(directory.py) on its system instead. They exist so the assistant can be demonstrated and tested end to end.

Money is always integer minor units (cents, pence) next to an ISO 4217 code: floats cannot hold 49.90 exactly.

Statuses are plain strings guarded by CHECK constraints rather than SQL enums, so the stored values are the
readable StrEnum values below and a schema change never needs an enum migration.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from enum import StrEnum

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from voice_app.accounts.fee_schedule import FeeKind
from voice_app.config import SUPPORTED_LANGUAGES
from voice_app.rows import table_of


class PaymentStatus(StrEnum):
    """Status of an invoice or of one instalment of it."""

    OPEN = "open"
    PAID = "paid"
    OVERDUE = "overdue"
    PAUSED = "paused"  # payment is on hold, typically while a return is being processed


class RefundStatus(StrEnum):
    REGISTERED = "registered"  # the customer announced the return; the merchant has not confirmed it yet
    RECEIVED_BY_MERCHANT = "received_by_merchant"
    REFUNDED = "refunded"


class PaymentMethod(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    CARD = "card"
    DIRECT_DEBIT = "direct_debit"


def _one_of(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(repr(str(value)) for value in values)})"


def _currency_check(table: str) -> CheckConstraint:
    return CheckConstraint("length(currency) = 3", name=f"ck_{table}_currency")


class Customer(SQLModel, table=True):
    __tablename__ = "account_customers"
    __table_args__ = (
        CheckConstraint(_one_of("preferred_language", SUPPORTED_LANGUAGES), name="ck_account_customers_language"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_number: str = Field(unique=True, index=True, max_length=16, description="digits only")
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    date_of_birth: date
    postcode: str = Field(max_length=16)
    preferred_language: str = Field(max_length=2)


class CustomerPhone(SQLModel, table=True):
    """A number the customer calls from, kept only as its HMAC pseudonym (see `voice_app.pseudonyms`).

    The number is needed for one thing only: recognising the caller. An equality match on the keyed hash of the
    caller ID does that without the number being stored, so a leaked table does not give out phone numbers, and
    the key makes guessing impossible (a plain SHA-256 of the ~10^10 possible numbers is reversible in minutes).
    It is the same pseudonym as `Call.caller`, so calls and customers can be linked for an access request.
    The price: the number cannot be shown or dialled from here, and rotating the secret key unlinks all phones.
    """

    __tablename__ = "account_customer_phones"
    __table_args__ = (UniqueConstraint("customer_id", "phone_pseudonym", name="uq_account_customer_phones"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="account_customers.id", index=True)
    phone_pseudonym: str = Field(index=True, max_length=64)


class Order(SQLModel, table=True):
    __tablename__ = "account_orders"
    __table_args__ = (
        CheckConstraint("amount_cents >= 0", name="ck_account_orders_amount"),
        _currency_check("account_orders"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="account_customers.id", index=True)
    merchant: str = Field(max_length=100)
    order_date: date
    amount_cents: int
    currency: str = Field(max_length=3)


class Invoice(SQLModel, table=True):
    """What the customer owes for one order. When it is paid in instalments, `due_date` is the last instalment's
    due date and the status summarises the instalments (overdue as soon as one of them is)."""

    __tablename__ = "account_invoices"
    __table_args__ = (
        CheckConstraint("amount_cents >= 0", name="ck_account_invoices_amount"),
        _currency_check("account_invoices"),
        CheckConstraint(_one_of("status", PaymentStatus), name="ck_account_invoices_status"),
        CheckConstraint("(status = 'paid') = (paid_date IS NOT NULL)", name="ck_account_invoices_paid_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="account_orders.id", index=True)
    customer_id: int = Field(foreign_key="account_customers.id", index=True)
    amount_cents: int
    currency: str = Field(max_length=3)
    due_date: date
    status: str = Field(max_length=16)
    paid_date: date | None = None
    # While paused (a return the merchant has not confirmed yet): no reminders or fees until this day, to which
    # the due date has moved.
    paused_until: date | None = None


class Instalment(SQLModel, table=True):
    """One part of an invoice paid in instalments ("2 of 4"). A separate table rather than extra invoice rows:
    the customer bought one thing and thinks of one invoice, while each part has its own due date and status."""

    __tablename__ = "account_instalments"
    __table_args__ = (
        UniqueConstraint("invoice_id", "number", name="uq_account_instalments_number"),
        CheckConstraint("number >= 1 AND number <= instalment_count", name="ck_account_instalments_number"),
        CheckConstraint("amount_cents >= 0", name="ck_account_instalments_amount"),
        CheckConstraint(_one_of("status", PaymentStatus), name="ck_account_instalments_status"),
        CheckConstraint("(status = 'paid') = (paid_date IS NOT NULL)", name="ck_account_instalments_paid_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="account_invoices.id", index=True)
    number: int
    instalment_count: int
    amount_cents: int
    due_date: date
    status: str = Field(max_length=16)
    paid_date: date | None = None


class PaymentReceived(SQLModel, table=True):
    """Money that reached us. `invoice_id` is empty when a payment could not be matched to an invoice yet
    (a transfer without a usable reference), which is exactly what callers who "already paid" ask about."""

    __tablename__ = "account_payments"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="ck_account_payments_amount"),
        _currency_check("account_payments"),
        CheckConstraint(_one_of("method", PaymentMethod), name="ck_account_payments_method"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="account_customers.id", index=True)
    invoice_id: int | None = Field(default=None, foreign_key="account_invoices.id", index=True)
    amount_cents: int
    currency: str = Field(max_length=3)
    received_date: date
    method: str = Field(max_length=16)


class ReturnRefund(SQLModel, table=True):
    __tablename__ = "account_refunds"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="ck_account_refunds_amount"),
        _currency_check("account_refunds"),
        CheckConstraint(_one_of("status", RefundStatus), name="ck_account_refunds_status"),
        CheckConstraint("(status = 'registered') = (received_date IS NULL)", name="ck_account_refunds_received_date"),
        CheckConstraint("(status = 'refunded') = (refunded_date IS NOT NULL)", name="ck_account_refunds_refunded_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="account_orders.id", index=True)
    customer_id: int = Field(foreign_key="account_customers.id", index=True)
    status: str = Field(max_length=24)
    amount_cents: int
    currency: str = Field(max_length=3)
    registered_date: date
    received_date: date | None = None
    refunded_date: date | None = None


class ChargedFee(SQLModel, table=True):
    """A fee charged on an invoice under the fee schedule (voice_app/accounts/data/fee_schedule.toml): which one,
    how much, when, and under which version of the schedule, so an old charge is explained by the terms it was
    charged under."""

    __tablename__ = "account_fees"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="ck_account_fees_amount"),
        _currency_check("account_fees"),
        CheckConstraint(_one_of("kind", FeeKind), name="ck_account_fees_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="account_invoices.id", index=True)
    customer_id: int = Field(foreign_key="account_customers.id", index=True)
    kind: str = Field(max_length=16)
    amount_cents: int
    currency: str = Field(max_length=3)
    charged_date: date
    schedule_version: str = Field(max_length=16)


# Children before parents: the order in which rows can be deleted with foreign keys enforced.
ACCOUNT_TABLES_CHILDREN_FIRST: tuple[type[SQLModel], ...] = (
    PaymentReceived,
    ReturnRefund,
    ChargedFee,
    Instalment,
    Invoice,
    Order,
    CustomerPhone,
    Customer,
)


def create_account_tables(engine: Engine) -> None:
    """Creates the demo account tables (only these) if they are missing."""
    SQLModel.metadata.create_all(engine, tables=[table_of(model) for model in reversed(ACCOUNT_TABLES_CHILDREN_FIRST)])
