"""Helpers for tests that run the real assistant."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
from sqlmodel import Session, select

from telephony.caller_voice import caller_says
from telephony.signatures import SignatureChecker
from telephony.simulator import CallResult, Press, Speak, TwilioSimulator
from voice_app import calls
from voice_app.dialogue.machine import NoticeTexts
from voice_app.handoff.business_hours import BusinessHours
from voice_app.handoff.models import Handoff

ALWAYS_OPEN = BusinessHours(ZoneInfo("UTC"), frozenset(range(7)), time.min, time.max)

TEST_SECRETS = {
    "TWILIO_AUTH_TOKEN": "test-auth-token-" + "0" * 16,
    "VOICE_APP_SECRET_KEY": "test-secret-key-" + "1" * 32,
}


def settings_with_database(
    settings, database: Path | str, business_hours: BusinessHours = ALWAYS_OPEN, **dialogue_changes
):
    """The shipped settings on a fresh database (a SQLite file's path, or any database URL), with colleagues always
    available (so that a test's outcome does not depend on the hour it runs at) and some dialogue settings
    changed."""
    return dataclasses.replace(
        settings,
        database_url=database if isinstance(database, str) else f"sqlite:///{database}",
        dialogue=dataclasses.replace(settings.dialogue, **dialogue_changes),
        telephony=dataclasses.replace(settings.telephony, business_hours=business_hours),
    )


AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
NOTICES = {
    "en": NoticeTexts("EN disclosure", "EN consent notice"),
    "de": NoticeTexts("DE Offenlegung", "DE Einwilligung"),
}


def of(actions, kind):
    """The actions of one kind, in order."""
    return [action for action in actions if isinstance(action, kind)]


def signed_post(server, path: str, params: dict[str, str]) -> requests.Response:
    """A request to a running LocalServer signed the way Twilio signs it, with the server's auth token."""
    url = server.url + path
    signature = SignatureChecker(server.auth_token).sign(url, params)
    return requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)


def handoff_of(server, call_sid: str) -> Handoff:
    call = calls.find_call(server.services.engine, call_sid)
    with Session(server.services.engine) as session:
        return session.exec(select(Handoff).where(Handoff.call_id == call.id)).one()


# A scripted caller: (number calling, line called, steps), each step ("press", digits), ("hash", digits: pressed at
# once, whatever the app does, to end a recording) or ("say-LANG", words).
CallScript = tuple[str, str, list[tuple[str, str]]]


def place_scripted_calls(
    server, auth_token: str, scripts: dict[str, CallScript], **simulator_options
) -> dict[str, CallResult]:
    """Every script as a whole simulated call to `server`, all at the same time; results by script name.
    `simulator_options` go to each TwilioSimulator (dial outcome, call length...)."""
    options = {"max_call_seconds": 420, **simulator_options}

    def step(kind: str, value: str) -> Press | Speak:
        if kind == "press":
            return Press(value)
        if kind == "hash":
            return Press(value, immediately=True)
        return Speak(caller_says(value, kind.removeprefix("say-")), label=value)

    def place(name: str) -> CallResult:
        caller, line, steps = scripts[name]
        simulator = TwilioSimulator(server.url, auth_token, from_number=caller, to_number=line, **options)
        return simulator.place_call([step(kind, value) for kind, value in steps])

    with ThreadPoolExecutor(max_workers=len(scripts)) as pool:
        return dict(zip(scripts, pool.map(place, scripts), strict=True))
