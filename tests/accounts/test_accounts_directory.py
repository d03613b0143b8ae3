"""The demo seed and the SQL account directory, on a real SQLite file."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from tests.databases import dump_rows
from tests.support import TEST_SECRETS
from voice_app.accounts.demo_data import (
    MANY_OPEN_ITEMS,
    WELL_KNOWN_ENGLISH,
    WELL_KNOWN_GERMAN,
    demo_customer,
    demo_customers,
    seed_demo,
)
from voice_app.accounts.directory import (
    RECENT_PAYMENTS_IN_SUMMARY,
    AccountDirectory,
    Money,
    SqlAccountDirectory,
    UnknownCustomerError,
)
from voice_app.accounts.models import (
    Customer,
    CustomerPhone,
    Instalment,
    Invoice,
    Order,
    PaymentReceived,
    PaymentStatus,
    RefundStatus,
    ReturnRefund,
)
from voice_app.database import make_engine
from voice_app.pseudonyms import pseudonymise

SECRET_KEY = TEST_SECRETS["VOICE_APP_SECRET_KEY"]
TODAY = date(2025, 3, 10)


@pytest.fixture(scope="module")
def database(module_database_url):
    engine = make_engine(module_database_url)
    report = seed_demo(engine, SECRET_KEY, today=TODAY)
    yield engine, module_database_url, report
    engine.dispose()


@pytest.fixture(scope="module")
def directory(database):
    return SqlAccountDirectory(database[0], SECRET_KEY)


@pytest.fixture
def fresh_engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _count(engine, model) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def _ref_for(directory, customer_number):
    ref = directory.find_by_customer_number(customer_number)
    assert ref is not None
    return ref


# --- seeding -------------------------------------------------------------------------------------------------


def test_the_seed_report_matches_the_exported_demo_set_and_the_tables(database):
    engine, _, report = database
    customers = demo_customers(TODAY)
    orders = [order for customer in customers for order in customer.orders]
    paid_parts = sum(part.paid_date is not None for order in orders for part in order.instalments)
    paid_at_once = sum(order.paid_date is not None and not order.instalments for order in orders)
    unmatched = sum(len(customer.unmatched_payments) for customer in customers)

    assert report.customers == len(customers) == _count(engine, Customer) >= 20
    assert report.phones == sum(len(customer.phones) for customer in customers) == _count(engine, CustomerPhone)
    assert report.orders == report.invoices == len(orders) == _count(engine, Order) == _count(engine, Invoice)
    assert report.instalments == sum(len(order.instalments) for order in orders) == _count(engine, Instalment)
    assert report.payments == paid_parts + paid_at_once + unmatched == _count(engine, PaymentReceived)
    assert report.refunds == sum(order.refund is not None for order in orders) == _count(engine, ReturnRefund)
    assert report.replaced_customers == 0


def test_the_demo_set_has_both_languages_with_matching_phones_and_one_or_two_numbers_each():
    customers = demo_customers(TODAY)
    languages = Counter(customer.language for customer in customers)
    assert languages["de"] >= 5 and languages["en"] >= 5
    assert len({customer.customer_number for customer in customers}) == len(customers)
    all_phones = [phone for customer in customers for phone in customer.phones]
    assert len(set(all_phones)) == len(all_phones)
    for customer in customers:
        assert 1 <= len(customer.phones) <= 2
        assert customer.customer_number.isdigit() and len(customer.customer_number) == 8
        if customer.language == "de":
            assert all(phone.startswith("+491") for phone in customer.phones)
        else:
            assert any(phone.startswith("+447") for phone in customer.phones)


def test_every_invoice_and_refund_state_and_instalment_plans_are_present(database):
    engine = database[0]
    with Session(engine) as session:
        invoice_states = set(session.exec(select(Invoice.status).distinct()).all())
        instalment_states = set(session.exec(select(Instalment.status).distinct()).all())
        refund_states = set(session.exec(select(ReturnRefund.status).distinct()).all())
        unmatched = session.exec(select(PaymentReceived).where(PaymentReceived.invoice_id.is_(None))).all()
    assert invoice_states == set(PaymentStatus)
    assert {PaymentStatus.PAID, PaymentStatus.OPEN, PaymentStatus.OVERDUE} <= instalment_states
    assert refund_states == set(RefundStatus)
    assert unmatched


def test_instalment_plans_are_four_payments_thirty_days_apart_adding_up_to_the_invoice():
    plans = [order for customer in demo_customers(TODAY) for order in customer.orders if order.instalments]
    assert len(plans) >= 3
    for order in plans:
        assert [part.number for part in order.instalments] == [1, 2, 3, 4]
        assert sum(part.amount_cents for part in order.instalments) == order.amount_cents
        due_dates = [part.due_date for part in order.instalments]
        gaps = {(later - earlier).days for earlier, later in pairwise(due_dates)}
        assert gaps == {30}
        assert order.due_date == order.instalments[-1].due_date
        if all(part.status is PaymentStatus.PAID for part in order.instalments):
            assert order.status is PaymentStatus.PAID
        elif any(part.status is PaymentStatus.OVERDUE for part in order.instalments):
            assert order.status is PaymentStatus.OVERDUE


def test_demo_states_are_consistent_with_today():
    for customer in demo_customers(TODAY):
        for order in customer.orders:
            assert order.order_date < TODAY
            if order.status is PaymentStatus.OVERDUE and not order.instalments:
                assert order.due_date < TODAY
            if order.status is PaymentStatus.OPEN and not order.instalments:
                assert order.due_date >= TODAY
            if order.status is PaymentStatus.PAUSED:
                assert order.refund is not None and order.refund.status is not RefundStatus.REFUNDED
            if order.paid_date is not None:
                assert order.order_date <= order.paid_date <= TODAY
            if order.refund is not None:
                assert order.refund.registered_date <= TODAY
                later_steps = (order.refund.received_date, order.refund.refunded_date)
                assert all(day is None or order.refund.registered_date <= day <= TODAY for day in later_steps)


def test_the_demo_set_is_deterministic_and_moves_with_today():
    assert demo_customers(TODAY) == demo_customers(TODAY)
    later = TODAY + timedelta(days=40)
    for now, then in zip(demo_customers(TODAY), demo_customers(later), strict=True):
        assert (now.customer_number, now.phones, now.date_of_birth) == (
            then.customer_number,
            then.phones,
            then.date_of_birth,
        )
        for order_now, order_then in zip(now.orders, then.orders, strict=True):
            assert (order_now.merchant, order_now.amount_cents, order_now.status) == (
                order_then.merchant,
                order_then.amount_cents,
                order_then.status,
            )
            assert order_then.order_date - order_now.order_date == timedelta(days=40)
            assert order_then.due_date - order_now.due_date == timedelta(days=40)


def test_seeding_again_replaces_the_demo_rows_and_leaves_other_customers_alone(fresh_engine):
    first = seed_demo(fresh_engine, SECRET_KEY, today=TODAY)
    with Session(fresh_engine) as session:
        session.add(
            Customer(
                customer_number="99999999",
                first_name="Real",
                last_name="Customer",
                date_of_birth=date(1990, 1, 1),
                postcode="12345",
                preferred_language="de",
            )
        )
        session.commit()
    later = TODAY + timedelta(days=7)
    second = seed_demo(fresh_engine, SECRET_KEY, today=later)

    assert second.replaced_customers == first.customers
    assert (second.customers, second.invoices, second.payments) == (first.customers, first.invoices, first.payments)
    assert _count(fresh_engine, Customer) == first.customers + 1
    assert _count(fresh_engine, Invoice) == first.invoices
    directory = SqlAccountDirectory(fresh_engine, SECRET_KEY)
    assert directory.find_by_customer_number("99999999") is not None
    anna = directory.summary(_ref_for(directory, WELL_KNOWN_GERMAN).customer_id)
    expected_open = demo_customer(WELL_KNOWN_GERMAN, later).unpaid_orders[0]
    assert [invoice.due_date for invoice in anna.unpaid_invoices] == [expected_open.due_date]


def test_phone_numbers_are_stored_only_as_keyed_pseudonyms(database):
    engine, database_url, _ = database
    with Session(engine) as session:
        stored = set(session.exec(select(CustomerPhone.phone_pseudonym)).all())
    phones = [phone for customer in demo_customers(TODAY) for phone in customer.phones]
    assert stored == {pseudonymise(phone, SECRET_KEY) for phone in phones}
    dump = dump_rows(database_url)
    for phone in phones:
        assert phone[1:] not in dump and phone[3:] not in dump


def test_seeding_validates_its_arguments(fresh_engine):
    with pytest.raises(ValueError):
        seed_demo(fresh_engine, "short", today=TODAY)
    with pytest.raises(ValueError):
        seed_demo(fresh_engine, SECRET_KEY, today=datetime(2025, 3, 10, 12, 0))
    with pytest.raises(KeyError):
        demo_customer("00000000", TODAY)


# --- looking customers up ----------------------------------------------------------------------------------------


def _spellings(e164: str) -> list[str]:
    country = "+49" if e164.startswith("+49") else "+44"
    national = e164[len(country) :]
    return [
        e164,
        f"{country} {national[:3]} {national[3:7]} {national[7:]}",
        f"{country}-{national[:3]}-{national[3:]}",
        f"{country} (0){national[:4]} {national[4:]}",
        f"  {e164}  ",
    ]


def test_every_demo_phone_finds_its_customer_in_any_spelling(directory):
    for customer in demo_customers(TODAY):
        for phone in customer.phones:
            for spelling in _spellings(phone):
                ref = directory.find_by_phone(spelling)
                assert ref is not None, spelling
                assert ref.preferred_language == customer.language
                assert directory.summary(ref.customer_id).customer_number == customer.customer_number


@pytest.mark.parametrize("number", ["+4915199999999", "+447911999999", "anonymous", "", "+1", "client:alice", None])
def test_unknown_withheld_and_invalid_numbers_find_nobody(directory, number):
    assert directory.find_by_phone(number) is None


def test_another_secret_key_recognises_nobody(database):
    other = SqlAccountDirectory(database[0], "another-secret-key-" + "2" * 32)
    assert other.find_by_phone(demo_customer(WELL_KNOWN_GERMAN, TODAY).phones[0]) is None


def test_a_number_shared_by_two_customers_is_not_used_to_identify_either(fresh_engine):
    seed_demo(fresh_engine, SECRET_KEY, today=TODAY)
    directory = SqlAccountDirectory(fresh_engine, SECRET_KEY)
    anna_phone = demo_customer(WELL_KNOWN_GERMAN, TODAY).phones[0]
    assert directory.find_by_phone(anna_phone) is not None
    klaus = directory.find_by_customer_number(MANY_OPEN_ITEMS)
    with Session(fresh_engine) as session:
        shared = CustomerPhone(customer_id=int(klaus.customer_id), phone_pseudonym=pseudonymise(anna_phone, SECRET_KEY))
        session.add(shared)
        session.commit()
    assert directory.find_by_phone(anna_phone) is None


@pytest.mark.parametrize("spelling", ["{n}", "{a} {b}", "{a}-{b}", " {a} / {b} ", "{a}.{b}"])
def test_customer_numbers_are_found_as_people_say_or_type_them(directory, spelling):
    number = WELL_KNOWN_ENGLISH
    ref = directory.find_by_customer_number(spelling.format(n=number, a=number[:4], b=number[4:]))
    assert ref is not None and ref.preferred_language == "en"
    assert directory.summary(ref.customer_id).customer_number == number


@pytest.mark.parametrize(
    "number", ["00000000", "4021773", "abc", "", "   ", "40217735x", "４０２１７７３５", None, 40217735]
)
def test_unknown_and_malformed_customer_numbers_find_nobody(directory, number):
    assert directory.find_by_customer_number(number) is None


def test_the_sql_directory_implements_the_interface(directory):
    assert isinstance(directory, AccountDirectory)
    with pytest.raises(ValueError):
        SqlAccountDirectory(directory._engine, "too-short")


# --- verification --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("customer_number", [WELL_KNOWN_GERMAN, WELL_KNOWN_ENGLISH])
def test_verify_accepts_the_right_details_in_any_case_and_spacing(directory, customer_number):
    facts = demo_customer(customer_number, TODAY)
    customer_id = _ref_for(directory, customer_number).customer_id
    assert directory.verify(customer_id, date_of_birth=facts.date_of_birth)
    assert directory.verify(customer_id, postcode=facts.postcode)
    assert directory.verify(customer_id, postcode=f" {facts.postcode.lower().replace(' ', '')} ")
    assert directory.verify(customer_id, date_of_birth=facts.date_of_birth, postcode=facts.postcode)


def test_verify_rejects_wrong_details_and_unknown_customers(directory):
    facts = demo_customer(WELL_KNOWN_GERMAN, TODAY)
    customer_id = _ref_for(directory, WELL_KNOWN_GERMAN).customer_id
    wrong_birth = facts.date_of_birth + timedelta(days=1)
    assert not directory.verify(customer_id, date_of_birth=wrong_birth)
    assert not directory.verify(customer_id, postcode="10116")
    assert not directory.verify(customer_id, date_of_birth=facts.date_of_birth, postcode="10116")
    assert not directory.verify(customer_id, date_of_birth=wrong_birth, postcode=facts.postcode)
    assert not directory.verify(customer_id, postcode="")
    other = demo_customer(WELL_KNOWN_ENGLISH, TODAY)
    assert not directory.verify(customer_id, date_of_birth=other.date_of_birth, postcode=other.postcode)
    for unknown in ("999999", "abc", "", None):
        assert not directory.verify(unknown, date_of_birth=facts.date_of_birth, postcode=facts.postcode)


def test_verify_compares_every_detail_so_a_failure_does_not_reveal_which_one(directory, monkeypatch, caplog):
    import voice_app.accounts.directory as directory_module

    facts = demo_customer(WELL_KNOWN_GERMAN, TODAY)
    customer_id = _ref_for(directory, WELL_KNOWN_GERMAN).customer_id
    comparisons = []
    real_compare = directory_module.hmac.compare_digest
    monkeypatch.setattr(
        directory_module.hmac, "compare_digest", lambda a, b: comparisons.append(1) or real_compare(a, b)
    )
    wrong_birth = facts.date_of_birth.replace(year=facts.date_of_birth.year - 1)
    attempts = {
        "birth wrong": (customer_id, wrong_birth, facts.postcode),
        "postcode wrong": (customer_id, facts.date_of_birth, "99999"),
        "both wrong": (customer_id, wrong_birth, "99999"),
        "unknown customer": ("987654", facts.date_of_birth, facts.postcode),
    }
    outcomes = {}
    for name, (who, birth, postcode) in attempts.items():
        comparisons.clear()
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="voice_app.accounts"):
            result = directory.verify(who, date_of_birth=birth, postcode=postcode)
        outcomes[name] = (result, len(comparisons), caplog.text.replace(name, ""))
    assert len(set(outcomes.values())) == 1, outcomes
    assert next(iter(outcomes.values()))[:2] == (False, 2)


def test_verify_needs_a_detail_of_the_right_type(directory):
    customer_id = _ref_for(directory, WELL_KNOWN_GERMAN).customer_id
    with pytest.raises(ValueError):
        directory.verify(customer_id)
    with pytest.raises(ValueError):
        directory.verify(customer_id, date_of_birth=datetime(1986, 3, 14))
    with pytest.raises(ValueError):
        directory.verify(customer_id, date_of_birth="1986-03-14")
    with pytest.raises(ValueError):
        directory.verify(customer_id, postcode=10115)


# --- summaries ---------------------------------------------------------------------------------------------------


def test_every_summary_matches_the_demo_facts(directory):
    for customer in demo_customers(TODAY):
        summary = directory.summary(_ref_for(directory, customer.customer_number).customer_id)
        assert (summary.first_name, summary.last_name, summary.preferred_language) == (
            customer.first_name,
            customer.last_name,
            customer.language,
        )
        expected_orders = sorted(customer.orders, key=lambda order: order.order_date, reverse=True)
        assert [
            (
                invoice.merchant,
                invoice.amount.cents,
                invoice.amount.currency,
                invoice.status,
                invoice.due_date,
                invoice.paid_date,
            )
            for invoice in summary.invoices
        ] == [
            (order.merchant, order.amount_cents, order.currency, order.status, order.due_date, order.paid_date)
            for order in expected_orders
        ]
        for invoice, order in zip(summary.invoices, expected_orders, strict=True):
            assert [(part.number, part.amount.cents, part.status) for part in invoice.instalments] == [
                (part.number, part.amount_cents, part.status) for part in order.instalments
            ]
        assert sorted((refund.merchant, refund.amount.cents, refund.status) for refund in summary.refunds) == sorted(
            (order.merchant, refund.amount_cents, refund.status) for order, refund in customer.refunds
        )
        registered = [refund.registered_date for refund in summary.refunds]
        assert registered == sorted(registered, reverse=True)
        received = [payment.received_date for payment in summary.recent_payments]
        assert received == sorted(received, reverse=True) and len(received) <= RECENT_PAYMENTS_IN_SUMMARY


def test_the_german_well_known_customer(directory):
    facts = demo_customer(WELL_KNOWN_GERMAN, TODAY)
    summary = directory.summary(_ref_for(directory, WELL_KNOWN_GERMAN).customer_id)
    assert summary.preferred_language == "de"
    latest = summary.invoices[0]
    assert latest.status is PaymentStatus.PAID and latest.merchant == facts.latest_order.merchant
    (open_invoice,) = summary.unpaid_invoices
    assert (open_invoice.amount, open_invoice.status) == (Money(4990, "EUR"), PaymentStatus.OPEN)
    assert open_invoice.due_date == facts.unpaid_orders[0].due_date > TODAY
    assert open_invoice.outstanding == open_invoice.amount
    (refund,) = summary.refunds
    assert refund.status is RefundStatus.REGISTERED and refund.received_date is None
    assert summary.recent_payments[0].merchant == latest.merchant
    assert summary.recent_payments[0].received_date == latest.paid_date


def test_the_english_well_known_customer(directory):
    summary = directory.summary(_ref_for(directory, WELL_KNOWN_ENGLISH).customer_id)
    assert summary.preferred_language == "en"
    assert {invoice.amount.currency for invoice in summary.invoices} == {"GBP"}
    assert summary.invoices[0].status is PaymentStatus.PAID
    (plan,) = [invoice for invoice in summary.invoices if invoice.instalments]
    assert [part.status for part in plan.instalments] == [PaymentStatus.PAID] * 2 + [PaymentStatus.OPEN] * 2
    assert plan.next_instalment.number == 3
    assert plan.outstanding.cents == sum(part.amount.cents for part in plan.instalments[2:])
    assert [refund.status for refund in summary.refunds] == [RefundStatus.REGISTERED, RefundStatus.REFUNDED]
    assert summary.merchants[0] == summary.invoices[0].merchant


def test_the_customer_with_many_open_items(directory):
    summary = directory.summary(_ref_for(directory, MANY_OPEN_ITEMS).customer_id)
    assert len(summary.unpaid_invoices) > 3
    assert {invoice.status for invoice in summary.unpaid_invoices} == {
        PaymentStatus.OPEN,
        PaymentStatus.OVERDUE,
        PaymentStatus.PAUSED,
    }
    assert any(payment.merchant is None for payment in summary.recent_payments)


def test_unknown_customers_have_no_summary(directory):
    for unknown in ("999999", "abc", "", None):
        with pytest.raises(UnknownCustomerError):
            directory.summary(unknown)


def test_nothing_personal_reaches_the_logs_or_a_logged_summary(directory, caplog):
    facts = demo_customer(WELL_KNOWN_ENGLISH, TODAY)
    with caplog.at_level(logging.DEBUG):
        ref = directory.find_by_phone(facts.phones[0])
        directory.find_by_customer_number(facts.customer_number)
        directory.find_by_customer_number("12345678")
        directory.find_by_phone("+447911999999")
        directory.verify(ref.customer_id, date_of_birth=facts.date_of_birth, postcode=facts.postcode)
        summary = directory.summary(ref.customer_id)
        logging.getLogger("test").info("summary: %r", summary)
    assert caplog.records
    secrets = [
        facts.phones[0],
        facts.phones[0][3:],
        facts.customer_number,
        facts.first_name,
        facts.last_name,
        facts.postcode,
        facts.date_of_birth.isoformat(),
        "12345678",
        "7911999999",
    ]
    secrets += [order.merchant for order in facts.orders]
    for secret in secrets:
        assert secret not in caplog.text
