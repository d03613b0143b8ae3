"""A deterministic demo set of customers for the demo tables, with dates relative to a given day.

Every invoice that is overdue carries the fees the fee schedule (fee_schedule.toml) charges by `today`: derived
from its due date after the customers are made, so adding fees did not change who the generated customers are.

Three hand-written fixtures have stable facts for tests and live demos (`WELL_KNOWN_GERMAN`,
`WELL_KNOWN_ENGLISH`, `MANY_OPEN_ITEMS`); the other customers come from a seeded random generator, so every run
produces the same people, purchases and amounts. `demo_customers(today)` returns exactly what `seed_demo` writes,
phone numbers in clear included: they exist in this code only, the database holds their pseudonyms.

Seeding replaces the demo customers (matched by customer number) and everything hanging off them in one
transaction, rather than skipping them: the dates are relative to `today`, so a demo seeded last week would
otherwise show stale "due tomorrow" invoices. Customers that are not in the demo set are never touched.

Longer than most modules because most of it is data: the hand-written customers and their purchases.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import partial

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from voice_app.accounts.fee_schedule import FeeKind, FeeSchedule, fee_schedule
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
    create_account_tables,
)
from voice_app.config import MIN_SECRET_KEY_LENGTH
from voice_app.pseudonyms import normalise_phone_number, pseudonymise
from voice_app.rows import stored_id

DEMO_SEED = 20240611
GENERATED_CUSTOMERS = {"de": 9, "uk": 8, "expat": 2}  # an "expat" speaks English, lives in Germany, pays in euros
INSTALMENT_COUNT = 4
INSTALMENT_INTERVAL_DAYS = 30

WELL_KNOWN_GERMAN = "40217735"
WELL_KNOWN_ENGLISH = "73150482"
MANY_OPEN_ITEMS = "55820917"


@dataclass(frozen=True)
class DemoInstalment:
    number: int
    count: int
    amount_cents: int
    due_date: date
    status: PaymentStatus
    paid_date: date | None


@dataclass(frozen=True)
class DemoRefund:
    amount_cents: int
    status: RefundStatus
    registered_date: date
    received_date: date | None = None
    refunded_date: date | None = None


@dataclass(frozen=True)
class DemoFee:
    kind: FeeKind
    amount_cents: int
    charged_date: date
    schedule_version: str


@dataclass(frozen=True)
class DemoOrder:
    """An order with its invoice, paid at once or in instalments, and at most one return."""

    merchant: str
    order_date: date
    amount_cents: int
    currency: str
    due_date: date
    status: PaymentStatus
    paid_date: date | None = None
    payment_method: PaymentMethod = PaymentMethod.CARD
    instalments: tuple[DemoInstalment, ...] = ()
    refund: DemoRefund | None = None
    fees: tuple[DemoFee, ...] = ()


@dataclass(frozen=True)
class DemoPayment:
    """A payment not matched to any invoice."""

    amount_cents: int
    currency: str
    received_date: date
    method: PaymentMethod


@dataclass(frozen=True)
class DemoCustomer:
    customer_number: str
    first_name: str
    last_name: str
    date_of_birth: date
    postcode: str
    language: str
    phones: tuple[str, ...]  # E.164
    orders: tuple[DemoOrder, ...]
    unmatched_payments: tuple[DemoPayment, ...] = ()

    @property
    def latest_order(self) -> DemoOrder:
        return max(self.orders, key=lambda order: order.order_date)

    @property
    def unpaid_orders(self) -> tuple[DemoOrder, ...]:
        return tuple(order for order in self.orders if order.status is not PaymentStatus.PAID)

    @property
    def refunds(self) -> tuple[tuple[DemoOrder, DemoRefund], ...]:
        return tuple((order, order.refund) for order in self.orders if order.refund is not None)


@dataclass(frozen=True)
class SeedReport:
    customers: int
    phones: int
    orders: int
    invoices: int
    instalments: int
    payments: int
    refunds: int
    replaced_customers: int  # demo customers that existed before and were written afresh
    fees: int = 0


def demo_customers(today: date) -> tuple[DemoCustomer, ...]:
    """The demo set as `seed_demo(..., today=today)` writes it."""
    _check_today(today)
    rng = random.Random(DEMO_SEED)
    fixtures = _fixtures(today)
    used_numbers = {customer.customer_number for customer in fixtures}
    used_phones = {phone for customer in fixtures for phone in customer.phones}
    generated = [
        _generated_customer(rng, home, today, used_numbers, used_phones)
        for home, count in GENERATED_CUSTOMERS.items()
        for _ in range(count)
    ]
    schedule = fee_schedule()
    return tuple(_with_fees(customer, schedule, today) for customer in (*fixtures, *generated))


def _with_fees(customer: DemoCustomer, schedule: FeeSchedule, today: date) -> DemoCustomer:
    return replace(customer, orders=tuple(_order_with_fees(order, schedule, today) for order in customer.orders))


def _order_with_fees(order: DemoOrder, schedule: FeeSchedule, today: date) -> DemoOrder:
    if order.status is not PaymentStatus.OVERDUE:
        return order
    # Of an instalment plan, the fees run from the first instalment that was missed.
    missed = [part.due_date for part in order.instalments if part.status is PaymentStatus.OVERDUE]
    since = min(missed) if missed else order.due_date
    terms = schedule.terms(order.currency)
    fees = tuple(
        DemoFee(kind, terms.fee_cents(kind), charged, schedule.version)
        for kind, charged in terms.fees_due(since, today)
        if terms.fee_cents(kind) > 0
    )
    return replace(order, fees=fees)


def demo_customer(customer_number: str, today: date) -> DemoCustomer:
    for customer in demo_customers(today):
        if customer.customer_number == customer_number:
            return customer
    raise KeyError(f"no demo customer {customer_number}")


def seed_demo(engine: Engine, secret_key: str, *, today: date) -> SeedReport:
    """Writes the demo set, replacing an earlier one; creates the account tables when they are missing."""
    if not isinstance(secret_key, str) or len(secret_key) < MIN_SECRET_KEY_LENGTH:
        raise ValueError(f"the secret key must be at least {MIN_SECRET_KEY_LENGTH} characters")
    customers = demo_customers(today)
    create_account_tables(engine)
    counts = dict.fromkeys(("phones", "orders", "invoices", "instalments", "payments", "refunds", "fees"), 0)
    with Session(engine) as session:
        replaced = _delete_customers(session, [customer.customer_number for customer in customers])
        for customer in customers:
            for kind, added in _add_customer(session, customer, secret_key).items():
                counts[kind] += added
        session.commit()
    return SeedReport(customers=len(customers), replaced_customers=replaced, **counts)


def _check_today(today: date) -> None:
    if not isinstance(today, date) or isinstance(today, datetime):
        raise ValueError(f"today must be a date, not {type(today).__name__}")


def _delete_customers(session: Session, customer_numbers: list[str]) -> int:
    customer_ids = session.exec(select(Customer.id).where(col(Customer.customer_number).in_(customer_numbers))).all()
    if not customer_ids:
        return 0
    invoice_ids = select(Invoice.id).where(col(Invoice.customer_id).in_(customer_ids))
    session.execute(delete(PaymentReceived).where(col(PaymentReceived.customer_id).in_(customer_ids)))
    session.execute(delete(ReturnRefund).where(col(ReturnRefund.customer_id).in_(customer_ids)))
    session.execute(delete(ChargedFee).where(col(ChargedFee.customer_id).in_(customer_ids)))
    session.execute(delete(Instalment).where(col(Instalment.invoice_id).in_(invoice_ids)))
    session.execute(delete(Invoice).where(col(Invoice.customer_id).in_(customer_ids)))
    session.execute(delete(Order).where(col(Order.customer_id).in_(customer_ids)))
    session.execute(delete(CustomerPhone).where(col(CustomerPhone.customer_id).in_(customer_ids)))
    session.execute(delete(Customer).where(col(Customer.id).in_(customer_ids)))
    return len(customer_ids)


def _add_customer(session: Session, demo: DemoCustomer, secret_key: str) -> dict[str, int]:
    counts = dict.fromkeys(("phones", "orders", "invoices", "instalments", "payments", "refunds", "fees"), 0)
    customer = Customer(
        customer_number=demo.customer_number,
        first_name=demo.first_name,
        last_name=demo.last_name,
        date_of_birth=demo.date_of_birth,
        postcode=demo.postcode,
        preferred_language=demo.language,
    )
    session.add(customer)
    session.flush()
    customer_id = stored_id(customer)
    for phone in demo.phones:
        session.add(CustomerPhone(customer_id=customer_id, phone_pseudonym=pseudonymise(phone, secret_key)))
        counts["phones"] += 1
    for demo_order in demo.orders:
        order = Order(
            customer_id=customer_id,
            merchant=demo_order.merchant,
            order_date=demo_order.order_date,
            amount_cents=demo_order.amount_cents,
            currency=demo_order.currency,
        )
        session.add(order)
        session.flush()
        invoice = Invoice(
            order_id=stored_id(order),
            customer_id=customer_id,
            amount_cents=demo_order.amount_cents,
            currency=demo_order.currency,
            due_date=demo_order.due_date,
            status=demo_order.status,
            paid_date=demo_order.paid_date,
        )
        session.add(invoice)
        session.flush()
        invoice_id = stored_id(invoice)
        counts["orders"] += 1
        counts["invoices"] += 1
        record_payment = partial(
            PaymentReceived,
            customer_id=customer_id,
            invoice_id=invoice_id,
            currency=demo_order.currency,
            method=demo_order.payment_method,
        )
        for part in demo_order.instalments:
            session.add(
                Instalment(
                    invoice_id=invoice_id,
                    number=part.number,
                    instalment_count=part.count,
                    amount_cents=part.amount_cents,
                    due_date=part.due_date,
                    status=part.status,
                    paid_date=part.paid_date,
                )
            )
            counts["instalments"] += 1
            if part.paid_date is not None:
                session.add(record_payment(amount_cents=part.amount_cents, received_date=part.paid_date))
                counts["payments"] += 1
        if not demo_order.instalments and demo_order.paid_date is not None:
            session.add(record_payment(amount_cents=demo_order.amount_cents, received_date=demo_order.paid_date))
            counts["payments"] += 1
        for fee in demo_order.fees:
            session.add(
                ChargedFee(
                    invoice_id=invoice_id,
                    customer_id=customer_id,
                    kind=fee.kind,
                    amount_cents=fee.amount_cents,
                    currency=demo_order.currency,
                    charged_date=fee.charged_date,
                    schedule_version=fee.schedule_version,
                )
            )
            counts["fees"] += 1
        if demo_order.refund is not None:
            refund = demo_order.refund
            session.add(
                ReturnRefund(
                    order_id=stored_id(order),
                    customer_id=customer_id,
                    status=refund.status,
                    amount_cents=refund.amount_cents,
                    currency=demo_order.currency,
                    registered_date=refund.registered_date,
                    received_date=refund.received_date,
                    refunded_date=refund.refunded_date,
                )
            )
            counts["refunds"] += 1
    for payment in demo.unmatched_payments:
        session.add(
            PaymentReceived(
                customer_id=customer_id,
                invoice_id=None,
                amount_cents=payment.amount_cents,
                currency=payment.currency,
                received_date=payment.received_date,
                method=payment.method,
            )
        )
        counts["payments"] += 1
    return counts


# --- the hand-written fixtures ------------------------------------------------------------------------------


def _fixtures(today: date) -> tuple[DemoCustomer, ...]:
    def day(offset: int) -> date:
        return today + timedelta(days=offset)

    anna = DemoCustomer(
        customer_number=WELL_KNOWN_GERMAN,
        first_name="Anna",
        last_name="Becker",
        date_of_birth=date(1986, 3, 14),
        postcode="10115",
        language="de",
        phones=("+4915123456789",),
        orders=(
            DemoOrder(
                "Otto", day(-75), 12000, "EUR", day(-45), PaymentStatus.PAID, day(-50), PaymentMethod.BANK_TRANSFER
            ),
            DemoOrder(
                "H&M",
                day(-25),
                5998,
                "EUR",
                day(5),
                PaymentStatus.PAID,
                day(-20),
                PaymentMethod.CARD,
                refund=DemoRefund(2999, RefundStatus.REGISTERED, day(-3)),
            ),
            DemoOrder("MediaMarkt", day(-16), 4990, "EUR", day(14), PaymentStatus.OPEN),
            DemoOrder("Zalando", day(-6), 8995, "EUR", day(24), PaymentStatus.PAID, day(-2), PaymentMethod.CARD),
        ),
    )
    james = DemoCustomer(
        customer_number=WELL_KNOWN_ENGLISH,
        first_name="James",
        last_name="Whitfield",
        date_of_birth=date(1991, 7, 21),
        postcode="EC1A 1BB",
        language="en",
        phones=("+447911123456", "+447400123456"),
        orders=(
            DemoOrder(
                "Currys",
                day(-35),
                59996,
                "GBP",
                day(55),
                PaymentStatus.OPEN,
                payment_method=PaymentMethod.DIRECT_DEBIT,
                instalments=(
                    DemoInstalment(1, 4, 14999, day(-35), PaymentStatus.PAID, day(-35)),
                    DemoInstalment(2, 4, 14999, day(-5), PaymentStatus.PAID, day(-6)),
                    DemoInstalment(3, 4, 14999, day(25), PaymentStatus.OPEN, None),
                    DemoInstalment(4, 4, 14999, day(55), PaymentStatus.OPEN, None),
                ),
            ),
            DemoOrder(
                "Boohoo",
                day(-28),
                4800,
                "GBP",
                day(2),
                PaymentStatus.PAID,
                day(-20),
                PaymentMethod.CARD,
                refund=DemoRefund(2400, RefundStatus.REFUNDED, day(-18), day(-14), day(-12)),
            ),
            DemoOrder(
                "JD Sports",
                day(-20),
                6500,
                "GBP",
                day(10),
                PaymentStatus.PAID,
                day(-15),
                PaymentMethod.CARD,
                refund=DemoRefund(6500, RefundStatus.REGISTERED, day(-2)),
            ),
            DemoOrder("Argos", day(-12), 4990, "GBP", day(18), PaymentStatus.OPEN),
            DemoOrder("ASOS", day(-3), 3550, "GBP", day(27), PaymentStatus.PAID, day(-1), PaymentMethod.CARD),
        ),
    )
    klaus = DemoCustomer(
        customer_number=MANY_OPEN_ITEMS,
        first_name="Klaus",
        last_name="Wagner",
        date_of_birth=date(1972, 11, 2),
        postcode="80331",
        language="de",
        phones=("+4917612345678",),
        orders=(
            DemoOrder(
                "Lufthansa", day(-90), 41200, "EUR", day(-60), PaymentStatus.PAID, day(-80), PaymentMethod.BANK_TRANSFER
            ),
            DemoOrder("Thomann", day(-60), 24900, "EUR", day(-30), PaymentStatus.OVERDUE),
            DemoOrder(
                "bonprix",
                day(-30),
                4500,
                "EUR",
                day(0),
                PaymentStatus.PAID,
                day(-25),
                PaymentMethod.CARD,
                refund=DemoRefund(4500, RefundStatus.RECEIVED_BY_MERCHANT, day(-10), day(-6)),
            ),
            DemoOrder("Tchibo", day(-20), 3995, "EUR", day(10), PaymentStatus.OPEN),
            DemoOrder("Saturn", day(-14), 12900, "EUR", day(16), PaymentStatus.OPEN),
            DemoOrder("Deutsche Bahn", day(-9), 7990, "EUR", day(21), PaymentStatus.OPEN),
            DemoOrder(
                "Zalando",
                day(-8),
                6995,
                "EUR",
                day(22),
                PaymentStatus.PAUSED,
                refund=DemoRefund(6995, RefundStatus.REGISTERED, day(-4)),
            ),
        ),
        unmatched_payments=(DemoPayment(5000, "EUR", day(-1), PaymentMethod.BANK_TRANSFER),),
    )
    return anna, james, klaus


# --- the generated customers ----------------------------------------------------------------------------------

_GERMAN_FIRST_NAMES = (
    "Lukas",
    "Sophie",
    "Maximilian",
    "Marie",
    "Jonas",
    "Lea",
    "Felix",
    "Lena",
    "Paul",
    "Hannah",
    "Leon",
    "Emma",
    "Tim",
    "Julia",
)
_GERMAN_LAST_NAMES = (
    "Müller",
    "Schmidt",
    "Fischer",
    "Weber",
    "Meyer",
    "Hoffmann",
    "Schulz",
    "Koch",
    "Richter",
    "Wolf",
    "Schröder",
    "Neumann",
)
_ENGLISH_FIRST_NAMES = (
    "Oliver",
    "Amelia",
    "Harry",
    "Olivia",
    "George",
    "Isla",
    "Jack",
    "Ava",
    "Charlie",
    "Mia",
    "Thomas",
    "Grace",
)
_ENGLISH_LAST_NAMES = (
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Davies",
    "Evans",
    "Roberts",
    "Walker",
    "Wright",
    "Hughes",
    "Clarke",
)
_GERMAN_POSTCODES = ("10115", "20095", "80331", "50667", "60311", "70173", "04109", "01067", "28195", "90402")
_UK_POSTCODES = ("M1 1AE", "LS1 1UR", "EH1 1YZ", "CF10 1EP", "BS1 4DJ", "L1 8JQ", "NE1 7RU", "G1 1XQ", "B1 1BB")
_GERMAN_MOBILE_PREFIXES = ("151", "152", "157", "160", "162", "170", "171", "172", "175", "176", "177", "178", "179")
_UK_MOBILE_PREFIXES = ("74", "75", "77", "78", "79")

# (merchant, lowest and highest price in whole units): clothing, electronics, travel.
_GERMAN_MERCHANTS = (
    ("Zalando", 20, 180),
    ("H&M", 10, 90),
    ("bonprix", 15, 120),
    ("Tchibo", 10, 80),
    ("MediaMarkt", 30, 900),
    ("Saturn", 30, 900),
    ("Cyberport", 50, 1200),
    ("Thomann", 40, 700),
    ("Deutsche Bahn", 20, 250),
    ("Lufthansa", 90, 950),
    ("FlixBus", 10, 80),
)
_UK_MERCHANTS = (
    ("ASOS", 15, 150),
    ("Boohoo", 10, 90),
    ("JD Sports", 20, 180),
    ("H&M", 10, 90),
    ("Currys", 30, 1000),
    ("Argos", 10, 400),
    ("easyJet", 40, 450),
    ("Trainline", 15, 200),
    ("Jet2holidays", 300, 1800),
)
_PRICE_ENDINGS = (0, 49, 50, 90, 95, 99)
_PAYMENT_TERMS_DAYS = (14, 30)


def _generated_customer(
    rng: random.Random, home: str, today: date, used_numbers: set[str], used_phones: set[str]
) -> DemoCustomer:
    german = home == "de"
    customer_number = _unique(used_numbers, lambda: str(rng.randrange(10_000_000, 100_000_000)))
    german_phone = partial(_unique_phone, rng, used_phones, "+49", _GERMAN_MOBILE_PREFIXES, 8)
    uk_phone = partial(_unique_phone, rng, used_phones, "+44", _UK_MOBILE_PREFIXES, 8)
    phones: tuple[str, ...]
    if home == "expat":
        phones = (uk_phone(), german_phone())
    else:
        make_phone = german_phone if german else uk_phone
        phones = tuple(make_phone() for _ in range(rng.choice((1, 1, 2))))
    currency = "GBP" if home == "uk" else "EUR"
    merchants = _UK_MERCHANTS if home == "uk" else _GERMAN_MERCHANTS
    order_ages = sorted(rng.sample(range(1, 150), rng.randint(2, 5)), reverse=True)
    return DemoCustomer(
        customer_number=customer_number,
        first_name=rng.choice(_GERMAN_FIRST_NAMES if german else _ENGLISH_FIRST_NAMES),
        last_name=rng.choice(_GERMAN_LAST_NAMES if german else _ENGLISH_LAST_NAMES),
        date_of_birth=date(1950, 1, 1) + timedelta(days=rng.randrange(55 * 365)),
        postcode=rng.choice(_UK_POSTCODES if home == "uk" else _GERMAN_POSTCODES),
        language="de" if german else "en",
        phones=phones,
        orders=tuple(
            _generated_order(rng, merchants, currency, today - timedelta(days=age), today) for age in order_ages
        ),
    )


def _generated_order(
    rng: random.Random, merchants: tuple[tuple[str, int, int], ...], currency: str, order_date: date, today: date
) -> DemoOrder:
    merchant, low, high = rng.choice(merchants)
    amount_cents = rng.randint(low, high) * 100 + rng.choice(_PRICE_ENDINGS)
    method = rng.choice(tuple(PaymentMethod))
    # Pay-in-4 is offered for larger purchases only, as it is in practice.
    if amount_cents >= 15000 and rng.random() < 0.35:
        return _instalment_order(rng, merchant, amount_cents, currency, order_date, today, method)
    due_date = order_date + timedelta(days=rng.choice(_PAYMENT_TERMS_DAYS))
    paid_date = None
    if rng.random() < (0.85 if due_date < today else 0.4):
        paid_date = min(order_date + timedelta(days=rng.randint(0, (due_date - order_date).days)), today)
    status = PaymentStatus.PAID if paid_date else PaymentStatus.OVERDUE if due_date < today else PaymentStatus.OPEN
    refund = None
    if (today - order_date).days >= 3 and rng.random() < 0.3:
        refund = _generated_refund(rng, amount_cents, order_date, today, refundable=paid_date is not None)
        if refund.status is not RefundStatus.REFUNDED and paid_date is None:
            # While a return is under way, the invoice is put on hold instead of running into dunning.
            status = PaymentStatus.PAUSED
    return DemoOrder(merchant, order_date, amount_cents, currency, due_date, status, paid_date, method, (), refund)


def _instalment_order(
    rng: random.Random,
    merchant: str,
    amount_cents: int,
    currency: str,
    order_date: date,
    today: date,
    method: PaymentMethod,
) -> DemoOrder:
    # The first part carries the cent remainder, so the parts always add up to the invoice amount.
    part, remainder = divmod(amount_cents, INSTALMENT_COUNT)
    parts = []
    for index in range(INSTALMENT_COUNT):
        due_date = order_date + timedelta(days=index * INSTALMENT_INTERVAL_DAYS)
        if due_date <= today and rng.random() < 0.85:
            status, paid_date = PaymentStatus.PAID, due_date
        elif due_date < today:
            status, paid_date = PaymentStatus.OVERDUE, None
        else:
            status, paid_date = PaymentStatus.OPEN, None
        parts.append(
            DemoInstalment(
                index + 1, INSTALMENT_COUNT, part + (remainder if index == 0 else 0), due_date, status, paid_date
            )
        )
    statuses = {instalment.status for instalment in parts}
    if statuses == {PaymentStatus.PAID}:
        status, paid_date = PaymentStatus.PAID, max(instalment.due_date for instalment in parts)
    else:
        status = PaymentStatus.OVERDUE if PaymentStatus.OVERDUE in statuses else PaymentStatus.OPEN
        paid_date = None
    return DemoOrder(
        merchant, order_date, amount_cents, currency, parts[-1].due_date, status, paid_date, method, tuple(parts)
    )


def _generated_refund(
    rng: random.Random, order_cents: int, order_date: date, today: date, *, refundable: bool
) -> DemoRefund:
    amount_cents = order_cents if rng.random() < 0.5 else max(100, order_cents // 2)
    registered = min(order_date + timedelta(days=rng.randint(2, 10)), today)
    received = registered + timedelta(days=rng.randint(2, 6))
    refunded = received + timedelta(days=rng.randint(1, 4))
    # Money goes back only for paid invoices; an unpaid one would be reduced instead, which the demo leaves out.
    if refundable and refunded <= today and rng.random() < 0.7:
        return DemoRefund(amount_cents, RefundStatus.REFUNDED, registered, received, refunded)
    if received <= today and rng.random() < 0.6:
        return DemoRefund(amount_cents, RefundStatus.RECEIVED_BY_MERCHANT, registered, received)
    return DemoRefund(amount_cents, RefundStatus.REGISTERED, registered)


def _unique(used: set[str], make: Callable[[], str]) -> str:
    while (value := make()) in used:
        pass
    used.add(value)
    return value


def _unique_phone(rng: random.Random, used: set[str], country_code: str, prefixes: tuple[str, ...], digits: int) -> str:
    while True:
        number = country_code + rng.choice(prefixes) + "".join(str(rng.randrange(10)) for _ in range(digits))
        # Not every digit string is a valid number; an invalid one would never match a real caller ID.
        if number not in used and normalise_phone_number(number) == number:
            used.add(number)
            return number
