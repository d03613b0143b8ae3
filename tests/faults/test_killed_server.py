"""A `voice-app serve` instance killed with SIGKILL in the middle of a real call, just after the caller consented:
no drain, no goodbye, the media stream's connection simply dies. Twilio then asks the <Connect> action, which
another instance on the same PostgreSQL database answers: the caller goes to a person, and the consent recorded
by the dead instance is there once and verifies."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
from pathlib import Path

import pytest
from fault_support import (
    ANSWER_DELAY_SECONDS,
    CALLER,
    ENGLISH_LINE,
    call_event_count,
    short_notice_dir,
    stored_call,
    twilio_post,
    wait_for,
)

from consent.ledger import events_for_call, verify_chain
from telephony.caller_voice import caller_says
from telephony.simulator import CallResult, Press, Speak, TwilioSimulator, route_by_path
from telephony.twiml import Dial, parse_twiml
from tests.instances import SECRETS, running_instances
from tests.support import settings_with_database
from voice_app import calls
from voice_app.local_server import LocalServer

QUESTION = "I have a question about my invoice."


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (gunicorn's master and its workers), children first."""
    children_file = Path(f"/proc/{pid}/task/{pid}/children")
    children = [int(child) for child in children_file.read_text().split()] if children_file.exists() else []
    return [descendant for child in children for descendant in process_tree(child)] + [pid]


@pytest.fixture(scope="module")
def killed_mid_call(tmp_path_factory, base_settings, speech, postgres_server):
    database_url = postgres_server.create_database()
    folder = tmp_path_factory.mktemp("killed")
    notices = short_notice_dir(tmp_path_factory.mktemp("notices"))
    # The other instance, in this process; it also brings the new database's schema up before the one to kill starts.
    survivor = LocalServer(
        dataclasses.replace(settings_with_database(base_settings, database_url), notice_dir=notices),
        auth_token=SECRETS["TWILIO_AUTH_TOKEN"],
        secret_key=SECRETS["VOICE_APP_SECRET_KEY"],
        speech=speech,
    )
    question = caller_says(QUESTION, "en")
    with (
        survivor,
        running_instances(
            ["doomed"], folder, database_url, survivor.url, {("consent", "notice_dir"): str(notices)}
        ) as (doomed,),
    ):
        simulator = TwilioSimulator(
            survivor.url,
            SECRETS["TWILIO_AUTH_TOKEN"],
            from_number=CALLER,
            to_number=ENGLISH_LINE,
            max_call_seconds=60,
            answer_delay=ANSWER_DELAY_SECONDS,
            route=route_by_path(survivor.url, {"/": doomed.url}),
        )
        results: list[CallResult] = []
        call = threading.Thread(
            target=lambda: results.append(simulator.place_call([Press("1"), Speak(question, label=QUESTION)]))
        )
        call.start()
        engine = survivor.services.engine
        wait_for(lambda: call_event_count(engine, "consent_recorded") == 1, 90, "consent")
        for pid in process_tree(doomed.process.pid):
            os.kill(pid, signal.SIGKILL)
        call.join(60)
        result = results[0]
        answer = twilio_post(survivor.url, SECRETS["TWILIO_AUTH_TOKEN"], "/twilio/after-stream", result.call_sid)
        yield survivor, result, answer


def test_the_stream_died_with_the_instance(killed_mid_call):
    _, result, _ = killed_mid_call
    assert result.outcome == "stream_error" and "connection lost" in (result.error or ""), result.events[-6:]


def test_another_instance_answers_the_connect_action_with_a_person(killed_mid_call):
    survivor, _, answer = killed_mid_call
    assert answer.status_code == 200, answer.text
    (verb,) = parse_twiml(answer.text)
    assert isinstance(verb, Dial) and verb.target == survivor.settings.telephony.agent_target.address


def test_the_consent_the_dead_instance_recorded_is_there_once_and_verifies(killed_mid_call):
    survivor, result, _ = killed_mid_call
    engine = survivor.services.engine
    (event,) = events_for_call(engine, result.call_sid)
    assert (event.decision, event.method) == ("granted", "keypad")
    assert verify_chain(engine).ok and verify_chain(engine).checked == 1
    call = stored_call(engine, result.call_sid)
    assert (call.outcome, call.handoff_reason) == ("transfer", "stream_lost")
    assert calls.turns_of(engine, calls.id_of(call)) == []
