"""What Twilio (or someone pretending to be Twilio) can send that is wrong: bad signatures, malformed fields,
broken media-stream frames. Each is refused or ends that one call safely, and the server keeps serving."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import time

import pytest
import requests
import websocket

from telephony import media_protocol
from telephony.signatures import SignatureChecker
from telephony.twiml import ConnectStream, Dial, parse_twiml
from tests.support import settings_with_database
from voice_app import calls
from voice_app.local_server import LocalServer

AUTH_TOKEN = secrets.token_hex(16)
ACCOUNT = "AC" + "0" * 32


def new_call_sid() -> str:
    return "CA" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def server(tmp_path_factory, base_settings, speech):
    settings = settings_with_database(base_settings, tmp_path_factory.mktemp("edges") / "edges.db")
    with LocalServer(settings, auth_token=AUTH_TOKEN, secret_key="e" * 40, speech=speech) as running:
        yield running


def signed_post(server, path, params, *, token=AUTH_TOKEN, signed_url=None, signature=True):
    url = server.url + path
    headers = {}
    if signature:
        headers["X-Twilio-Signature"] = SignatureChecker(token).sign(signed_url or url, params)
    return requests.post(url, data=params, headers=headers, timeout=10)


def voice_params(call_sid):
    return {
        "CallSid": call_sid,
        "AccountSid": ACCOUNT,
        "From": "+4915112345678",
        "To": "+4420555010",
        "CallStatus": "ringing",
        "Direction": "inbound",
    }


def answer_call(server, call_sid) -> ConnectStream:
    response = signed_post(server, "/twilio/voice", voice_params(call_sid))
    assert response.status_code == 200, response.text
    (verb,) = parse_twiml(response.text)
    assert isinstance(verb, ConnectStream)
    return verb


def open_stream(server, *, token=AUTH_TOKEN, signed_url=None, path="/twilio/media"):
    url = server.url.replace("http://", "ws://") + path
    signature = SignatureChecker(token).sign(signed_url or url, {})
    return websocket.create_connection(url, header={"X-Twilio-Signature": signature}, timeout=5)


def start_stream(server, call_sid, verb: ConnectStream, stream_sid=None, path="/twilio/media"):
    stream_sid = stream_sid or "MZ" + secrets.token_hex(16)
    ws = open_stream(server, path=path)
    ws.send(media_protocol.connected_message())
    ws.send(media_protocol.start_message(stream_sid, call_sid, ACCOUNT, verb.parameters, 1))
    return ws, stream_sid


def wait_until_closed(ws, seconds=10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            frame = ws.recv()
        except websocket.WebSocketTimeoutException:
            continue
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            return True
        if frame in ("", b"", None):
            return True
    return False


def after_stream(server, call_sid):
    response = signed_post(server, "/twilio/after-stream", {"CallSid": call_sid, "AccountSid": ACCOUNT})
    assert response.status_code == 200
    return parse_twiml(response.text)


# -- signatures ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/twilio/voice", "/twilio/after-stream", "/twilio/status"])
def test_requests_without_a_valid_signature_are_refused(server, path):
    params = {**voice_params(new_call_sid()), "CallStatus": "completed"}
    assert signed_post(server, path, params, signature=False).status_code == 403
    assert signed_post(server, path, params, token="wrong-token").status_code == 403
    assert signed_post(server, path, params, signed_url="https://elsewhere.example.com" + path).status_code == 403
    assert signed_post(server, path, params).status_code in (200, 204)


def test_a_signature_over_other_fields_is_refused(server):
    params = voice_params(new_call_sid())
    signature = SignatureChecker(AUTH_TOKEN).sign(server.url + "/twilio/voice", params)
    forged = {**params, "From": "+4915199999999"}
    response = requests.post(server.url + "/twilio/voice", data=forged, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_the_websocket_handshake_is_signature_checked(server):
    with pytest.raises(websocket.WebSocketBadStatusException) as missing:
        websocket.create_connection(server.url.replace("http", "ws") + "/twilio/media", timeout=5)
    assert missing.value.status_code == 403
    for kwargs in ({"token": "wrong-token"}, {"signed_url": server.url + "/twilio/media"}):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            open_stream(server, **kwargs)
        assert refused.value.status_code == 403


# -- webhook fields ------------------------------------------------------------------------------------


def test_the_webhook_answers_with_a_stream_bound_to_the_call(server):
    call_sid = new_call_sid()
    verb = answer_call(server, call_sid)
    assert verb.stream_url == server.url.replace("http://", "ws://") + "/twilio/media"
    assert verb.action_url == server.url + "/twilio/after-stream"
    assert set(verb.parameters) == {"stream_token"}
    call = calls.find_call(server.services.engine, call_sid)
    assert call.language == "en" and call.caller != "+4915112345678" and len(call.caller) == 64


def test_a_retried_webhook_does_not_create_a_second_call(server):
    call_sid = new_call_sid()
    first = answer_call(server, call_sid)
    second = answer_call(server, call_sid)
    assert first == second
    assert calls.find_call(server.services.engine, call_sid).id is not None


@pytest.mark.parametrize(
    "change",
    [{"CallSid": ""}, {"CallSid": "CA123"}, {"CallSid": "XX" + "a" * 32}, {"From": ""}, {"To": "x" * 100}],
)
def test_malformed_webhook_fields_get_400(server, change):
    response = signed_post(server, "/twilio/voice", {**voice_params(new_call_sid()), **change})
    assert response.status_code == 400
    assert "field" in response.text


def test_withheld_caller_id_is_accepted_without_a_pseudonym_of_it(server):
    call_sid = new_call_sid()
    signed_post(server, "/twilio/voice", {**voice_params(call_sid), "From": "anonymous"})
    assert calls.find_call(server.services.engine, call_sid).caller == "unknown"


def test_status_callbacks_are_recorded_and_validated(server):
    call_sid = new_call_sid()
    answer_call(server, call_sid)
    assert signed_post(server, "/twilio/status", {"CallSid": call_sid, "CallStatus": "completed"}).status_code == 204
    call = calls.find_call(server.services.engine, call_sid)
    assert call.status == "completed" and call.ended_at is not None
    assert signed_post(server, "/twilio/status", {"CallSid": call_sid, "CallStatus": "exploded"}).status_code == 400


def test_the_action_for_an_unknown_call_still_reaches_a_person(server):
    (verb,) = after_stream(server, new_call_sid())
    assert isinstance(verb, Dial) and verb.target == server.settings.telephony.agent_target.address


# -- media stream protocol -------------------------------------------------------------------------------


def test_garbage_before_start_closes_the_socket(server):
    ws = open_stream(server)
    ws.send("this is not json")
    assert wait_until_closed(ws)


def test_media_before_start_closes_the_socket(server):
    ws = open_stream(server)
    ws.send(media_protocol.inbound_media_message("MZ" + "0" * 32, b"\xff" * 160, 1, 0, 1))
    assert wait_until_closed(ws)


def test_a_start_with_a_wrong_stream_token_is_refused(server):
    call_sid = new_call_sid()
    verb = answer_call(server, call_sid)
    forged = ConnectStream(verb.action_url, verb.stream_url, {"stream_token": "0" * 64})
    ws, _ = start_stream(server, call_sid, forged)
    assert wait_until_closed(ws)
    assert calls.find_call(server.services.engine, call_sid).stream_sid is None


@pytest.mark.parametrize(
    "bad_frame",
    [
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"event": "teleport", "streamSid": "MZ" + "0" * 32}),
        json.dumps(
            {
                "event": "media",
                "streamSid": "{sid}",
                "media": {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": "@@not base64@@"},
            }
        ),
        json.dumps({"event": "dtmf", "streamSid": "{sid}", "dtmf": {"track": "inbound_track", "digit": "A"}}),
        json.dumps(
            {
                "event": "media",
                "streamSid": "MZ" + "f" * 32,
                "media": {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": "/w=="},
            }
        ),
    ],
    ids=["bad-json", "not-object", "unknown-event", "bad-base64", "bad-digit", "other-stream"],
)
def test_a_broken_frame_mid_call_ends_that_call_with_a_transfer(server, bad_frame):
    call_sid = new_call_sid()
    verb = answer_call(server, call_sid)
    ws, stream_sid = start_stream(server, call_sid, verb)
    ws.send(bad_frame.replace("{sid}", stream_sid))
    assert wait_until_closed(ws)
    call = calls.find_call(server.services.engine, call_sid)
    assert (call.outcome, call.handoff_reason) == ("transfer", "stream_error")
    (action,) = after_stream(server, call_sid)
    assert isinstance(action, Dial) and action.target == server.settings.telephony.agent_target.address


def test_an_oversized_frame_is_not_read_and_the_call_goes_to_a_person(server):
    call_sid = new_call_sid()
    verb = answer_call(server, call_sid)
    ws, stream_sid = start_stream(server, call_sid, verb)
    huge = base64.b64encode(b"\xff" * 200_000).decode()
    with contextlib.suppress(websocket.WebSocketConnectionClosedException, OSError):
        ws.send(json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": huge}}))
    assert wait_until_closed(ws)
    (action,) = after_stream(server, call_sid)
    assert isinstance(action, Dial)


def test_a_replayed_start_for_a_streamed_call_is_refused(server):
    call_sid = new_call_sid()
    verb = answer_call(server, call_sid)
    first, stream_sid = start_stream(server, call_sid, verb)
    deadline = time.monotonic() + 10
    while calls.find_call(server.services.engine, call_sid).stream_sid is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the replay must come after the real stream is bound, as it would
    second, _ = start_stream(server, call_sid, verb)
    assert wait_until_closed(second)
    assert calls.find_call(server.services.engine, call_sid).stream_sid == stream_sid
    first.close()


def test_an_abrupt_disconnect_leaves_the_server_serving_and_the_caller_reaches_a_person(server):
    call_sid = new_call_sid()
    verb = answer_call(server, call_sid)
    ws, stream_sid = start_stream(server, call_sid, verb)
    ws.send(media_protocol.inbound_media_message(stream_sid, b"\xff" * 160, 1, 0, 2))
    ws.sock.close()  # no stop event, no close handshake
    (action,) = after_stream(server, call_sid)
    assert isinstance(action, Dial)
    assert requests.get(server.url + "/healthz", timeout=5).json() == {"status": "ok"}
    healthy_sid = new_call_sid()
    healthy, _ = start_stream(server, healthy_sid, answer_call(server, healthy_sid))
    deadline = time.monotonic() + 10
    kinds = set()
    while time.monotonic() < deadline and "media" not in kinds:
        kinds.add(json.loads(healthy.recv())["event"])
    assert "media" in kinds, "the next call is greeted"
    healthy.close()


# -- the voice message stream ------------------------------------------------------------------------------

VOICEMAIL_PATH = "/twilio/voicemail"


def choose_voicemail(server, call_sid) -> ConnectStream:
    """A call whose transfer nobody answered and whose caller pressed 2."""
    answer_call(server, call_sid)
    after_stream(server, call_sid)
    params = {"CallSid": call_sid, "AccountSid": ACCOUNT, "From": "+4915112345678"}
    signed_post(server, "/twilio/dial-status", {**params, "DialCallStatus": "no-answer"})
    (verb,) = parse_twiml(signed_post(server, "/twilio/choice", {**params, "Digits": "2"}).text)
    assert isinstance(verb, ConnectStream) and verb.stream_url.endswith(VOICEMAIL_PATH)
    return verb


def receives_media(ws, seconds=5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if json.loads(ws.recv())["event"] == "media":
                return True
        except (websocket.WebSocketException, OSError, ValueError):
            return False
    return False


def test_the_voice_message_handshake_is_signature_checked(server):
    with pytest.raises(websocket.WebSocketBadStatusException) as missing:
        websocket.create_connection(server.url.replace("http", "ws") + VOICEMAIL_PATH, timeout=5)
    assert missing.value.status_code == 403
    with pytest.raises(websocket.WebSocketBadStatusException) as wrong:
        open_stream(server, token="wrong-token", path=VOICEMAIL_PATH)
    assert wrong.value.status_code == 403


def test_a_voice_message_stream_needs_its_own_token_and_a_chosen_message(server):
    from voice_app.handoff.voicemails import voicemail_of_call

    # A call that never chose a message: even its own conversation token opens nothing here.
    idle_sid = new_call_sid()
    ws, _ = start_stream(server, idle_sid, answer_call(server, idle_sid), path=VOICEMAIL_PATH)
    assert wait_until_closed(ws) and not receives_media(ws, 0.1)
    # A call that chose one: the conversation's token is not the message's, and the reverse.
    call_sid = new_call_sid()
    conversation = answer_call(server, call_sid)
    message = choose_voicemail(server, call_sid)
    assert message.parameters != conversation.parameters
    ws, _ = start_stream(server, call_sid, conversation, path=VOICEMAIL_PATH)
    assert wait_until_closed(ws)
    ws, _ = start_stream(server, call_sid, ConnectStream(None, "", message.parameters), path="/twilio/media")
    assert wait_until_closed(ws), "a message token opens no conversation"
    assert calls.find_call(server.services.engine, call_sid).stream_sid is None
    # The right token gets the instructions; a replayed start for the same message is refused.
    first, stream_sid = start_stream(server, call_sid, message, path=VOICEMAIL_PATH)
    assert receives_media(first)
    second, _ = start_stream(server, call_sid, message, path=VOICEMAIL_PATH)
    assert wait_until_closed(second)
    first.send(media_protocol.stop_message(stream_sid, call_sid, ACCOUNT, 99))
    assert wait_until_closed(first)
    assert voicemail_of_call(server.services.engine, calls.find_call(server.services.engine, call_sid).id) is None, (
        "the caller said nothing, so no message is stored"
    )


def test_a_broken_voice_message_stream_keeps_the_callback(server):
    from voice_app.handoff.queries import open_callbacks

    call_sid = new_call_sid()
    verb = choose_voicemail(server, call_sid)
    ws, stream_sid = start_stream(server, call_sid, verb, path=VOICEMAIL_PATH)
    ws.send("{not json")
    assert wait_until_closed(ws)
    response = signed_post(server, "/twilio/after-voicemail", {"CallSid": call_sid, "AccountSid": ACCOUNT})
    assert "/callback_promised-" in parse_twiml(response.text)[0].url
    call = calls.find_call(server.services.engine, call_sid)
    assert call.id in [item.callback.call_id for item in open_callbacks(server.services.engine)]
