"""Warm transfer: the Dial TwiML with a whisper for the agent, the whisper itself (our own speech, behind an
expiring token), how the Dial ended, and a second server instance on the same database answering correctly.
What the caller chooses when nobody answers (callback or voice message) is in test_transfer_choice.py."""

from __future__ import annotations

import io
import re
import secrets
import wave
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import requests
from sqlalchemy import update
from sqlmodel import Session

from telephony.audio import resample
from telephony.caller_voice import caller_says
from telephony.simulator import Press, Speak, TwilioSimulator
from telephony.twiml import Dial, Gather, Hangup, Play, parse_twiml
from tests.support import handoff_of, settings_with_database, signed_post
from voice_app import calls
from voice_app.accounts.demo_data import WELL_KNOWN_ENGLISH, demo_customer, seed_demo
from voice_app.handoff.business_hours import BusinessHours
from voice_app.handoff.models import Handoff
from voice_app.handoff.queries import open_callbacks
from voice_app.local_server import LocalServer
from voice_app.models import utcnow

CUSTOMER = demo_customer(WELL_KNOWN_ENGLISH, date.today())
SECRET_KEY = "transfer-secret-" + "4" * 32
AUTH_TOKEN = secrets.token_hex(16)


@pytest.fixture(scope="module")
def two_instances(module_database_url, base_settings, speech):
    # The one whole simulated call that also runs on PostgreSQL: two instances share the database, as in production.
    settings = settings_with_database(base_settings, module_database_url)
    with (
        LocalServer(settings, auth_token=AUTH_TOKEN, secret_key=SECRET_KEY, speech=speech) as first,
        LocalServer(settings, auth_token=AUTH_TOKEN, secret_key=SECRET_KEY, speech=speech) as second,
    ):
        seed_demo(first.services.engine, SECRET_KEY, today=date.today())
        script = [
            Press("1"),
            Speak(caller_says("Where is my refund?", "en"), label="Where is my refund?"),
            Press(CUSTOMER.date_of_birth.strftime("%d%m%Y")),
            Press("0"),
        ]
        result = TwilioSimulator(
            first.url, AUTH_TOKEN, from_number=CUSTOMER.phones[0], to_number="+4420555010", max_call_seconds=200
        ).place_call(script)
        yield first, second, result


