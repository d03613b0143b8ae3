"""Twilio retries a request it got no answer to in time, may send the same one twice, and may deliver status
callbacks out of order. Every callback must then give the same answer, have one effect and never a 500, with
several requests of one call at once (on one instance here; several instances share the database the same way).
Against the real server on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import secrets
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext

import pytest
import requests

from telephony.signatures import SignatureChecker
from telephony.twiml import ConnectStream, Dial, Gather, Play, parse_twiml
from tests.databases import query_sql
from tests.support import settings_with_database, signed_post
from voice_app import calls
from voice_app.app import create_app
from voice_app.local_server import LocalServer
from voice_app.models import Call

AUTH_TOKEN = secrets.token_hex(16)
ACCOUNT = "AC" + "0" * 32
LINE = "+4420555010"
RETRIES = 8


@pytest.fixture(scope="module")
def server(module_database_url, base_settings, speech):
    settings = settings_with_database(base_settings, module_database_url)
    with LocalServer(settings, auth_token=AUTH_TOKEN, secret_key="r" * 40, speech=speech) as running:
        yield running


def new_call(server, caller="+4915112340001") -> dict[str, str]:
    params = {"CallSid": "CA" + secrets.token_hex(16), "AccountSid": ACCOUNT, "From": caller, "To": LINE}
    assert signed_post(server, "/twilio/voice", params).status_code == 200
    return params


def at_once(server, path: str, params: dict[str, str], times: int = RETRIES) -> list[requests.Response]:
    """The same request `times` times, all sent together."""
    with ThreadPoolExecutor(max_workers=times) as pool:
        return list(pool.map(lambda _: signed_post(server, path, params), range(times)))


def answers(responses: list[requests.Response]) -> list[str]:
    assert [response.status_code for response in responses] == [200] * len(responses), [
        response.text[:200] for response in responses
    ]
    return [response.text for response in responses]


def count(server, table: str, call_sid: str, where: str = "") -> int:
    (row,) = query_sql(
        server.settings.database_url,
        f"SELECT count(*) FROM {table} WHERE call_id = :call_id {where}",
        call_id=stored_call(server, call_sid).id,
    )
    return row[0]


def stored_call(server, call_sid: str) -> Call:
    call = calls.find_call(server.services.engine, call_sid)
    assert call is not None
    return call


def whisper_path(server, dial_answer: str) -> str:
    (dial,) = parse_twiml(dial_answer)
    assert isinstance(dial, Dial) and dial.whisper_url is not None
    return dial.whisper_url.removeprefix(server.url)


def events(server, call_sid: str, kind: str) -> int:
    return count(server, "call_events", call_sid, f"AND kind = '{kind}'")


def transferred(server) -> dict[str, str]:
    """A call whose stream ended with the assistant's decision unknown: the Connect action dials an agent."""
    params = new_call(server)
    assert isinstance(parse_twiml(signed_post(server, "/twilio/after-stream", params).text)[0], Dial)
    return params


def unanswered(server) -> dict[str, str]:
    params = transferred(server)
    assert isinstance(
        parse_twiml(signed_post(server, "/twilio/dial-status", {**params, "DialCallStatus": "no-answer"}).text)[0],
        Gather,
    )
    return params


def test_the_voice_webhook_at_once_registers_one_call(server):
    params = {"CallSid": "CA" + secrets.token_hex(16), "AccountSid": ACCOUNT, "From": "+4915112340002", "To": LINE}
    verbs = [parse_twiml(text) for text in answers(at_once(server, "/twilio/voice", params))]
    assert all(isinstance(verb, ConnectStream) for (verb,) in verbs)
    (row,) = query_sql(
        server.settings.database_url, "SELECT count(*) FROM calls WHERE call_sid = :sid", sid=params["CallSid"]
    )
    assert row[0] == 1


class Draining:
    """The drain signal of an instance shutting down: every new call goes to a person at once."""

    draining = True

    def serving(self, _session) -> AbstractContextManager[None]:
        return nullcontext()


def test_the_voice_webhook_at_once_while_draining_hands_over_once(server):
    app = create_app(dataclasses.replace(server.services, drain=Draining()))
    params = {"CallSid": "CA" + secrets.token_hex(16), "AccountSid": ACCOUNT, "From": "+4915112340003", "To": LINE}
    signature = SignatureChecker(AUTH_TOKEN).sign(server.url + "/twilio/voice", params)

    def post(_):
        return app.test_client().post("/twilio/voice", data=params, headers={"X-Twilio-Signature": signature})

    with ThreadPoolExecutor(max_workers=RETRIES) as pool:
        responses = list(pool.map(post, range(RETRIES)))
    assert [response.status_code for response in responses] == [200] * RETRIES
    assert len({response.get_data(as_text=True) for response in responses}) == 1
    assert isinstance(parse_twiml(responses[0].get_data(as_text=True))[0], Dial)
    assert events(server, params["CallSid"], "handed_over") == 1
    assert count(server, "handoffs", params["CallSid"]) == 1


