"""Compliance from the command line: consent exports, access and erasure requests, retention."""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from pathlib import Path

import click

from consent import audit
from consent.exports import ExportFormat, build_export, check_export
from consent.ledger import InvalidLedgerQuery, verify_chain
from consent.search import parse_filter
from voice_app.cli_context import CliContext
from voice_app.compliance.retention import run_retention
from voice_app.compliance.subjects import (
    SubjectRequestError,
    erase_subject,
    readable_summary,
    subject_for_phone,
    subject_report,
    subject_voice_messages,
)


def _actor() -> str:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return f"cli:{name}"[: audit.ACTOR_MAX_LENGTH]


def _subject(context: CliContext, phone: str) -> str:
    secret_key = context.secret_key()
    try:
        return subject_for_phone(phone, secret_key)
    except SubjectRequestError as error:
        raise click.BadParameter(str(error), param_hint="--phone") from None


def _output_dir(path: str) -> Path:
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


# -- consent export ---------------------------------------------------------------------------------------


@click.command("export")
@click.option(
    "--format", "export_format", type=click.Choice([f.value for f in ExportFormat]), default="csv", show_default=True
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="folder for the export and its manifest",
)
@click.option("--from", "date_from", help="first day, YYYY-MM-DD (business-hours time zone)")
@click.option("--to", "date_to", help="last day, YYYY-MM-DD")
@click.option("--call", "call_ref", help="a call's CallSid")
@click.option("--decision", help="granted, refused, no_answer or withdrawn")
@click.option("--notice-version", help="consent notice version number")
@click.option("--language", help="en or de")
@click.option("--phone", help="the caller's phone number (matched by its pseudonym; never stored)")
@click.pass_obj
def consent_export(
    context: CliContext, export_format, out_dir, date_from, date_to, call_ref, decision, notice_version, language, phone
) -> None:
    """Export consent events with a manifest (filters, row count, SHA-256, chain head)."""
    settings = context.settings
    fields = {
        "date_from": date_from,
        "date_to": date_to,
        "call_ref": call_ref,
        "decision": decision,
        "notice_version": notice_version,
        "language": language,
        "subject": _subject(context, phone) if phone else None,
    }
    try:
        event_filter = parse_filter(
            {k: v for k, v in fields.items() if v is not None}, settings.telephony.business_hours.timezone.key
        )
    except InvalidLedgerQuery as error:
        raise click.UsageError(str(error)) from None
    engine = context.engine
    export = build_export(engine, event_filter, export_format, exported_by=_actor())
    directory = _output_dir(out_dir)
    (directory / export.file_name).write_bytes(export.content)
    (directory / export.manifest_name).write_bytes(export.manifest_bytes())
    audit.record(engine, _actor(), audit.AuditAction.EXPORT, {k: v for k, v in export.manifest.items() if k != "file"})
    click.echo(f"{export.manifest['row_count']} events -> {directory / export.file_name}")
    click.echo(f"manifest -> {directory / export.manifest_name}")
    if not export.manifest["chain_verified"]:
        click.echo("WARNING: the consent chain does not verify; run `voice-app consent verify`", err=True)


@click.command("check-export")
@click.argument("export_file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--manifest", type=click.Path(exists=True, dir_okay=False), help="the manifest (default: EXPORT_FILE.manifest.json)"
)
@click.pass_obj
def consent_check_export(context: CliContext, export_file, manifest) -> None:
    """Check an export against its manifest and the ledger as it is now."""
    manifest_path = Path(manifest or f"{export_file}.manifest.json")
    try:
        manifest_data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise click.ClickException(f"cannot read the manifest {manifest_path}: {error}") from None
    if not isinstance(manifest_data, dict):
        raise click.ClickException(f"{manifest_path} is not a manifest")
    problems = check_export(context.engine, Path(export_file).read_bytes(), manifest_data)
    if problems:
        for problem in problems:
            click.echo(f"PROBLEM: {problem}")
        raise SystemExit(1)
    click.echo(f"ok: {manifest_data['row_count']} events, file and ledger unchanged since export")


# -- subjects ------------------------------------------------------------------------------------------------


@click.group()
def subject() -> None:
    """Access and erasure requests of one caller, by phone number."""


@subject.command("export")
@click.option("--phone", required=True, help="the caller's phone number, international form")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=".", show_default=True)
@click.pass_obj
def subject_export(context: CliContext, phone, out_dir) -> None:
    """Everything stored about a caller, as JSON plus a readable summary."""
    subject_ref = _subject(context, phone)
    engine = context.engine
    report = subject_report(engine, subject_ref)
    directory = _output_dir(out_dir)
    stem = f"subject-{subject_ref[:12]}-{datetime.now():%Y%m%dT%H%M%S}"
    (directory / f"{stem}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
    summary = readable_summary(report)
    (directory / f"{stem}.txt").write_text(summary, "utf-8")
    for name, audio in subject_voice_messages(engine, subject_ref).items():
        (directory / name).write_bytes(audio)
    audit.record(
        engine,
        _actor(),
        audit.AuditAction.SUBJECT_EXPORT,
        {"subject": subject_ref, "calls": len(report["calls"]), "consent_events": len(report["consent_events"])},
    )
    click.echo(summary)
    click.echo(f"written: {directory / stem}.json and .txt")


@subject.command("erase")
@click.option("--phone", required=True, help="the caller's phone number, international form")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@click.pass_obj
def subject_erase(context: CliContext, phone, yes) -> None:
    """Delete a caller's calls and transcripts; keep the minimal proof of their consent decisions."""
    subject_ref = _subject(context, phone)
    if not yes:
        click.confirm(f"Erase everything about caller {subject_ref[:12]}… except the proof of consent?", abort=True)
    engine = context.engine
    counts = erase_subject(engine, subject_ref)
    chain = verify_chain(engine)
    audit.record(
        engine,
        _actor(),
        audit.AuditAction.SUBJECT_ERASE,
        {"subject": subject_ref, "deleted": counts, "chain_ok": chain.ok},
    )
    for name, count in counts.items():
        click.echo(f"{name.replace('_', ' ')}: {count}")
    click.echo("consent chain: " + ("intact" if chain.ok else f"BROKEN at {chain.first_broken_seq}: {chain.reason}"))
    if not chain.ok:
        raise SystemExit(1)


# -- retention -----------------------------------------------------------------------------------------------


@click.group()
def retention() -> None:
    """Deleting data whose retention period has passed."""


@retention.command("run")
@click.pass_obj
def retention_run(context: CliContext) -> None:
    """Delete what has expired now; safe to run again."""
    deleted = run_retention(context.engine, context.settings.retention, datetime.now().astimezone(), _actor())
    for kind, counts in deleted.items():
        click.echo(f"{kind.replace('_', ' ')}: " + ", ".join(f"{n.replace('_', ' ')} {c}" for n, c in counts.items()))
