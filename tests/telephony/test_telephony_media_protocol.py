"""The Media Streams wire format, checked against messages shaped exactly like Twilio's."""

import base64
import json

import pytest

from telephony import media_protocol as mp
from telephony.audio import MULAW_SILENCE_FRAME
from telephony.media_protocol import (
    Connected,
    Dtmf,
    Mark,
    Media,
    OutboundClear,
    OutboundMark,
    OutboundMedia,
    ProtocolError,
    Start,
    Stop,
    parse_inbound,
    parse_outbound,
)

STREAM = "MZ18ad3ab5a668481ce02b83e7395059f0"
CALL = "CA" + "b" * 32
ACCOUNT = "AC" + "c" * 32
AUDIO = bytes(range(160))

# Written out by hand in Twilio's documented shapes, independent of the builders under test.
TWILIO_START = {
    "event": "start",
    "sequenceNumber": "1",
    "start": {
        "accountSid": ACCOUNT,
        "streamSid": STREAM,
        "callSid": CALL,
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"stream_token": "t0k"},
    },
    "streamSid": STREAM,
}
TWILIO_MEDIA = {
    "event": "media",
    "sequenceNumber": "3",
    "media": {"track": "inbound", "chunk": "1", "timestamp": "5", "payload": base64.b64encode(AUDIO).decode()},
    "streamSid": STREAM,
}


def test_real_twilio_shaped_messages_parse():
    assert parse_inbound('{"event": "connected", "protocol": "Call", "version": "1.0.0"}') == Connected("Call", "1.0.0")
    assert parse_inbound(json.dumps(TWILIO_START)) == Start(
        stream_sid=STREAM,
        call_sid=CALL,
        account_sid=ACCOUNT,
        tracks=("inbound",),
        custom_parameters={"stream_token": "t0k"},
        encoding="audio/x-mulaw",
        sample_rate=8000,
        channels=1,
    )
    assert parse_inbound(json.dumps(TWILIO_MEDIA)) == Media(STREAM, "inbound", 1, 5, AUDIO)
    dtmf = {
        "event": "dtmf",
        "streamSid": STREAM,
        "sequenceNumber": "5",
        "dtmf": {"track": "inbound_track", "digit": "#"},
    }
    assert parse_inbound(json.dumps(dtmf)) == Dtmf(STREAM, "#")
    mark = {"event": "mark", "sequenceNumber": "4", "streamSid": STREAM, "mark": {"name": "greeting"}}
    assert parse_inbound(json.dumps(mark).encode()) == Mark(STREAM, "greeting")
    stop = {
        "event": "stop",
        "sequenceNumber": "5",
        "streamSid": STREAM,
        "stop": {"accountSid": ACCOUNT, "callSid": CALL},
    }
    assert parse_inbound(json.dumps(stop)) == Stop(STREAM, CALL)


def test_twilio_side_builders_produce_what_the_app_side_parses():
    assert json.loads(mp.connected_message()) == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    assert json.loads(mp.start_message(STREAM, CALL, ACCOUNT, {"stream_token": "t0k"}, 1)) == TWILIO_START
    media = mp.inbound_media_message(STREAM, AUDIO, chunk=1, timestamp_ms=5, sequence_number=3)
    assert json.loads(media) == TWILIO_MEDIA
    assert parse_inbound(mp.dtmf_message(STREAM, "7", 9)) == Dtmf(STREAM, "7")
    assert json.loads(mp.dtmf_message(STREAM, "7", 9))["dtmf"] == {"track": "inbound_track", "digit": "7"}
    assert parse_inbound(mp.mark_message_from_twilio(STREAM, "p1", 10)) == Mark(STREAM, "p1")
    stop = json.loads(mp.stop_message(STREAM, CALL, ACCOUNT, 11))
    assert stop["sequenceNumber"] == "11" and stop["stop"] == {"accountSid": ACCOUNT, "callSid": CALL}
    assert parse_inbound(mp.stop_message(STREAM, CALL, ACCOUNT, 11)) == Stop(STREAM, CALL)


def test_app_messages_have_twilio_shapes_and_parse_back():
    media = json.loads(mp.media_message(STREAM, MULAW_SILENCE_FRAME))
    silence_base64 = base64.b64encode(MULAW_SILENCE_FRAME).decode()
    assert media == {"event": "media", "streamSid": STREAM, "media": {"payload": silence_base64}}
    assert json.loads(mp.mark_message(STREAM, "bye")) == {"event": "mark", "streamSid": STREAM, "mark": {"name": "bye"}}
    assert json.loads(mp.clear_message(STREAM)) == {"event": "clear", "streamSid": STREAM}

    assert parse_outbound(mp.media_message(STREAM, AUDIO)) == OutboundMedia(AUDIO)
    assert parse_outbound(mp.mark_message(STREAM, "bye"), expected_stream_sid=STREAM) == OutboundMark("bye")
    assert parse_outbound(mp.clear_message(STREAM)) == OutboundClear()


def _with(base: dict, path: str, value) -> str:
    """`base` as JSON with the field at dotted `path` replaced (or removed when value is ...)."""
    message = json.loads(json.dumps(base))
    *parents, last = path.split(".")
    target = message
    for key in parents:
        target = target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return json.dumps(message)