def test_the_connect_action_at_once_hands_over_once_with_one_whisper_for_every_answer(server):
    params = new_call(server)
    paths = {whisper_path(server, text) for text in answers(at_once(server, "/twilio/after-stream", params))}
    # Whichever answer Twilio acts on, the agent hears the briefing: every answer names the same whisper.
    assert len(paths) == 1
    assert count(server, "handoffs", params["CallSid"]) == 1
    whisper = signed_post(server, paths.pop(), params)
    assert whisper.status_code == 200 and isinstance(parse_twiml(whisper.text)[0], Play)


def test_the_whisper_at_once_plays_the_briefing_to_every_request_and_records_one_answer(server):
    params = transferred(server)
    path = whisper_path(server, signed_post(server, "/twilio/after-stream", params).text)
    plays = {parse_twiml(text)[0] for text in answers(at_once(server, path, params))}
    assert len(plays) == 1
    (row,) = query_sql(
        server.settings.database_url,
        "SELECT count(*) FROM handoffs WHERE call_id = :call_id AND agent_answered_at IS NOT NULL",
        call_id=stored_call(server, params["CallSid"]).id,
    )
    assert row[0] == 1


def test_dial_status_at_once_offers_the_same_choice_and_notes_the_failure_once(server):
    params = transferred(server)
    texts = answers(at_once(server, "/twilio/dial-status", {**params, "DialCallStatus": "no-answer"}))
    assert len(set(texts)) == 1 and isinstance(parse_twiml(texts[0])[0], Gather)
    assert events(server, params["CallSid"], "agent_not_reached") == 1
    assert count(server, "callback_requests", params["CallSid"]) == 1


def test_queue_status_at_once_notes_the_failure_once(server):
    params = transferred(server)
    answers(at_once(server, "/twilio/queue-status", {**params, "QueueResult": "hangup"}))
    assert events(server, params["CallSid"], "agent_not_reached") == 1
    assert count(server, "callback_requests", params["CallSid"]) == 1


def test_pressing_2_at_once_reserves_one_message_and_answers_every_retry_alike(server):
    params = unanswered(server)
    texts = answers(at_once(server, "/twilio/choice", {**params, "Digits": "2"}))
    assert len(set(texts)) == 1 and isinstance(parse_twiml(texts[0])[0], ConnectStream)
    assert count(server, "voicemails", params["CallSid"]) == 1
    assert events(server, params["CallSid"], "caller_choice") == 1


def test_pressing_1_at_once_keeps_one_callback_and_notes_the_choice_once(server):
    params = unanswered(server)
    texts = answers(at_once(server, "/twilio/choice", {**params, "Digits": "1"}))
    assert len(set(texts)) == 1 and isinstance(parse_twiml(texts[0])[0], Play)
    assert count(server, "callback_requests", params["CallSid"]) == 1
    assert events(server, params["CallSid"], "caller_choice") == 1


def test_the_end_of_a_voice_message_at_once_answers_alike(server):
    params = unanswered(server)
    signed_post(server, "/twilio/choice", {**params, "Digits": "2"})
    texts = answers(at_once(server, "/twilio/after-voicemail", params))
    assert len(set(texts)) == 1
    assert count(server, "callback_requests", params["CallSid"]) == 1


def test_callbacks_repeated_in_sequence_and_out_of_order_have_one_effect(server):
    params = transferred(server)
    dial_status = {**params, "DialCallStatus": "busy"}
    first = signed_post(server, "/twilio/dial-status", dial_status).text
    assert signed_post(server, "/twilio/dial-status", dial_status).text == first
    connect = signed_post(server, "/twilio/choice", {**params, "Digits": "2"}).text
    # A late retry of the dial status after the caller chose: the same offer again, nothing stored twice.
    assert signed_post(server, "/twilio/dial-status", dial_status).text == first
    assert signed_post(server, "/twilio/choice", {**params, "Digits": "2"}).text == connect
    assert signed_post(server, "/twilio/after-stream", params).status_code == 200
    assert events(server, params["CallSid"], "agent_not_reached") == 1
    assert events(server, params["CallSid"], "caller_choice") == 1
    assert count(server, "voicemails", params["CallSid"]) == 1
    assert count(server, "callback_requests", params["CallSid"]) == 1
    assert count(server, "handoffs", params["CallSid"]) == 1


def test_status_callbacks_at_once_and_out_of_order_keep_the_call_ended(server):
    params = new_call(server)
    completed = {**params, "CallStatus": "completed"}
    assert {response.status_code for response in at_once(server, "/twilio/status", completed)} == {204}
    ended = stored_call(server, params["CallSid"])
    assert ended.status == "completed" and ended.ended_at is not None
    # Delivered late, an earlier status does not bring an ended call back to life, nor a retry move its end.
    for late in ("ringing", "in-progress", "completed"):
        assert signed_post(server, "/twilio/status", {**params, "CallStatus": late}).status_code == 204
    again = stored_call(server, params["CallSid"])
    assert again.status == "completed" and again.ended_at == ended.ended_at
