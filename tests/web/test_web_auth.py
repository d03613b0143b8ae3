"""Signing in to the consoles: hashed passwords, one generic error, the throttle's basics, CSRF, roles, session
cookies. Sessions ending and the throttles in full: test_console_sessions.py, test_sign_in_throttle.py."""

from __future__ import annotations

import dataclasses

import pytest
from argon2 import PasswordHasher
from console_support import AUTH_TOKEN, PASSWORD, console_app, csrf_token_in, sign_in, unique_username
from sqlmodel import Session, select

from telephony.signatures import SignatureChecker
from voice_app.users.management import UserError, create_user, deactivate_user
from voice_app.users.models import LoginFailure, User
from voice_app.users.sign_in import FREE_FAILURES_PER_USERNAME, username_key
from voice_app.web.auth import THROTTLED, WRONG_CREDENTIALS, role_required


def stored_user(services, username) -> User:
    with Session(services.engine) as session:
        return session.exec(select(User).where(User.username == username)).one()


def session_cookie(response) -> str:
    (cookie,) = [header for header in response.headers.getlist("Set-Cookie") if "_session=" in header]
    return cookie


# -- users ---------------------------------------------------------------------------------------------------


def test_passwords_are_stored_as_argon2id_hashes(services, make_user):
    user = stored_user(services, make_user())
    assert PASSWORD not in user.password_hash
    assert user.password_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(user.password_hash, PASSWORD)


@pytest.mark.parametrize(
    ("username", "password", "role"),
    [
        ("ab", PASSWORD, "agent"),
        ("Anna", PASSWORD, "agent"),
        ("anna smith", PASSWORD, "agent"),
        ("a" * 65, PASSWORD, "agent"),
        ("anna<script>", PASSWORD, "agent"),
        ("anna\n", PASSWORD, "agent"),
        ("anna", "short pass1", "agent"),
        ("anna", "x" * 257, "agent"),
        ("anna", PASSWORD, "root"),
    ],
)
def test_invalid_users_are_refused(services, username, password, role):
    with pytest.raises(UserError):
        create_user(services.engine, username, password, role)


def test_a_username_exists_once(services, make_user):
    username = make_user()
    with pytest.raises(UserError, match="already exists"):
        create_user(services.engine, username, PASSWORD, "compliance")


def test_role_required_needs_a_known_role():
    with pytest.raises(ValueError):
        role_required()
    with pytest.raises(ValueError):
        role_required("superuser")


# -- signing in ----------------------------------------------------------------------------------------------


def test_an_agent_signs_in_and_reaches_the_console(client, make_user):
    response = sign_in(client, make_user("agent"))
    assert response.status_code == 302 and response.headers["Location"] == "/agent/"
    cookie = session_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie  # the public URL is http in the tests
    page = client.get("/agent/")
    assert page.status_code == 200 and "Transfers and callbacks" in page.get_data(as_text=True)


def test_usernames_are_matched_without_case_or_surrounding_spaces(client, make_user):
    username = make_user()
    assert sign_in(client, f"  {username.upper()} ").status_code == 302


def test_wrong_password_and_unknown_user_get_the_same_generic_answer(client, make_user):
    wrong_password = sign_in(client, make_user(), "not the password at all")
    unknown_user = sign_in(client, unique_username("nobody"), PASSWORD)
    for response in (wrong_password, unknown_user):
        assert response.status_code == 200
        assert WRONG_CREDENTIALS in response.get_data(as_text=True)
    assert wrong_password.get_data(as_text=True).count("Wrong") == unknown_user.get_data(as_text=True).count("Wrong")
    assert client.get("/agent/").status_code == 302


def test_a_deactivated_user_cannot_sign_in_and_their_session_ends(services, client, app, make_user):
    username = make_user()
    assert sign_in(client, username).status_code == 302
    deactivate_user(services.engine, username)
    assert client.get("/agent/").status_code == 302
    response = sign_in(app.test_client(), username)
    assert WRONG_CREDENTIALS in response.get_data(as_text=True)


def failures_for(services, username) -> int:
    key = username_key(username, services.secret_key)
    with Session(services.engine) as session:
        return len(session.exec(select(LoginFailure.id).where(LoginFailure.username_key == key)).all())


def test_repeated_failures_hold_the_username_with_one_generic_answer(services, app, make_user):
    username, bystander = make_user(), make_user()
    for _ in range(FREE_FAILURES_PER_USERNAME):
        assert WRONG_CREDENTIALS in sign_in(app.test_client(), username, "wrong password!!").get_data(as_text=True)
    with Session(services.engine) as session:
        stored_keys = set(session.exec(select(LoginFailure.username_key)))
    assert username not in stored_keys, "usernames are kept only as keyed hashes"
    assert failures_for(services, username) == FREE_FAILURES_PER_USERNAME

    held = sign_in(app.test_client(), username, PASSWORD)
    assert held.status_code == 429 and THROTTLED in held.get_data(as_text=True)
    assert failures_for(services, username) == FREE_FAILURES_PER_USERNAME, "refused attempts are not counted"
    assert sign_in(app.test_client(), bystander).status_code == 302


