"""`voice-app users set-password` and `users unlock`: an admin ends a user's sessions with a new password, and
lets a username held by strangers' wrong passwords sign in again at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from console_support import PASSWORD

from voice_app.cli_context import CliContext
from voice_app.database import create_schema, make_engine
from voice_app.users.command import users
from voice_app.users.management import create_user
from voice_app.users.sessions import session_user, start_session
from voice_app.users.sign_in import FREE_FAILURES_PER_USERNAME, sign_in

SECRET_KEY = "s" * 40
NEW_PASSWORD = "a different long passphrase"


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def run(database_url, engine):
    def run(*args: str, input: str | None = None):
        environment = {
            "VOICE_APP_DATABASE_URL": database_url,
            "VOICE_APP_CONFIG": None,
            "VOICE_APP_SECRET_KEY": SECRET_KEY,
        }
        return CliRunner().invoke(users, list(args), obj=CliContext(), input=input, env=environment)

    return run


def attempt(engine, password: str, address: str = "203.0.113.7"):
    return sign_in(engine, "dora", password, secret_key=SECRET_KEY, client_address=address)


def test_a_new_password_ends_the_users_sessions(run, engine):
    user = create_user(engine, "dora", PASSWORD, "agent")
    token = start_session(engine, user.id, timedelta(hours=8))
    result = run("set-password", "dora", "--password-stdin", input=NEW_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert NEW_PASSWORD not in result.output
    assert session_user(engine, token) is None
    assert attempt(engine, PASSWORD).user is None and attempt(engine, NEW_PASSWORD).user is not None


def test_a_new_password_must_be_long_enough_and_the_user_must_exist(run, engine):
    create_user(engine, "dora", PASSWORD, "agent")
    assert "12 to 256 characters" in run("set-password", "dora", "--password-stdin", input="short\n").output
    assert "no user 'nobody'" in run("set-password", "nobody", "--password-stdin", input=NEW_PASSWORD + "\n").output


def test_unlock_lets_a_held_username_sign_in_at_once(run, engine):
    create_user(engine, "dora", PASSWORD, "agent")
    for _ in range(FREE_FAILURES_PER_USERNAME):
        attempt(engine, "wrong password!!")
    assert attempt(engine, PASSWORD, address="198.51.100.7").throttled
    result = run("unlock", "dora")
    assert result.exit_code == 0 and f"forgot {FREE_FAILURES_PER_USERNAME} failed sign-ins" in result.output
    assert attempt(engine, PASSWORD, address="198.51.100.7").user is not None
