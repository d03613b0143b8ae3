"""`voice-app users`: adding, listing and deactivating console users, and refusing bad input."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from console_support import PASSWORD
from sqlmodel import Session, select

from voice_app.cli_context import CliContext
from voice_app.database import create_schema, make_engine
from voice_app.users.command import users
from voice_app.users.models import User


@pytest.fixture
def run(database_url):
    def run(*args: str, input: str | None = None):
        # obj is what `voice-app` hands its subcommands: no --config given, so the default config is used.
        return CliRunner().invoke(
            users,
            list(args),
            obj=CliContext(),
            input=input,
            env={"VOICE_APP_DATABASE_URL": database_url, "VOICE_APP_CONFIG": None},
        )

    return run


def stored_users(database_url) -> dict[str, User]:
    engine = make_engine(database_url)
    create_schema(engine)  # a refused command may not have created it
    try:
        with Session(engine) as session:
            return {user.username: user for user in session.exec(select(User))}
    finally:
        engine.dispose()


def test_a_script_adds_a_user_with_the_password_on_stdin(run, database_url):
    result = run("add", "anna.k", "--role", "agent", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "added anna.k (agent)" in result.output and PASSWORD not in result.output
    user = stored_users(database_url)["anna.k"]
    assert user.role == "agent" and user.active and user.password_hash.startswith("$argon2id$")


def test_a_person_types_the_password_twice_without_echo(run, database_url):
    result = run("add", "ben", "--role", "compliance", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output and "Repeat for confirmation" in result.output
    assert stored_users(database_url)["ben"].role == "compliance"


def test_mismatched_passwords_create_nobody(run, database_url):
    result = run("add", "carla", "--role", "admin", input=f"{PASSWORD}\nsomething else entirely\n")
    assert result.exit_code != 0 and "do not match" in result.output
    assert "carla" not in stored_users(database_url)


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("add", "Anna", "--role", "agent", "--password-stdin"), PASSWORD, "username must be"),
        (("add", "a b", "--role", "agent", "--password-stdin"), PASSWORD, "username must be"),
        (("add", "anna", "--role", "root", "--password-stdin"), PASSWORD, "'root' is not one of"),
        (("add", "anna", "--password-stdin"), PASSWORD, "Missing option '--role'"),
        (("add", "anna", "--role", "agent", "--password-stdin"), "too short", "password must be 12 to 256 characters"),
        (("add", "anna", "--role", "agent", "--password-stdin"), "", "password must be 12 to 256 characters"),
    ],
    ids=["uppercase", "space", "unknown-role", "no-role", "short-password", "empty-password"],
)
def test_bad_input_is_refused_with_a_reason(run, database_url, args, stdin, message):
    result = run(*args, input=stdin + "\n")
    assert result.exit_code != 0
    assert message in result.output
    assert stored_users(database_url) == {}


def test_a_username_can_be_added_once(run):
    assert run("add", "dora", "--role", "agent", "--password-stdin", input=PASSWORD).exit_code == 0
    again = run("add", "dora", "--role", "admin", "--password-stdin", input=PASSWORD)
    assert again.exit_code == 1 and "already exists" in again.output


def test_list_and_deactivate(run, database_url):
    assert "no users yet" in run("list").output
    run("add", "emil", "--role", "agent", "--password-stdin", input=PASSWORD)
    run("add", "frieda", "--role", "admin", "--password-stdin", input=PASSWORD)
    result = run("deactivate", "emil")
    assert result.exit_code == 0 and "deactivated emil" in result.output
    lines = run("list").output.splitlines()
    assert [line.split()[:3] for line in lines] == [["emil", "agent", "deactivated"], ["frieda", "admin", "active"]]
    assert stored_users(database_url)["emil"].active is False

    unknown = run("deactivate", "nobody")
    assert unknown.exit_code == 1 and "no user 'nobody'" in unknown.output
