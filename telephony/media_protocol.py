"""The Twilio Media Streams wire format: JSON text messages over the stream's websocket.

Both directions, both sides: what Twilio sends and how the app reads it; what the app sends back
(media, mark, clear) and how the simulator, playing Twilio, reads that. Both directions stay in one module of
about 400 lines so that the two sides cannot drift apart.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from telephony.audio import PHONE_RATE

# The largest legitimate message is a media message with a one-second payload (about 11 KB of
# base64). 64 KiB leaves room for large custom parameters on `start` and still bounds the JSON
# parsing work a hostile or broken peer can cause per message.
MAX_FRAME_BYTES = 64 * 1024
# Twilio sends 20 ms (160 byte) payloads; anything beyond one second of audio is not a phone stream.
MAX_INBOUND_MEDIA_BYTES = PHONE_RATE

MULAW_ENCODING = "audio/x-mulaw"
PROTOCOL_NAME = "Call"
PROTOCOL_VERSION = "1.0.0"
DTMF_DIGITS = frozenset("0123456789*#")
MEDIA_TRACKS = frozenset({"inbound", "outbound"})


class ProtocolError(ValueError):
    """A websocket message that is not valid Media Streams protocol."""


@dataclass(frozen=True)
class Connected:
    protocol: str
    version: str


@dataclass(frozen=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str
    tracks: tuple[str, ...]
    custom_parameters: dict[str, str]
    encoding: str
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class Media:
    stream_sid: str
    track: str
    chunk: int
    timestamp_ms: int
    payload: bytes  # mu-law, 8 kHz mono


@dataclass(frozen=True)
class Dtmf:
    stream_sid: str
    digit: str


@dataclass(frozen=True)
class Mark:
    """Twilio's echo of a mark: the audio sent before it has finished playing (or was cleared)."""

    stream_sid: str
    name: str


@dataclass(frozen=True)
class Stop:
    stream_sid: str
    call_sid: str


InboundEvent = Connected | Start | Media | Dtmf | Mark | Stop


@dataclass(frozen=True)
class OutboundMedia:
    payload: bytes


@dataclass(frozen=True)
class OutboundMark:
    name: str


@dataclass(frozen=True)
class OutboundClear:
    pass


OutboundCommand = OutboundMedia | OutboundMark | OutboundClear


# --- Twilio -> app -------------------------------------------------------------------------------


def parse_inbound(raw: str | bytes) -> InboundEvent:
    """Reads one message Twilio sent on the stream."""
    message = _load_json_object(raw)
    event = _string(message, "event", "message")
    if event == "connected":
        return Connected(
            protocol=_string(message, "protocol", "connected"), version=_string(message, "version", "connected")
        )
    if event == "start":
        return _parse_start(message)
    if event == "media":
        return _parse_inbound_media(message)
    if event == "dtmf":
        dtmf = _object(message, "dtmf", "dtmf")
        digit = _string(dtmf, "digit", "dtmf")
        if digit not in DTMF_DIGITS:
            raise ProtocolError(f"dtmf.digit must be one of 0-9, * or #, got {digit!r}")
        return Dtmf(stream_sid=_stream_sid(message), digit=digit)
    if event == "mark":
        mark = _object(message, "mark", "mark")
        return Mark(stream_sid=_stream_sid(message), name=_string(mark, "name", "mark"))
    if event == "stop":
        stop = _object(message, "stop", "stop")
        return Stop(stream_sid=_stream_sid(message), call_sid=_string(stop, "callSid", "stop"))
    raise ProtocolError(f"unknown event {event!r}")


def _parse_start(message: Mapping[str, Any]) -> Start:
    start = _object(message, "start", "start")
    tracks = start.get("tracks")
    if not isinstance(tracks, list) or not tracks or not all(isinstance(track, str) for track in tracks):
        raise ProtocolError("start.tracks must be a non-empty list of strings")
    custom_parameters = start.get("customParameters", {})
    if not isinstance(custom_parameters, dict) or not all(
        isinstance(value, str) for value in custom_parameters.values()
    ):
        raise ProtocolError("start.customParameters must be an object of string values")
    media_format = _object(start, "mediaFormat", "start")
    encoding = _string(media_format, "encoding", "start.mediaFormat")
    sample_rate = _integer(media_format, "sampleRate", "start.mediaFormat")
    channels = _integer(media_format, "channels", "start.mediaFormat")
    # Everything downstream assumes telephone audio; another format would be decoded as noise.
    if (encoding, sample_rate, channels) != (MULAW_ENCODING, PHONE_RATE, 1):
        raise ProtocolError(
            f"unsupported media format {encoding} {sample_rate} Hz x{channels}; "
            f"expected {MULAW_ENCODING} {PHONE_RATE} Hz mono"
        )
    return Start(
        stream_sid=_string(start, "streamSid", "start"),
        call_sid=_string(start, "callSid", "start"),
        account_sid=_string(start, "accountSid", "start"),
        tracks=tuple(tracks),
        custom_parameters=dict(custom_parameters),
        encoding=encoding,
        sample_rate=sample_rate,
        channels=channels,
    )


