"""`voice-app db`: bring the database to the head revision, show its revision, check models against migrations,
and write a new revision."""

from __future__ import annotations

import sys

import click
from sqlalchemy import create_engine

from voice_app.cli_context import CliContext
from voice_app.migrations import (
    BASELINE_REVISION,
    REVISIONS,
    UPGRADE_COMMAND,
    application_tables,
    current_revision,
    describe,
    differences,
    migration_transaction,
    upgrade,
    upgrade_database,
)


def _connect(context: CliContext):
    """The database whatever its revision: these commands are how it gets to the head."""
    from voice_app.database import connect_database

    return connect_database(context.settings.database_url, context.settings.database_url_setting)


@click.group()
def db() -> None:
    """The database schema and its migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
@click.pass_obj
def db_upgrade(context: CliContext, revision: str) -> None:
    """Apply the migrations up to REVISION (default: head) in one transaction. A database made by the release
    before migrations is adopted if its schema is that release's."""
    engine = _connect(context)
    report = upgrade_database(engine, revision)
    if report.adopted:
        click.echo(f"adopted {describe(engine)}: its schema is the baseline's, stamped as revision {BASELINE_REVISION}")
    if report.applied:
        click.echo(
            f"upgraded {describe(engine)} from {report.before or 'nothing'} to {report.after} "
            f"(applied {', '.join(report.applied)})"
        )
    else:
        click.echo(f"{describe(engine)} is already at revision {report.after}")
    engine.dispose()


@db.command("current")
@click.pass_obj
def db_current(context: CliContext) -> None:
    """Show the database's revision and the head revision of this version."""
    engine = _connect(context)
    head = REVISIONS.head()
    with engine.connect() as connection:
        current = current_revision(connection)
        tables = application_tables(connection)
    engine.dispose()
    if current == head:
        click.echo(f"{current} (head)")
    elif current is None and not tables:
        click.echo(f"empty database; the head is {head}")
    elif current is None:
        click.echo(f"no revision, {len(tables)} tables: made before migrations; `{UPGRADE_COMMAND}` adopts it")
    else:
        click.echo(f"{current}; the head is {head}: run `{UPGRADE_COMMAND}`")


@db.command("check")
@click.pass_obj
def db_check(context: CliContext) -> None:
    """Exit non-zero unless the database is at the head revision and the models match it (what autogenerate
    would write is nothing). CI runs it on a database made by the migrations."""
    engine = _connect(context)
    head = REVISIONS.head()
    with engine.connect() as connection:
        current = current_revision(connection)
        found = differences(connection) if current == head else []
    engine.dispose()
    if current != head:
        click.echo(
            f"not at head: the database is at {current or 'no revision'}, the head is {head}; run `{UPGRADE_COMMAND}`",
            err=True,
        )
        sys.exit(1)
    if found:
        click.echo("the models and the migrations disagree; a new revision would have to:", err=True)
        for difference in found:
            click.echo(f"  {difference!r}", err=True)
        sys.exit(1)
    click.echo(f"ok: at head {head}, the models and the migrations agree")


@db.command("revision")
@click.option("-m", "--message", required=True, help="what the revision changes, in a few words")
def db_revision(message: str) -> None:
    """Write a new revision with what the models have that the migrations lack (autogenerate), compared on a
    scratch SQLite database; read it over before committing it."""
    from alembic import command as alembic_command
    from alembic.script import Script

    import voice_app.database  # noqa: F401  (every model in the metadata autogenerate compares against)

    number = len(list(REVISIONS.script().walk_revisions())) + 1
    scratch = create_engine("sqlite://")
    with migration_transaction(scratch) as connection:
        upgrade(connection)
        script = alembic_command.revision(
            REVISIONS.config(connection), message=message, autogenerate=True, rev_id=f"{number:04d}"
        )
    scratch.dispose()
    if not isinstance(script, Script):  # a list only with several heads, None only when told not to write
        raise click.ClickException(f"autogenerate wrote no single revision: {script!r}")
    click.echo(f"wrote {script.path}: review it (types, server defaults, data to move), then commit it")