def test_a_success_clears_earlier_failures(services, app, make_user):
    username = make_user()
    for _ in range(2):
        sign_in(app.test_client(), username, "wrong password!!")
    assert failures_for(services, username) == 2
    assert sign_in(app.test_client(), username).status_code == 302
    assert failures_for(services, username) == 0


@pytest.mark.parametrize(
    ("next_path", "lands_on"),
    [
        ("/agent/handoffs/1", "/agent/handoffs/1"),
        ("//evil.example.com/", "/agent/"),
        ("https://evil.example.com/", "/agent/"),
        ("/%09/evil.example.com", "/agent/"),
        ("/\\evil.example.com", "/agent/"),
    ],
)
def test_after_signing_in_only_same_site_paths_are_followed(client, make_user, next_path, lands_on):
    response = sign_in(client, make_user(), next_path=next_path)
    assert response.headers["Location"] == lands_on


# -- CSRF ----------------------------------------------------------------------------------------------------


def test_a_sign_in_without_csrf_token_is_refused(client, make_user):
    response = client.post("/login", data={"username": make_user(), "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/agent/").status_code == 302


def test_a_csrf_token_from_another_session_is_refused(app, make_user):
    foreign_token = csrf_token_in(app.test_client().get("/login").get_data(as_text=True))
    client = app.test_client()
    client.get("/login")
    response = client.post("/login", data={"csrf_token": foreign_token, "username": make_user(), "password": PASSWORD})
    assert response.status_code == 400


def test_sign_out_needs_a_csrf_token_and_ends_the_session(client, make_user):
    sign_in(client, make_user())
    assert client.post("/logout").status_code == 400
    assert client.get("/agent/").status_code == 200
    token = csrf_token_in(client.get("/agent/").get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/agent/").status_code == 302


def test_twilio_requests_are_not_subject_to_csrf(client, services):
    params = {
        "CallSid": "CA" + "1" * 32,
        "AccountSid": "AC" + "0" * 32,
        "From": "+4915112345678",
        "To": "+4420555010",
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    signature = SignatureChecker(AUTH_TOKEN).sign(services.settings.server.public_url + "/twilio/voice", params)
    response = client.post("/twilio/voice", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "<Connect" in response.get_data(as_text=True)


# -- roles and sessions --------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for path in ("/agent/", "/agent/events", "/agent/handoffs/1", "/account"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
    assert client.get("/").headers["Location"] == "/login"


def test_compliance_staff_may_not_use_the_agent_console(client, make_user):
    response = sign_in(client, make_user("compliance"))
    assert response.headers["Location"] == "/compliance/"
    assert client.get("/compliance/").status_code == 200 and client.get("/account").status_code == 200
    for path in ("/agent/", "/agent/events", "/agent/handoffs/1"):
        assert client.get(path).status_code == 403


def test_admins_may_use_every_console(client, make_user):
    sign_in(client, make_user("admin"))
    assert client.get("/agent/").status_code == 200
    assert client.get("/account").status_code == 200


def test_the_cookie_is_secure_when_the_public_url_is_https(services, make_user):
    server = dataclasses.replace(services.settings.server, public_url="https://hotline.example.com")
    https_services = dataclasses.replace(services, settings=dataclasses.replace(services.settings, server=server))
    app = console_app(https_services)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    client = app.test_client()
    base = "https://hotline.example.com"
    token = csrf_token_in(client.get("/login", base_url=base).get_data(as_text=True))
    response = client.post(
        "/login",
        base_url=base,
        headers={"Referer": base + "/login"},
        data={"csrf_token": token, "username": make_user(), "password": PASSWORD},
    )
    cookie = session_cookie(response)
    assert cookie.startswith("__Host-voice_app_session=") and "Secure" in cookie and "HttpOnly" in cookie
    (known_browser,) = [header for header in response.headers.getlist("Set-Cookie") if "_known_browser=" in header]
    assert known_browser.startswith("__Host-voice_app_known_browser=") and "Secure" in known_browser
    assert "HttpOnly" in known_browser and "SameSite=Strict" in known_browser


def test_pages_carry_a_nonce_only_content_security_policy(client):
    response = client.get("/login")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'nonce-" in policy and "default-src 'none'" in policy and "unsafe" not in policy
    nonce = policy.split("'nonce-", 1)[1].split("'", 1)[0]
    assert f'nonce="{nonce}"' in response.get_data(as_text=True)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