def _parse_inbound_media(message: Mapping[str, Any]) -> Media:
    media = _object(message, "media", "media")
    track = _string(media, "track", "media")
    if track not in MEDIA_TRACKS:
        raise ProtocolError(f"media.track must be one of {sorted(MEDIA_TRACKS)}, got {track!r}")
    return Media(
        stream_sid=_stream_sid(message),
        track=track,
        chunk=_decimal(media, "chunk", "media"),
        timestamp_ms=_decimal(media, "timestamp", "media"),
        payload=_base64_audio(media, "media", MAX_INBOUND_MEDIA_BYTES),
    )


# --- app -> Twilio -------------------------------------------------------------------------------


def media_message(stream_sid: str, mulaw: bytes) -> str:
    """Audio for Twilio to play to the caller, queued after what it already has."""
    _require_stream_sid(stream_sid)
    if not isinstance(mulaw, (bytes, bytearray)) or not mulaw:
        raise ValueError("media payload must be non-empty mu-law bytes")
    return _dump({"event": "media", "streamSid": stream_sid, "media": {"payload": _b64(mulaw)}})


def mark_message(stream_sid: str, name: str) -> str:
    """Asks Twilio to echo `name` back once the audio queued before it has played."""
    _require_stream_sid(stream_sid)
    _require_name(name, "mark name")
    return _dump({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    """Drops the audio Twilio has queued; Twilio then echoes the marks still pending."""
    _require_stream_sid(stream_sid)
    return _dump({"event": "clear", "streamSid": stream_sid})


def parse_outbound(raw: str | bytes, *, expected_stream_sid: str | None = None) -> OutboundCommand:
    """Reads one message the app sent to Twilio (the simulator's side)."""
    message = _load_json_object(raw)
    event = _string(message, "event", "message")
    stream_sid = _stream_sid(message)
    if expected_stream_sid is not None and stream_sid != expected_stream_sid:
        raise ProtocolError(f"streamSid {stream_sid!r} is not this stream's ({expected_stream_sid!r})")
    if event == "media":
        payload = _base64_audio(_object(message, "media", "media"), "media", MAX_FRAME_BYTES)
        if not payload:
            raise ProtocolError("media.payload is empty")
        return OutboundMedia(payload=payload)
    if event == "mark":
        return OutboundMark(name=_string(_object(message, "mark", "mark"), "name", "mark"))
    if event == "clear":
        return OutboundClear()
    raise ProtocolError(f"unknown event {event!r} (the app may send media, mark or clear)")


# --- what Twilio sends (for the simulator) --------------------------------------------------------


def connected_message() -> str:
    return _dump({"event": "connected", "protocol": PROTOCOL_NAME, "version": PROTOCOL_VERSION})


def start_message(
    stream_sid: str,
    call_sid: str,
    account_sid: str,
    custom_parameters: Mapping[str, str],
    sequence_number: int,
) -> str:
    return _dump(
        {
            "event": "start",
            "sequenceNumber": _sequence(sequence_number),
            "start": {
                "accountSid": account_sid,
                "streamSid": stream_sid,
                "callSid": call_sid,
                # <Connect><Stream> only streams the caller's side.
                "tracks": ["inbound"],
                "customParameters": dict(custom_parameters),
                "mediaFormat": {"encoding": MULAW_ENCODING, "sampleRate": PHONE_RATE, "channels": 1},
            },
            "streamSid": stream_sid,
        }
    )


def inbound_media_message(stream_sid: str, mulaw: bytes, chunk: int, timestamp_ms: int, sequence_number: int) -> str:
    return _dump(
        {
            "event": "media",
            "sequenceNumber": _sequence(sequence_number),
            "media": {"track": "inbound", "chunk": str(chunk), "timestamp": str(timestamp_ms), "payload": _b64(mulaw)},
            "streamSid": stream_sid,
        }
    )


def dtmf_message(stream_sid: str, digit: str, sequence_number: int) -> str:
    if digit not in DTMF_DIGITS:
        raise ValueError(f"a DTMF digit is one of 0-9, * or #, got {digit!r}")
    return _dump(
        {
            "event": "dtmf",
            "streamSid": stream_sid,
            "sequenceNumber": _sequence(sequence_number),
            "dtmf": {"track": "inbound_track", "digit": digit},
        }
    )


def mark_message_from_twilio(stream_sid: str, name: str, sequence_number: int) -> str:
    return _dump(
        {"event": "mark", "sequenceNumber": _sequence(sequence_number), "streamSid": stream_sid, "mark": {"name": name}}
    )


def stop_message(stream_sid: str, call_sid: str, account_sid: str, sequence_number: int) -> str:
    return _dump(
        {
            "event": "stop",
            "sequenceNumber": _sequence(sequence_number),
            "streamSid": stream_sid,
            "stop": {"accountSid": account_sid, "callSid": call_sid},
        }
    )


# --- shared validation ----------------------------------------------------------------------------


def _load_json_object(raw: str | bytes) -> dict[str, Any]:
    if isinstance(raw, (bytes, bytearray)):
        if len(raw) > MAX_FRAME_BYTES:
            raise ProtocolError(f"message of {len(raw)} bytes exceeds the {MAX_FRAME_BYTES} byte limit")
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("message is not UTF-8 text") from None
    elif isinstance(raw, str):
        # Characters never take fewer bytes than one, so the cheap length check comes first.
        if len(raw) > MAX_FRAME_BYTES or len(raw.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
            raise ProtocolError(f"message exceeds the {MAX_FRAME_BYTES} byte limit")
        text = raw
    else:
        raise ProtocolError(f"message must be text, got {type(raw).__name__}")
    try:
        message = json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ProtocolError(f"message is not valid JSON: {error}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"message must be a JSON object, got {type(message).__name__}")
    return message


def _reject_constant(name: str) -> Any:
    raise ProtocolError(f"message is not valid JSON: {name} is not a JSON value")


def _object(container: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = container.get(key)
    if not isinstance(value, dict):
        raise ProtocolError(f"{where}: {key!r} must be an object, got {_describe(value)}")
    return value


def _string(container: Mapping[str, Any], key: str, where: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{where}: {key!r} must be a non-empty string, got {_describe(value)}")
    return value


def _integer(container: Mapping[str, Any], key: str, where: str) -> int:
    value = container.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"{where}: {key!r} must be an integer, got {_describe(value)}")
    return value


def _decimal(container: Mapping[str, Any], key: str, where: str) -> int:
    """Twilio sends counters as decimal strings ("chunk": "42")."""
    value = container.get(key)
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 15:
        raise ProtocolError(f"{where}: {key!r} must be a decimal string, got {_describe(value)}")
    return int(value)


def _stream_sid(message: Mapping[str, Any]) -> str:
    return _string(message, "streamSid", str(message.get("event")))


def _base64_audio(media: Mapping[str, Any], where: str, max_bytes: int) -> bytes:
    encoded = media.get("payload")
    if not isinstance(encoded, str):
        raise ProtocolError(f"{where}: 'payload' must be a base64 string, got {_describe(encoded)}")
    too_large = ProtocolError(f"{where}: payload exceeds {max_bytes} bytes of audio")
    # Checked before decoding too, so an oversized payload costs nothing to refuse.
    if len(encoded) > 4 * -(-max_bytes // 3):
        raise too_large
    try:
        audio = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(f"{where}: payload is not valid base64") from None
    if len(audio) > max_bytes:
        raise too_large
    return audio


def _describe(value: Any) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"[:80]


def _require_stream_sid(stream_sid: str) -> None:
    _require_name(stream_sid, "streamSid")


def _require_name(value: str, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")


def _sequence(sequence_number: int) -> str:
    if isinstance(sequence_number, bool) or not isinstance(sequence_number, int) or sequence_number < 1:
        raise ValueError(f"sequence numbers start at 1, got {sequence_number!r}")
    return str(sequence_number)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _dump(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))
