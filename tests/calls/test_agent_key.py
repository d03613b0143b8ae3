"""0 reaches a person at any time, the disclosure and notice included: whole simulated calls against the real server.
The caller who presses 0 hears the playing notice stop, one short transfer line, and is dialled through; the
evidence holds exactly what finished playing before, and no consent record, as no question was put."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from consent.evidence import FlagCode, build_timeline
from consent.ledger import events_for_call, verify_chain
from telephony.audio import PHONE_RATE
from telephony.simulator import CallResult, Press, ScriptItem, Silence, TwilioSimulator
from tests.support import settings_with_database
from voice_app import calls
from voice_app.compliance.activities import call_activities
from voice_app.local_server import LocalServer

LINE = "+4420555010"
# From the key to the dial: the transfer line (about 2 s of espeak-ng) and Twilio's next request.
PROMPT_TRANSFER_SECONDS = 6.0


@pytest.fixture(scope="module")
def zero_pressed(tmp_path_factory, base_settings, speech):
    """Three calls: 0 a second into the disclosure, a second into the consent notice, and once it was heard."""
    settings = settings_with_database(base_settings, tmp_path_factory.mktemp("agent-key") / "calls.db")
    auth_token = secrets.token_hex(16)
    with LocalServer(settings, auth_token=auth_token, secret_key="k" * 40, speech=speech) as server:
        texts = server.services.notice_texts()["en"]
        disclosure = len(speech.synthesizer.synthesize(texts.disclosure, "en")) / PHONE_RATE
        notice = len(speech.synthesizer.synthesize(texts.consent, "en")) / PHONE_RATE
        scripts: dict[str, list[ScriptItem]] = {
            "during_disclosure": [Press("0", barge_in=True)],
            "during_notice": [Silence(disclosure + 1.5), Press("0", immediately=True)],
            "at_the_question": [Silence(disclosure + notice + 2.5), Press("0", immediately=True)],
        }

        def place(name: str) -> CallResult:
            simulator = TwilioSimulator(server.url, auth_token, from_number="+4915112349876", to_number=LINE)
            return simulator.place_call(scripts[name])

        with ThreadPoolExecutor(max_workers=len(scripts)) as pool:
            yield server, dict(zip(scripts, pool.map(place, scripts), strict=True))


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def seconds_from_key_to_dial(result: CallResult) -> float:
    pressed = next(event.at for event in result.events if event.kind == "caller_press")
    dialled = next(event.at for event in result.events if event.kind == "dial")
    return dialled - pressed


@pytest.mark.parametrize("name", ["during_disclosure", "during_notice"])
def test_zero_during_the_notice_transfers_within_seconds_without_a_consent_record(zero_pressed, name):
    server, results = zero_pressed
    result = results[name]
    assert result.outcome == "transferred", result.events[-5:]
    assert seconds_from_key_to_dial(result) < PROMPT_TRANSFER_SECONDS, result.events
    assert any(event.kind == "clear" for event in result.events)
    call = calls.find_call(server.services.engine, result.call_sid)
    assert call is not None and call.handoff_reason == "caller_asked"
    assert events_for_call(server.services.engine, result.call_sid) == []


def test_the_evidence_holds_what_finished_playing_and_flags_nothing(zero_pressed):
    server, results = zero_pressed
    engine = server.services.engine
    for name, heard_disclosure in (("during_disclosure", False), ("during_notice", True)):
        call = calls.find_call(engine, results[name].call_sid)
        assert call is not None
        kinds = [event.kind for event in calls.events_of(engine, calls.id_of(call))]
        assert ("disclosure_played" in kinds) == heard_disclosure, (name, kinds)
        assert "notice_played" not in kinds, (name, kinds)
        timeline = build_timeline(engine, call.call_sid, call_activities(engine, call), verify_chain(engine))
        assert FlagCode.NO_DISCLOSURE not in {flag.code for flag in timeline.flags}


def test_zero_at_the_question_records_the_refusal_with_the_notices_end_as_its_mark_came_back(zero_pressed):
    server, results = zero_pressed
    result = results["at_the_question"]
    assert result.outcome == "transferred", result.events[-5:]
    assert seconds_from_key_to_dial(result) < PROMPT_TRANSFER_SECONDS, result.events
    (event,) = events_for_call(server.services.engine, result.call_sid)
    assert (event.decision, event.method) == ("refused", "keypad")
    call = calls.find_call(server.services.engine, result.call_sid)
    assert call is not None
    (notice_played,) = [
        e for e in calls.events_of(server.services.engine, calls.id_of(call)) if e.kind == "notice_played"
    ]
    # The same instant in the ledger and on the timeline, to the microsecond: when the notice's mark came back.
    assert utc(event.notice_played_at) == utc(notice_played.at)
    assert event.answered_at is not None and utc(event.notice_played_at) < utc(event.answered_at)