@pytest.mark.parametrize(
    "raw, message",
    [
        (12, "must be text"),
        (None, "must be text"),
        (b"\xff\xfe{}", "UTF-8"),
        ("x" * (mp.MAX_FRAME_BYTES + 1), "limit"),
        (b"x" * (mp.MAX_FRAME_BYTES + 1), "limit"),
        ("é" * (mp.MAX_FRAME_BYTES // 2 + 1), "limit"),  # under the limit in characters, over it in bytes
        ("{not json", "not valid JSON"),
        ('{"event": "media", "x": NaN}', "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('"media"', "JSON object"),
        ("{}", "'event'"),
        ('{"event": 5}', "'event'"),
        ('{"event": "hello"}', "unknown event"),
        ('{"event": "connected", "protocol": "Call"}', "'version'"),
        (_with(TWILIO_START, "start", ...), "'start'"),
        (_with(TWILIO_START, "start.callSid", ...), "'callSid'"),
        (_with(TWILIO_START, "start.tracks", "inbound"), "tracks"),
        (_with(TWILIO_START, "start.customParameters", {"a": 1}), "customParameters"),
        (_with(TWILIO_START, "start.mediaFormat.sampleRate", "8000"), "sampleRate"),
        (_with(TWILIO_START, "start.mediaFormat.sampleRate", True), "sampleRate"),
        (_with(TWILIO_START, "start.mediaFormat.encoding", "audio/l16"), "unsupported media format"),
        (_with(TWILIO_START, "start.mediaFormat.sampleRate", 16000), "unsupported media format"),
        (_with(TWILIO_MEDIA, "streamSid", ...), "'streamSid'"),
        (_with(TWILIO_MEDIA, "media", ...), "'media'"),
        (_with(TWILIO_MEDIA, "media.payload", ...), "payload"),
        (_with(TWILIO_MEDIA, "media.payload", 123), "payload"),
        (_with(TWILIO_MEDIA, "media.payload", "not base64!"), "base64"),
        (_with(TWILIO_MEDIA, "media.payload", "QUJ"), "base64"),
        (_with(TWILIO_MEDIA, "media.payload", base64.b64encode(bytes(8001)).decode()), "exceeds 8000 bytes"),
        (_with(TWILIO_MEDIA, "media.chunk", 1.5), "chunk"),
        (_with(TWILIO_MEDIA, "media.chunk", "-1"), "chunk"),
        (_with(TWILIO_MEDIA, "media.timestamp", ["5"]), "timestamp"),
        (_with(TWILIO_MEDIA, "media.track", "both"), "track"),
        ('{"event": "dtmf", "streamSid": "MZ1", "dtmf": {"digit": "A"}}', "dtmf.digit"),
        ('{"event": "dtmf", "streamSid": "MZ1", "dtmf": {"digit": "12"}}', "dtmf.digit"),
        ('{"event": "dtmf", "streamSid": "MZ1", "dtmf": {"digit": 1}}', "'digit'"),
        ('{"event": "dtmf", "streamSid": "MZ1"}', "'dtmf'"),
        ('{"event": "mark", "streamSid": "MZ1", "mark": {}}', "'name'"),
        ('{"event": "stop", "streamSid": "MZ1", "stop": {"accountSid": "AC1"}}', "'callSid'"),
    ],
)
def test_malformed_inbound_messages_raise_protocol_error(raw, message):
    with pytest.raises(ProtocolError, match=message):
        parse_inbound(raw)


def test_largest_legitimate_media_message_fits_the_frame_limit():
    one_second = mp.inbound_media_message(STREAM, bytes(8000), chunk=10**9, timestamp_ms=10**9, sequence_number=10**9)

    assert len(one_second) < mp.MAX_FRAME_BYTES
    assert len(parse_inbound(one_second).payload) == 8000


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x00\x01", "not valid JSON"),
        ('{"event": "media", "media": {"payload": "AAAA"}}', "'streamSid'"),
        ('{"event": "media", "streamSid": "MZ1", "media": {"payload": ""}}', "empty"),
        ('{"event": "media", "streamSid": "MZ1", "media": {"payload": "%%%"}}', "base64"),
        ('{"event": "mark", "streamSid": "MZ1", "mark": {"name": ""}}', "'name'"),
        ('{"event": "stop", "streamSid": "MZ1"}', "unknown event"),
    ],
)
def test_malformed_outbound_messages_raise_protocol_error(raw, message):
    with pytest.raises(ProtocolError, match=message):
        parse_outbound(raw)


def test_outbound_message_for_another_stream_is_refused():
    with pytest.raises(ProtocolError, match="not this stream"):
        parse_outbound(mp.clear_message("MZother"), expected_stream_sid=STREAM)


def test_builders_refuse_bad_arguments():
    with pytest.raises(ValueError):
        mp.media_message("", AUDIO)
    with pytest.raises(ValueError):
        mp.media_message(STREAM, b"")
    with pytest.raises(ValueError):
        mp.mark_message(STREAM, "")
    with pytest.raises(ValueError):
        mp.dtmf_message(STREAM, "x", 1)
    with pytest.raises(ValueError):
        mp.start_message(STREAM, CALL, ACCOUNT, {}, 0)
