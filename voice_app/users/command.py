"""`voice-app users`: who may sign in to the web consoles, and with which role."""

from __future__ import annotations

import sys

import click

from voice_app.cli_context import CliContext
from voice_app.users.management import (
    UserError,
    check_username,
    create_user,
    deactivate_user,
    list_users,
    set_password,
)
from voice_app.users.models import Role
from voice_app.users.sign_in import lift_username_delay


@click.group()
def users() -> None:
    """Users of the web consoles."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice([role.value for role in Role]), required=True, help="what the user may see")
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of standard input")
@click.pass_obj
def users_add(context: CliContext, username: str, role: str, password_stdin: bool) -> None:
    """Create a user with a role.

    The password (12 to 256 characters) is asked for twice without echo, or read from standard input."""
    try:
        check_username(username)  # before asking for a password that would be thrown away
    except UserError as error:
        raise click.BadParameter(str(error), param_hint="USERNAME") from None
    password = _read_password(password_stdin)
    try:
        user = create_user(context.engine, username, password, role)
    except UserError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"added {user.username} ({user.role})")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("list")
@click.pass_obj
def users_list(context: CliContext) -> None:
    """All users with their role and whether they may sign in."""
    found = list_users(context.engine)
    if not found:
        click.echo("no users yet")
    for user in found:
        state = "active" if user.active else "deactivated"
        click.echo(f"{user.username:<32} {user.role:<10} {state:<11} created {user.created_at:%Y-%m-%d %H:%M}")


@users.command("deactivate")
@click.argument("username")
@click.pass_obj
def users_deactivate(context: CliContext, username: str) -> None:
    """Stop a user from signing in.

    Their sessions end at once; the user stays listed as who closed their callbacks."""
    if not deactivate_user(context.engine, username):
        raise click.ClickException(f"no user {username!r}")
    click.echo(f"deactivated {username}")


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of standard input")
@click.pass_obj
def users_set_password(context: CliContext, username: str, password_stdin: bool) -> None:
    """Give a user a new password and end all their sessions.

    The password (12 to 256 characters) is asked for twice without echo, or read from standard input."""
    try:
        changed = set_password(context.engine, username, _read_password(password_stdin))
    except UserError as error:
        raise click.ClickException(str(error)) from None
    if not changed:
        raise click.ClickException(f"no user {username!r}")
    click.echo(f"new password for {username}; their sessions have ended")


@users.command("unlock")
@click.argument("username")
@click.pass_obj
def users_unlock(context: CliContext, username: str) -> None:
    """Let a username sign in again at once after wrong passwords.

    Forgets the username's failed sign-ins. The addresses they came from stay throttled for up to 15 minutes."""
    forgotten = lift_username_delay(context.engine, username, secret_key=context.secret_key())
    click.echo(f"forgot {forgotten} failed sign-ins for {username}")
