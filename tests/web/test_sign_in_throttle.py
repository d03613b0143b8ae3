"""Wrong passwords are throttled per username and per client address, without letting a stranger keep a user out:
the username's delay grows but is capped, a correct password after it always works, and a browser the user signed
in with before is not held by it at all."""

from __future__ import annotations

from datetime import timedelta

from console_support import sign_in, unique_username
from sqlmodel import Session, col, select

from voice_app.users.models import LoginFailure

WRONG = "not the password at all"


def browser(app, address: str, forwarded_for: str | None = None):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if forwarded_for is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def newest_failure_key(services) -> str:
    with Session(services.engine) as session:
        return session.exec(select(LoginFailure.username_key).order_by(col(LoginFailure.id).desc())).first()


def age_failures(services, username_key: str, by: timedelta) -> None:
    # In Python rather than SQL: SQLite has no arithmetic on the stored timestamps.
    with Session(services.engine) as session:
        for failure in session.exec(select(LoginFailure).where(LoginFailure.username_key == username_key)):
            failure.at -= by
            session.add(failure)
        session.commit()


def fail(app, username: str, address: str, times: int) -> None:
    for _ in range(times):
        assert sign_in(browser(app, address), username, WRONG).status_code in (200, 429)


def test_one_address_spraying_many_usernames_is_throttled_and_others_are_not(app, make_user):
    sprayer, victim = "203.0.113.10", make_user()
    statuses = [sign_in(browser(app, sprayer), unique_username("spray"), WRONG).status_code for _ in range(21)]
    assert statuses[:20] == [200] * 20 and statuses[20] == 429
    refused = sign_in(browser(app, sprayer), victim)
    assert refused.status_code == 429, "not even a right password passes from a throttled address"
    assert sign_in(browser(app, "198.51.100.10"), victim).status_code == 302


def test_a_stranger_cannot_lock_a_user_out_of_a_browser_they_signed_in_with(app, make_user):
    username = make_user()
    own_browser = browser(app, "192.0.2.20")
    assert sign_in(own_browser, username).status_code == 302
    own_browser.delete_cookie(app.config["SESSION_COOKIE_NAME"])  # signed out, or the session ran out
    fail(app, username, "203.0.113.20", 8)
    assert sign_in(browser(app, "198.51.100.20"), username).status_code == 429, "a new browser must wait"
    assert sign_in(own_browser, username).status_code == 302


def test_after_a_short_delay_the_right_password_works_however_many_failures(services, app, make_user):
    username = make_user()
    fail(app, username, "203.0.113.30", 5)
    key = newest_failure_key(services)
    assert sign_in(browser(app, "198.51.100.30"), username).status_code == 429
    age_failures(services, key, timedelta(minutes=1, seconds=1))
    assert sign_in(browser(app, "198.51.100.30"), username).status_code == 302


def test_the_delay_grows_with_each_failure_up_to_fifteen_minutes(services, app, make_user):
    username = make_user()
    fail(app, username, "203.0.113.40", 5)
    key = newest_failure_key(services)
    for _ in range(6):  # each failure after its delay doubles the next one: 2, 4, 8, 15, 15, 15 minutes
        age_failures(services, key, timedelta(minutes=15, seconds=1))
        fail(app, username, "203.0.113.40", 1)
    age_failures(services, key, timedelta(minutes=14))
    assert sign_in(browser(app, "198.51.100.40"), username).status_code == 429
    age_failures(services, key, timedelta(minutes=1, seconds=1))
    assert sign_in(browser(app, "198.51.100.40"), username).status_code == 302


def test_unknown_usernames_are_delayed_the_same_way(app):
    username = unique_username("ghost")
    fail(app, username, "203.0.113.50", 5)
    assert sign_in(browser(app, "198.51.100.50"), username, WRONG).status_code == 429


def test_the_forwarded_address_counts_only_when_the_proxy_is_on_this_machine(app, make_user):
    victim = make_user()
    # A client that talks to the app directly cannot pick a new address for every attempt.
    for attempt in range(20):
        sign_in(browser(app, "203.0.113.60", forwarded_for=f"10.0.0.{attempt}"), unique_username("spray"), WRONG)
    assert sign_in(browser(app, "203.0.113.60", forwarded_for="10.0.1.1"), victim).status_code == 429
    # Behind nginx on loopback, the address nginx appended last is the client's; what the client sent is not.
    for attempt in range(20):
        sign_in(browser(app, "127.0.0.1", forwarded_for=f"10.0.2.{attempt}, 203.0.113.61"), unique_username("s"), WRONG)
    assert sign_in(browser(app, "127.0.0.1", forwarded_for="203.0.113.61"), victim).status_code == 429
    assert sign_in(browser(app, "127.0.0.1", forwarded_for="198.51.100.61"), victim).status_code == 302
