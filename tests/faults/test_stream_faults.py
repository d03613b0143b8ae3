"""The media stream's connection reset in the middle of a real call: once while the assistant's prompt plays
(before consent), once while the caller is speaking (after consent). The connection runs through a relay that
resets it, as a broken network path would. Twilio then asks the <Connect> action what next: a person. What is
stored: the call handed over for the broken stream, the consent as it stood (none, or once), and no turn."""

from __future__ import annotations

import dataclasses
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fault_support import (
    ANSWER_DELAY_SECONDS,
    CALLER,
    ENGLISH_LINE,
    CuttableRelay,
    short_notice_dir,
    stored_call,
    twilio_post,
)

from consent.ledger import events_for_call, verify_chain
from telephony.caller_voice import caller_says
from telephony.simulator import CallResult, Press, SimEvent, Speak, TwilioSimulator, route_by_path
from telephony.twiml import Dial, parse_twiml
from tests.support import settings_with_database
from voice_app import calls
from voice_app.local_server import LocalServer

QUESTION = "I would like to know why my last invoice was so much higher than usual, please."
# How far into the prompt, or into the caller's words, the connection breaks.
CUT_AFTER_SECONDS = 1.0
# The moment to cut at, per scenario: the first event of this kind.
CUT_AT = {"mid_prompt": "bot_audio_start", "mid_utterance": "caller_speak"}


@pytest.fixture(scope="module")
def dropped_calls(tmp_path_factory, base_settings, speech):
    folder = tmp_path_factory.mktemp("stream-faults")
    settings = dataclasses.replace(
        settings_with_database(base_settings, folder / "streams.db"),
        notice_dir=short_notice_dir(tmp_path_factory.mktemp("notices")),
    )
    auth_token = secrets.token_hex(16)
    question = caller_says(QUESTION, "en")
    with LocalServer(settings, auth_token=auth_token, secret_key="w" * 40, speech=speech) as server:
        port = int(server.url.rsplit(":", 1)[1])
        relays = {name: CuttableRelay(port) for name in CUT_AT}

        def place(name: str) -> tuple[CallResult, str]:
            relay, cut = relays[name], threading.Event()

            def cut_once(event: SimEvent) -> None:
                if event.kind == CUT_AT[name] and not cut.is_set():
                    cut.set()
                    threading.Timer(CUT_AFTER_SECONDS, relay.cut).start()

            simulator = TwilioSimulator(
                server.url,
                auth_token,
                from_number=CALLER,
                to_number=ENGLISH_LINE,
                max_call_seconds=60,
                answer_delay=ANSWER_DELAY_SECONDS,
                on_event=cut_once,
                route=route_by_path(server.url, {"/twilio/media": relay.url, "/": server.url}),
            )
            result = simulator.place_call([Press("1"), Speak(question, label=QUESTION)])
            # The server notices the reset and ends the call's session; then Twilio asks the Connect action.
            # Twilio asks the Connect action at once, whether or not the server has noticed the reset yet.
            answer = twilio_post(server.url, auth_token, "/twilio/after-stream", result.call_sid)
            assert answer.status_code == 200, answer.text
            return result, answer.text

        with ThreadPoolExecutor(max_workers=len(CUT_AT)) as pool:
            outcomes = dict(zip(CUT_AT, pool.map(place, CUT_AT), strict=True))
        yield server, outcomes
        for relay in relays.values():
            relay.close()


@pytest.mark.parametrize("name", list(CUT_AT))
def test_the_simulated_twilio_saw_the_connection_break_where_it_was_meant_to(dropped_calls, name):
    _, outcomes = dropped_calls
    result, _ = outcomes[name]
    assert result.outcome == "stream_error" and "connection lost" in (result.error or ""), result.events[-6:]
    kinds = [event.kind for event in result.events]
    if name == "mid_prompt":
        assert "bot_audio_end" not in kinds and "caller_press" not in kinds, "cut while the first prompt played"
    else:
        spoke = kinds.index("caller_speak")
        assert "bot_audio_start" not in kinds[spoke:], "cut while the caller spoke"


@pytest.mark.parametrize("name", list(CUT_AT))
def test_the_connect_action_then_dials_a_person(dropped_calls, name):
    server, outcomes = dropped_calls
    _, answer = outcomes[name]
    (verb,) = parse_twiml(answer)
    assert isinstance(verb, Dial) and verb.target == server.settings.telephony.agent_target.address


@pytest.mark.parametrize("name, consents", [("mid_prompt", 0), ("mid_utterance", 1)])
def test_what_is_stored_is_a_lost_stream_the_consent_as_it_stood_and_no_turn(dropped_calls, name, consents):
    server, outcomes = dropped_calls
    engine = server.services.engine
    result, _ = outcomes[name]
    call = stored_call(engine, result.call_sid)
    # A reset reads like the end of the stream: the Connect action finds no decision and records the stream lost.
    assert (call.outcome, call.handoff_reason) == ("transfer", "stream_lost")
    assert len(events_for_call(engine, result.call_sid)) == consents
    assert calls.turns_of(engine, calls.id_of(call)) == []
    kinds = [event.kind for event in calls.events_of(engine, calls.id_of(call))]
    # A prompt cut off is not proven played.
    assert kinds == ([] if name == "mid_prompt" else ["disclosure_played", "notice_played", "consent_recorded"])
    assert verify_chain(engine).ok
