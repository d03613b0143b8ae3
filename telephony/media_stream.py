"""Reading one Twilio media stream on the app's side: the receive loop, its inactivity limit, the start with its
stream token, and the rule that every later event belongs to that start. Hands out typed events; what they mean
is the owner's business, so the same reader serves any kind of stream (a conversation, a voice message).

`media_protocol` parses each message strictly; this module checks the order of messages and the stream's life.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from hashlib import sha256
from typing import Protocol

from simple_websocket import ConnectionClosed

from telephony.media_protocol import (
    Connected,
    Dtmf,
    Mark,
    Media,
    ProtocolError,
    Start,
    Stop,
    parse_inbound,
)

RECEIVE_POLL_SECONDS = 0.2
# Twilio sends a frame every 20 ms for as long as the call lasts; a stream silent for this long is dead.
INBOUND_SILENCE_LIMIT_SECONDS = 10.0
TOKEN_PARAMETER = "stream_token"


class Websocket(Protocol):
    def receive(self, timeout: float | None = None) -> str | bytes | None: ...

    def send(self, data: str) -> None: ...


@dataclass(frozen=True)
class StreamToken:
    """Binds a media stream to the call the voice webhook accepted: the handshake signature covers only the
    (fixed) stream URL, so without this a replayed handshake could claim any call. `purpose` keeps the token of
    one kind of stream (the conversation, a voice message) from opening another."""

    secret_key: str
    purpose: str

    def for_call(self, call_sid: str) -> str:
        return hmac.new(self.secret_key.encode(), f"{self.purpose}:{call_sid}".encode(), sha256).hexdigest()

    def parameters(self, call_sid: str) -> dict[str, str]:
        """The <Stream> parameters that carry the token to the stream's start."""
        return {TOKEN_PARAMETER: self.for_call(call_sid)}

    def admits(self, start: Start) -> bool:
        return hmac.compare_digest(start.custom_parameters.get(TOKEN_PARAMETER, ""), self.for_call(start.call_sid))


@dataclass(frozen=True)
class StreamClosed:
    """Twilio closed the websocket without a stop message (the caller hung up, the network broke)."""


StreamEvent = Start | Media | Dtmf | Mark | Stop | StreamClosed


class StreamReader:
    """Reads one stream from its start to its stop. A start is handed out only after its token and then the owner's
    `admit` (which binds the stream to its call, or raises ProtocolError) accepted it; `media_protocol` has already
    refused any audio format but the phone's.

    Raises ProtocolError for anything out of order, a wrong token, or a stream silent for too long."""

    def __init__(
        self,
        websocket: Websocket,
        token: StreamToken,
        admit: Callable[[Start], None],
        *,
        poll_seconds: float = RECEIVE_POLL_SECONDS,
        silence_limit_seconds: float = INBOUND_SILENCE_LIMIT_SECONDS,
    ) -> None:
        self.websocket = websocket
        self.token = token
        self.admit = admit
        self.poll_seconds = poll_seconds
        self.silence_limit_seconds = silence_limit_seconds
        self.stream_sid: str | None = None

    def events(self, until: threading.Event | None = None) -> Iterator[StreamEvent]:
        """The stream's events up to and including its stop or close; ends early once `until` is set."""
        last_frame = time.monotonic()
        while until is None or not until.is_set():
            try:
                raw = self.websocket.receive(timeout=self.poll_seconds)
            except ConnectionClosed:
                yield StreamClosed()
                return
            if raw is None:
                if time.monotonic() - last_frame > self.silence_limit_seconds:
                    raise ProtocolError("no frames from Twilio for too long")
                continue
            last_frame = time.monotonic()
            event = parse_inbound(raw)
            if isinstance(event, Start):
                self._start(event)
                yield event
            elif not isinstance(event, Connected):
                self._require_started(event.stream_sid)
                yield event
                if isinstance(event, Stop):
                    return

    def _start(self, start: Start) -> None:
        if self.stream_sid is not None:
            raise ProtocolError("second start on one stream")
        if not self.token.admits(start):
            raise ProtocolError("start for an unknown call or with a wrong stream token")
        self.admit(start)
        self.stream_sid = start.stream_sid

    def _require_started(self, stream_sid: str) -> None:
        """Events count only after this stream's start, and only for it."""
        if self.stream_sid is None:
            raise ProtocolError("event before start")
        if stream_sid != self.stream_sid:
            raise ProtocolError("event for another stream")