def test_the_transfer_dials_the_agent_with_a_whisper_and_a_status_callback(two_instances):
    first, _, result = two_instances
    assert result.outcome == "transferred"
    dial = parse_twiml(result.twiml[-1])[0]
    assert isinstance(dial, Dial) and dial.target == first.settings.telephony.agent_target.address
    assert dial.action_url == first.url + "/twilio/dial-status"
    assert dial.whisper_url.startswith(first.url + "/twilio/whisper/")
    handoff = handoff_of(first, result.call_sid)
    assert (handoff.reason, handoff.verified) == ("caller_asked", True)
    assert handoff.customer_name == f"{CUSTOMER.first_name} {CUSTOMER.last_name}"
    assert "refund" in handoff.summary and handoff.customer_name in handoff.summary
    assert handoff.transcript_excerpt and "refund" in handoff.transcript_excerpt.lower()
    assert CUSTOMER.date_of_birth.strftime("%d%m%Y") not in (handoff.transcript_excerpt or "")


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def test_the_agent_hears_the_summary_in_our_own_voice(two_instances, speech):
    first, _, result = two_instances
    whisper_path = parse_twiml(result.twiml[-1])[0].whisper_url.removeprefix(first.url)
    response = signed_post(first, whisper_path, {"CallSid": result.call_sid, "AccountSid": "AC" + "0" * 32})
    assert response.status_code == 200
    (play,) = parse_twiml(response.text)
    assert isinstance(play, Play)
    audio = requests.get(play.url, timeout=10)
    assert audio.status_code == 200 and audio.headers["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(audio.content)) as file:
        assert (file.getframerate(), file.getnchannels()) == (8000, 1)
        samples = np.frombuffer(file.readframes(file.getnframes()), "<i2").astype(np.float32) / 32768
    heard = set(words(speech.transcriber.transcribe(resample(samples, 8000, 16000), "en").text))
    handoff = handoff_of(first, result.call_sid)
    # Whisper base mishears the name in espeak's voice, and from run to run one more word of the rest ("verified"
    # came out as "marified" once); the topic, the reason and at least half the briefing come through.
    said = [word for word in words(handoff.summary) if word not in words(handoff.customer_name)]
    assert {"refund", "person"} <= heard, heard
    assert sum(word in heard for word in said) >= len(said) / 2, (said, heard)
    assert handoff_of(first, result.call_sid).agent_answered_at is not None


def test_the_whisper_needs_a_valid_unexpired_token(two_instances):
    first, _, result = two_instances
    assert requests.get(first.url + "/handoff-audio/not-a-token.wav", timeout=10).status_code == 404
    assert signed_post(first, "/twilio/whisper/not-a-token", {"CallSid": result.call_sid}).status_code == 404
    play_path = parse_twiml(result.twiml[-1])[0].whisper_url.removeprefix(first.url)
    with Session(first.services.engine) as session:
        session.exec(update(Handoff).values(whisper_expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    token = play_path.rsplit("/", 1)[-1]
    assert requests.get(f"{first.url}/handoff-audio/{token}.wav", timeout=10).status_code == 404
    unsigned = requests.post(first.url + play_path, data={"CallSid": result.call_sid}, timeout=10)
    assert unsigned.status_code == 403


def test_a_second_instance_answers_the_action_from_the_shared_database(two_instances):
    first, second, result = two_instances
    response = signed_post(second, "/twilio/after-stream", {"CallSid": result.call_sid, "AccountSid": "AC" + "0" * 32})
    (dial,) = parse_twiml(response.text)
    assert isinstance(dial, Dial) and dial.target == second.settings.telephony.agent_target.address
    assert dial.whisper_url.startswith(second.url + "/twilio/whisper/")
    assert handoff_of(second, result.call_sid).customer_name, "the briefing the first instance stored stands"


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed", "canceled"])
def test_an_unanswered_transfer_becomes_a_callback_request_and_offers_a_voice_message(two_instances, status):
    first, _, _ = two_instances
    call_sid = "CA" + secrets.token_hex(16)
    caller = {"CallSid": call_sid, "From": "+4915199887766", "To": "+4930555010", "AccountSid": "AC" + "0" * 32}
    assert signed_post(first, "/twilio/voice", caller).status_code == 200
    assert parse_twiml(signed_post(first, "/twilio/after-stream", caller).text)[0].kind == "number"
    response = signed_post(first, "/twilio/dial-status", {**caller, "DialCallStatus": status})
    gather, promise, hangup = parse_twiml(response.text)
    assert isinstance(gather, Gather) and gather.action_url == first.url + "/twilio/choice"
    assert (gather.num_digits, gather.action_on_empty_result) == (1, False)
    assert "/prompt-audio/de/agent_unreached_choice-" in gather.nested[0].url, "in the caller's language"
    assert isinstance(promise, Play) and "/prompt-audio/de/callback_promised-" in promise.url
    assert isinstance(hangup, Hangup)
    call = calls.find_call(first.services.engine, call_sid)
    (callback,) = [item.callback for item in open_callbacks(first.services.engine) if item.callback.call_id == call.id]
    assert callback.callback_number == "+4915199887766", "the caller ID, to call back"
    assert handoff_of(first, call_sid).outcome == "callback_requested"
    assert ("agent_not_reached", status) in [
        (event.kind, event.detail) for event in calls.events_of(first.services.engine, call.id)
    ]


def test_a_connected_transfer_and_bad_statuses(two_instances):
    first, _, result = two_instances
    connected = signed_post(first, "/twilio/dial-status", {"CallSid": result.call_sid, "DialCallStatus": "completed"})
    assert isinstance(parse_twiml(connected.text)[0], Hangup)
    assert handoff_of(first, result.call_sid).outcome == "connected"
    bad = signed_post(first, "/twilio/dial-status", {"CallSid": result.call_sid, "DialCallStatus": "teleported"})
    assert bad.status_code == 400


def test_outside_business_hours_the_caller_gets_a_callback_instead_of_ringing_nobody(
    database_url, base_settings, speech
):
    never_open = BusinessHours(ZoneInfo("Europe/Berlin"), frozenset(), time.min, time.max)
    settings = settings_with_database(base_settings, database_url, business_hours=never_open)
    with LocalServer(settings, auth_token=AUTH_TOKEN, secret_key=SECRET_KEY, speech=speech) as closed:
        call_sid = "CA" + secrets.token_hex(16)
        # A number that is no phone number (withheld, or a made-up one) leaves nothing to call back on.
        caller = {"CallSid": call_sid, "From": "+447700900123", "To": "+4420555010"}
        signed_post(closed, "/twilio/voice", caller)
        verbs = parse_twiml(signed_post(closed, "/twilio/after-stream", caller).text)
        assert isinstance(verbs[0], Gather) and "/prompt-audio/en/after_hours_choice-" in verbs[0].nested[0].url
        assert "/prompt-audio/en/after_hours_callback_promised-" in verbs[1].url and isinstance(verbs[-1], Hangup)
        assert not any(isinstance(verb, Dial) for verb in verbs)
        assert handoff_of(closed, call_sid).outcome == "after_hours"
        (callback,) = open_callbacks(closed.services.engine)
        assert callback.callback.callback_number is None
        prompt = requests.get(verbs[0].nested[0].url, timeout=10)
        assert prompt.status_code == 200 and prompt.headers["Content-Type"] == "audio/wav"
        with wave.open(io.BytesIO(prompt.content)) as file:
            assert file.getnframes() / file.getframerate() > 5, "the whole choice, in our own voice"
