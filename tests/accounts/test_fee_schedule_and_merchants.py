"""The fee schedule and the merchant directory as data: the bundled files load with the agreed figures, broken
ones are refused naming the key; the demo's overdue invoices carry their fees; pausing an invoice on SQLite and
PostgreSQL."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.support import TEST_SECRETS
from voice_app.accounts.demo_data import MANY_OPEN_ITEMS, WELL_KNOWN_GERMAN, demo_customers, seed_demo
from voice_app.accounts.directory import CannotPauseError, Money, SqlAccountDirectory, UnknownCustomerError
from voice_app.accounts.fee_schedule import (
    FEE_SCHEDULE_PATH,
    FeeKind,
    FeeScheduleError,
    fee_schedule,
    load_fee_schedule,
    parse_fee_schedule,
)
from voice_app.accounts.merchant_directory import (
    MERCHANTS_PATH,
    MerchantDirectoryError,
    load_merchants,
    merchant_directory,
    parse_merchants,
)
from voice_app.accounts.models import PaymentStatus
from voice_app.config import DEFAULT_CONFIG_PATH, ConfigError, load_settings
from voice_app.database import make_engine

SECRET_KEY = TEST_SECRETS["VOICE_APP_SECRET_KEY"]
TODAY = date(2026, 11, 30)


def test_the_bundled_schedule_has_the_agreed_figures():
    schedule = fee_schedule()
    euro, pound = schedule.terms("EUR"), schedule.terms("GBP")

    assert schedule.version == "2026-11"
    assert (euro.reminder_fee_cents, euro.reminder_after_days) == (195, 7)
    assert (euro.late_fee_cents, euro.late_fee_after_days, euro.collection_after_days) == (500, 14, 30)
    assert (euro.instalment_count, euro.instalment_interest_percent, euro.instalment_fee_cents) == (3, 0.0, 0)
    assert euro.financing_interest_percent == 9.99
    assert (pound.reminder_fee_cents, pound.late_fee_cents, pound.collection_after_days) == (150, 500, 30)
    assert pound.financing_interest_percent is None


def test_fees_fall_due_seven_and_fourteen_days_after_the_due_date():
    terms = fee_schedule().terms("EUR")
    due = date(2026, 11, 1)

    assert terms.fees_due(due, due + timedelta(days=6)) == ()
    assert terms.fees_due(due, due + timedelta(days=7)) == ((FeeKind.REMINDER_FEE, date(2026, 11, 8)),)
    assert terms.fees_due(due, due + timedelta(days=20)) == (
        (FeeKind.REMINDER_FEE, date(2026, 11, 8)),
        (FeeKind.LATE_FEE, date(2026, 11, 15)),
    )


def _schedule_data() -> dict:
    return tomllib.loads(FEE_SCHEDULE_PATH.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda data: data.update(version="November"), "version must be a string like 2026-11"),
        (lambda data: data.pop("currencies"), r"\[currencies.XXX\] tables are missing"),
        (lambda data: data["currencies"].update(eur=data["currencies"]["EUR"]), "currencies.eur is not an upper"),
        (lambda data: data["currencies"]["EUR"].update(reminder_fee_cents=1.95), "EUR.reminder_fee_cents must be"),
        (lambda data: data["currencies"]["EUR"].update(late_fee_cents=-5), "EUR.late_fee_cents must be"),
        (lambda data: data["currencies"]["GBP"].pop("late_fee_after_days"), "GBP.late_fee_after_days must be"),
        (lambda data: data["currencies"]["EUR"].update(reminder_fee=195), "EUR.reminder_fee is not a known key"),
        (
            lambda data: data["currencies"]["EUR"].update(financing_interest_percent=true_value()),
            "financing_interest_percent must be a percentage",
        ),
        (lambda data: data["currencies"]["EUR"].update(late_fee_after_days=5), "the steps must come in order"),
    ],
)
def test_a_broken_schedule_is_refused_naming_the_key(change, message):
    data = _schedule_data()
    change(data)
    with pytest.raises(FeeScheduleError, match=message):
        parse_fee_schedule(data)


def true_value() -> bool:
    return True


def test_a_missing_or_unreadable_schedule_file_is_named(tmp_path: Path):
    with pytest.raises(FeeScheduleError, match="does not exist"):
        load_fee_schedule(tmp_path / "nope.toml")
    (tmp_path / "broken.toml").write_text("version = ")
    with pytest.raises(FeeScheduleError, match="is not valid TOML"):
        load_fee_schedule(tmp_path / "broken.toml")


def test_the_bundled_merchants_have_the_agreed_contacts():
    merchants = merchant_directory()
    zalando, hm, asos = merchants.get("Zalando"), merchants.get("H&M"), merchants.get("asos")

    assert zalando is not None and hm is not None and asos is not None
    assert (zalando.phone_for("de"), zalando.website, zalando.email) == (
        "+49 30 23125 101",
        "zalando.de",
        "service@zalando.de",
    )
    assert (hm.phone_for("de"), hm.phone_for("gb")) == ("+49 30 23125 108", "+44 20 7946 0106")
    assert asos.phone_for("de") == "+44 20 7946 0101"  # the only number it has
    # Every merchant of the demo data is in the directory.
    bought_from = {order.merchant for customer in demo_customers(TODAY) for order in customer.orders}
    assert {merchant for merchant in bought_from if merchants.get(merchant) is None} == set()
    # All numbers are from the ranges reserved for fiction.
    for merchant in merchants.merchants:
        for phone in merchant.phones.values():
            assert phone.startswith(("+49 30 23125 1", "+44 20 7946 0")), (merchant.name, phone)


@pytest.mark.parametrize(
    "transcript, names",
    [
        ("ich hab bei media markt was bestellt", ["MediaMarkt"]),
        ("my parcel from JD sports and from h and m", ["JD Sports", "H&M"]),
        ("H&M hat nicht geliefert", ["H&M"]),
        ("die bestellung bei ZALANDO", ["Zalando"]),
        ("flixbus ticket question", ["FlixBus"]),
        ("i ordered a jacket online", []),
        ("ottokar is not a shop", []),
    ],
)
def test_merchants_are_found_by_name_in_a_transcript(transcript, names):
    assert [merchant.name for merchant in merchant_directory().named_in(transcript)] == names


@pytest.mark.parametrize(
    "text, message",
    [
        ("", r"no \[\[merchants\]\] entries"),
        ('[[merchants]]\nname = "A"\nwebsite = "a.de"\nemail = "service@a.de"\n', "needs phone_de, phone_gb"),
        (
            '[[merchants]]\nname = "A"\nwebsite = "a.de"\nemail = "service@a.de"\nphone_de = "+4930231251"\n',
            "phone_de must be a number in digit groups",
        ),
        (
            '[[merchants]]\nname = "A"\nwebsite = "A DE"\nemail = "service@a.de"\nphone_de = "+49 30 1"\n',
            "website must be a lower-case domain",
        ),
        (
            '[[merchants]]\nname = "A"\nwebsite = "a.de"\nemail = "a.de"\nphone_de = "+49 30 1"\n',
            "email must be an e-mail address",
        ),
        (
            '[[merchants]]\nname = "A"\nwebsite = "a.de"\nemail = "s@a.de"\nphone_de = "+49 30 1"\nfax = "1"\n',
            "fax is not a known key",
        ),
        (
            '[[merchants]]\nname = "A B"\nwebsite = "a.de"\nemail = "s@a.de"\nphone_de = "+49 30 1"\n'
            '[[merchants]]\nname = "C"\naliases = ["ab"]\nwebsite = "c.de"\nemail = "s@c.de"\nphone_de = "+49 30 2"\n',
            "'ab' of C is already a name of A B",
        ),
    ],
)
def test_a_broken_merchant_file_is_refused_naming_the_entry(text, message):
    with pytest.raises(MerchantDirectoryError, match=message):
        parse_merchants(tomllib.loads(text))


def test_a_missing_merchant_file_is_named(tmp_path: Path):
    with pytest.raises(MerchantDirectoryError, match="does not exist"):
        load_merchants(tmp_path / "nope.toml")
    assert load_merchants(MERCHANTS_PATH) == merchant_directory()


@pytest.mark.parametrize("value", ["0", "61", "'21'"])
def test_a_bad_pause_setting_stops_start_up_naming_the_key(tmp_path: Path, value: str):
    text = DEFAULT_CONFIG_PATH.read_text().replace("pause_days = 21", f"pause_days = {value}")
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigError, match="returns.pause_days"):
        load_settings(tmp_path / "config.toml", TEST_SECRETS)
    assert load_settings(DEFAULT_CONFIG_PATH, TEST_SECRETS).returns.pause_days == 21


# --- fees and the pause in the account data ---------------------------------------------------------------------


@pytest.fixture
def seeded(database_url):
    engine = make_engine(database_url)
    seed_demo(engine, SECRET_KEY, today=TODAY)
    yield SqlAccountDirectory(engine, SECRET_KEY)
    engine.dispose()


def test_overdue_invoices_carry_their_fees_in_the_summary_and_pausing_moves_the_due_date(seeded):
    klaus = seeded.find_by_customer_number(MANY_OPEN_ITEMS)
    assert klaus is not None
    summary = seeded.summary(klaus.customer_id)
    thomann = next(invoice for invoice in summary.invoices if invoice.merchant == "Thomann")

    assert [(fee.kind, fee.amount, fee.merchant, fee.invoice_id, fee.charged_date) for fee in summary.fees] == [
        (FeeKind.LATE_FEE, Money(500, "EUR"), "Thomann", thomann.invoice_id, thomann.due_date + timedelta(days=14)),
        (FeeKind.REMINDER_FEE, Money(195, "EUR"), "Thomann", thomann.invoice_id, thomann.due_date + timedelta(days=7)),
    ]
    assert {fee.schedule_version for fee in summary.fees} == {"2026-11"}
    # Every overdue demo invoice has its fees (counted from the first missed instalment of a plan), no other any.
    for customer in demo_customers(TODAY):
        for order in customer.orders:
            missed = [part.due_date for part in order.instalments if part.status is PaymentStatus.OVERDUE]
            since = min(missed, default=order.due_date)
            overdue_a_week = order.status is PaymentStatus.OVERDUE and since <= TODAY - timedelta(days=7)
            assert bool(order.fees) is overdue_a_week

    tchibo = next(invoice for invoice in summary.invoices if invoice.merchant == "Tchibo")
    until = TODAY + timedelta(days=21)
    assert tchibo.can_be_paused and tchibo.due_date < until
    assert seeded.pause_invoice(klaus.customer_id, tchibo.invoice_id, until=until) == until
    paused = next(invoice for invoice in seeded.summary(klaus.customer_id).invoices if invoice.merchant == "Tchibo")
    assert (paused.status, paused.due_date, paused.paused_until) == (PaymentStatus.PAUSED, until, until)


def test_only_the_customers_own_unpaid_invoice_paid_at_once_can_be_paused(seeded):
    anna = seeded.find_by_customer_number(WELL_KNOWN_GERMAN)
    klaus = seeded.find_by_customer_number(MANY_OPEN_ITEMS)
    assert anna is not None and klaus is not None
    annas = seeded.summary(anna.customer_id).invoices
    paid = next(invoice for invoice in annas if invoice.status is PaymentStatus.PAID)
    open_one = next(invoice for invoice in annas if invoice.status is PaymentStatus.OPEN)
    until = TODAY + timedelta(days=21)

    with pytest.raises(CannotPauseError):
        seeded.pause_invoice(anna.customer_id, paid.invoice_id, until=until)
    with pytest.raises(CannotPauseError):  # not Klaus's invoice
        seeded.pause_invoice(klaus.customer_id, open_one.invoice_id, until=until)
    with pytest.raises(CannotPauseError):
        seeded.pause_invoice(anna.customer_id, "1; DROP TABLE", until=until)
    with pytest.raises(UnknownCustomerError):
        seeded.pause_invoice("999999", open_one.invoice_id, until=until)
    with pytest.raises(ValueError, match="until must be a date"):
        seeded.pause_invoice(anna.customer_id, open_one.invoice_id, until="2026-12-21")
    assert seeded.summary(anna.customer_id).invoices == annas
