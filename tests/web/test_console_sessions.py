"""Console sessions are rows on the server: signing out, a changed password and a deactivation end them, whatever
cookie a browser (or an attacker who copied it) still holds."""

from __future__ import annotations

from datetime import timedelta

from console_support import csrf_token_in, sign_in
from sqlmodel import Session, select

from voice_app.users.management import deactivate_user, set_password
from voice_app.users.models import ConsoleSession, User

NEW_PASSWORD = "a different long passphrase"


def replaying(app, client):
    """A second browser holding a copy of `client`'s session cookie, as a thief or a proxy log would."""
    thief = app.test_client()
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None, "the client is signed in"
    thief.set_cookie(cookie.key, cookie.value)
    return thief


def sign_out(client):
    token = csrf_token_in(client.get("/account").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


def user_id(services, username) -> int:
    with Session(services.engine) as session:
        return session.exec(select(User.id).where(User.username == username)).one()


def test_a_cookie_replayed_after_signing_out_opens_nothing(app, make_user):
    client = app.test_client()
    sign_in(client, make_user("compliance"))
    copy = replaying(app, client)
    assert copy.get("/compliance/").status_code == 200, "the copy works while the session lasts"
    sign_out(client)
    assert copy.get("/compliance/").status_code == 302
    assert copy.get("/account").status_code == 302


def test_signing_out_ends_only_that_session(app, make_user):
    username = make_user()
    office, home = app.test_client(), app.test_client()
    sign_in(office, username)
    sign_in(home, username)
    sign_out(office)
    assert home.get("/agent/").status_code == 200


def test_a_changed_password_ends_every_session_of_that_user_and_no_one_elses(services, app, make_user):
    username, colleague = make_user(), make_user()
    office, home, colleagues = app.test_client(), app.test_client(), app.test_client()
    for client, name in ((office, username), (home, username), (colleagues, colleague)):
        sign_in(client, name)
    set_password(services.engine, username, NEW_PASSWORD)
    assert office.get("/agent/").status_code == 302 and home.get("/agent/").status_code == 302
    assert colleagues.get("/agent/").status_code == 200
    assert sign_in(app.test_client(), username, NEW_PASSWORD).status_code == 302


def test_deactivation_revokes_every_session_row_of_that_user(services, app, make_user):
    username = make_user()
    for client in (app.test_client(), app.test_client()):
        sign_in(client, username)
    deactivate_user(services.engine, username)
    with Session(services.engine) as session:
        rows = session.exec(select(ConsoleSession).where(ConsoleSession.user_id == user_id(services, username))).all()
    assert len(rows) == 2 and all(row.revoked_at is not None for row in rows)


def test_a_session_ends_eight_hours_after_signing_in_however_active(services, app, make_user):
    username = make_user()
    client = app.test_client()
    sign_in(client, username)
    with Session(services.engine) as session:
        (row,) = session.exec(select(ConsoleSession).where(ConsoleSession.user_id == user_id(services, username)))
        row.expires_at -= timedelta(hours=8, seconds=1)
        session.add(row)
        session.commit()
    assert client.get("/agent/").status_code == 302


def test_the_session_token_is_stored_only_as_a_hash(services, app, make_user):
    username = make_user()
    client = app.test_client()
    sign_in(client, username)
    cookie_value = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    with Session(services.engine) as session:
        (row,) = session.exec(select(ConsoleSession).where(ConsoleSession.user_id == user_id(services, username)))
    assert len(row.token_hash) == 64 and row.token_hash not in cookie_value
