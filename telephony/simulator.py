"""A local Twilio for tests and demos: places one call against the app the way Twilio would.

It posts the signed voice webhook, follows the TwiML, opens the media stream with a signed handshake,
streams the caller's audio in real time (silence between turns, as a real line does), plays the app's
audio on a virtual speaker that drains in real time, echoes marks only once the audio before them has
played, follows the <Connect> action URL when the app closes the stream, and ends with the status
callback. The caller follows a script and takes turns like a person: it answers once the bot has
spoken and fallen silent.

Every wait is bounded by `max_call_seconds` or a fixed timeout, so a broken app cannot hang a test.
"""

from __future__ import annotations

import collections
import contextlib
import math
import queue
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, NoReturn

import requests
import websocket

from telephony import media_protocol
from telephony.audio import FRAME_MS, MULAW_SILENCE_FRAME, PHONE_RATE, split_frames
from telephony.signatures import SIGNATURE_HEADER, SignatureChecker, public_url
from telephony.twiml import ConnectStream, Dial, Hangup, Other, Say, TwimlError, TwimlVerb, parse_twiml

VOICE_PATH = "/twilio/voice"
STATUS_PATH = "/twilio/status"
DEFAULT_ACCOUNT_SID = "AC" + "0" * 32

# Twilio gives up on a webhook after 15 seconds.
WEBHOOK_TIMEOUT_SECONDS = 15.0
# Long enough for a busy app to answer the handshake; the reader polls its stop flag at this pace too.
SOCKET_TIMEOUT_SECONDS = 5.0
# How long to wait for the app's reply to our close frame before dropping the connection.
CLOSE_HANDSHAKE_SECONDS = 2.0
DTMF_GAP_SECONDS = 0.1
# A caller set to barge in does so once the bot has been talking for this long.
BARGE_IN_AFTER_SECONDS = 1.0
# If the scheduler stalls for longer than this, resume the 20 ms rhythm instead of bursting frames.
MAX_TICK_LAG_SECONDS = 0.2

_FRAME_SECONDS = FRAME_MS / 1000

Outcome = Literal["hangup", "transferred", "caller_hung_up", "rejected", "stream_error", "no_stream"]


# --- the caller's script ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Speak:
    """The caller says something (8 kHz mu-law; `label` is its text, for printing) once it is their turn.

    A turn comes when the bot has spoken since the caller's last turn and then been quiet for
    `answer_delay`; with `barge_in`, already after one second of the bot's speech.
    """

    mulaw: bytes
    label: str
    barge_in: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.mulaw, bytes) or not self.mulaw:
            raise ValueError("Speak needs non-empty 8 kHz mu-law bytes")
        if not isinstance(self.label, str):
            raise ValueError("Speak label must be a string")


@dataclass(frozen=True)
class Press:
    """The caller presses keys once it is their turn (as for Speak), one DTMF event per digit."""

    digits: str
    barge_in: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.digits, str) or not self.digits or not set(self.digits) <= media_protocol.DTMF_DIGITS:
            raise ValueError(f"Press digits must be a non-empty string of 0-9, * and #, got {self.digits!r}")


@dataclass(frozen=True)
class Silence:
    """The caller says nothing for a while, without waiting for the bot first."""

    seconds: float

    def __post_init__(self) -> None:
        if not isinstance(self.seconds, (int, float)) or not math.isfinite(self.seconds) or self.seconds <= 0:
            raise ValueError(f"Silence seconds must be a positive number, got {self.seconds!r}")


@dataclass(frozen=True)
class HangUp:
    """The caller hangs up once it is their turn: Twilio sends `stop` and closes the stream."""


ScriptItem = Speak | Press | Silence | HangUp


# --- what a call produced ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SimEvent:
    kind: str
    detail: str
    at: float  # seconds since the call was placed


@dataclass
class CallResult:
    """How the call ended. Outcomes:
    hangup: TwiML hung up (or ran out) after the stream; transferred: a <Dial>; caller_hung_up: the
    script's HangUp, max_call_seconds, or a bot that stayed silent too long; rejected: a webhook or
    action request failed or answered something other than valid TwiML; stream_error: the websocket
    failed or the app sent invalid messages; no_stream: the call ended without a media stream.
    """

    call_sid: str
    stream_sid: str | None
    outcome: Outcome
    dial_target: str | None = None
    http_status: int | None = None
    twiml: list[str] = field(default_factory=list)
    bot_audio_seconds: float = 0.0  # what the caller actually heard (cleared audio does not count)
    marks_echoed: list[str] = field(default_factory=list)
    events: list[SimEvent] = field(default_factory=list)
    duration_seconds: float = 0.0
    error: str | None = None  # why the call went wrong, for "rejected" and "stream_error"


class TwilioSimulator:
    def __init__(
        self,
        base_url: str,
        auth_token: str,
        *,
        from_number: str,
        to_number: str,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        answer_delay: float = 0.6,
        max_call_seconds: float = 180,
        on_event: Callable[[SimEvent], None] | None = None,
        status_callback: bool = True,
        bot_silence_limit: float = 30.0,
    ) -> None:
        """`bot_silence_limit`: how long the caller waits for a bot that says nothing before hanging up."""
        public_url(base_url, VOICE_PATH)  # validates the base URL now rather than mid-call
        for name, value in (("from_number", from_number), ("to_number", to_number), ("account_sid", account_sid)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string")
        for name, seconds in (
            ("answer_delay", answer_delay),
            ("max_call_seconds", max_call_seconds),
            ("bot_silence_limit", bot_silence_limit),
        ):
            if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
                raise ValueError(f"{name} must be a non-negative number of seconds, got {seconds!r}")
        self.base_url = base_url
        self.signer = SignatureChecker(auth_token)
        self.from_number = from_number
        self.to_number = to_number
        self.account_sid = account_sid
        self.answer_delay = float(answer_delay)
        self.max_call_seconds = float(max_call_seconds)
        self.on_event = on_event
        self.status_callback = status_callback
        self.bot_silence_limit = float(bot_silence_limit)

    def place_call(self, script: Sequence[ScriptItem]) -> CallResult:
        items = list(script)
        for item in items:
            if not isinstance(item, (Speak, Press, Silence, HangUp)):
                raise TypeError(f"script items are Speak, Press, Silence or HangUp, got {item!r}")
        return _Call(self, items).run()


# --- one call ----------------------------------------------------------------------------------------


class _CallEnded(Exception):
    """Unwinds the call once its outcome is known."""


class _Call:
    def __init__(self, simulator: TwilioSimulator, script: list[ScriptItem]) -> None:
        self.sim = simulator
        self.started_at = time.monotonic()
        self.deadline = self.started_at + simulator.max_call_seconds
        self.caller = _Caller(script, self)
        self.stream_opened = False
        self.result = CallResult(call_sid="CA" + secrets.token_hex(16), stream_sid=None, outcome="no_stream")

    def run(self) -> CallResult:
        try:
            verbs = self.request_twiml(public_url(self.sim.base_url, VOICE_PATH), {"CallStatus": "ringing"}, "webhook")
            self.follow(verbs)
        except _CallEnded:
            pass
        self.result.duration_seconds = time.monotonic() - self.started_at
        if self.sim.status_callback:
            self.post_status()
        self.emit("outcome", self.result.outcome + (f" ({self.result.error})" if self.result.error else ""))
        return self.result

    def emit(self, kind: str, detail: str) -> None:
        event = SimEvent(kind=kind, detail=detail, at=round(time.monotonic() - self.started_at, 3))
        self.result.events.append(event)
        if self.sim.on_event is not None:
            self.sim.on_event(event)

    def end(self, outcome: Outcome, error: str | None = None) -> NoReturn:
        self.result.outcome = outcome
        self.result.error = error
        raise _CallEnded

    def follow(self, verbs: list[TwimlVerb]) -> None:
        """Executes TwiML like Twilio: verb by verb, until one hands control to an action URL."""
        while True:
            for verb in verbs:
                if isinstance(verb, Say):
                    self.emit("say", f"[{verb.language or 'default'}] {verb.text}")
                elif isinstance(verb, Other):
                    self.emit("twiml_other", f"<{verb.tag}> is not simulated; skipped")
                elif isinstance(verb, Hangup):
                    self.end("hangup" if self.stream_opened else "no_stream")
                elif isinstance(verb, Dial):
                    self.result.dial_target = verb.target
                    self.emit("dial", f"{verb.kind} {verb.target} (timeout {verb.timeout} s)")
                    self.end("transferred")
                elif isinstance(verb, ConnectStream):
                    _Stream(self, verb).run()
                    if verb.action_url is not None:
                        verbs = self.request_twiml(
                            verb.action_url,
                            {"CallStatus": "in-progress", "StreamSid": self.result.stream_sid or ""},
                            "action",
                        )
                        break
            else:
                # Twilio ends the call when it runs out of verbs.
                self.end("hangup" if self.stream_opened else "no_stream")

    def request_twiml(self, url: str, extra_params: dict[str, str], kind: str) -> list[TwimlVerb]:
        """Asks the app what to do next; a failed request or unreadable answer ends the call as Twilio would."""
        try:
            status, body = self.post(url, extra_params)
        except requests.RequestException as error:
            self.end("rejected", f"{kind} POST {url} failed: {error}")
        self.result.http_status = status
        self.emit(kind, f"POST {url} -> {status}")
        if status != 200:
            self.end("rejected", f"{kind} answered HTTP {status}")
        self.result.twiml.append(body)
        try:
            verbs = parse_twiml(body)
        except TwimlError as error:
            self.end("rejected", f"{kind} answered invalid TwiML: {error}")
        return verbs

    def post(self, url: str, extra_params: dict[str, str]) -> tuple[int, str]:
        params = {
            "AccountSid": self.sim.account_sid,
            "CallSid": self.result.call_sid,
            "From": self.sim.from_number,
            "To": self.sim.to_number,
            "Called": self.sim.to_number,
            "Caller": self.sim.from_number,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
            **extra_params,
        }
        headers = {SIGNATURE_HEADER: self.sim.signer.sign(url, params)}
        response = requests.post(
            url, data=params, headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS, allow_redirects=False
        )
        return response.status_code, response.text

    def post_status(self) -> None:
        url = public_url(self.sim.base_url, STATUS_PATH)
        duration = str(math.ceil(self.result.duration_seconds))
        try:
            status, _ = self.post(url, {"CallStatus": "completed", "CallDuration": duration})
        except requests.RequestException as error:
            self.emit("status_callback", f"POST {url} failed: {error}")
            return
        self.emit("status_callback", f"POST {url} -> {status}")


# --- the media stream -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Received:
    at: float
    command: media_protocol.OutboundCommand


@dataclass(frozen=True)
class _Closed:
    at: float
    error: str | None  # None: the app closed the stream properly


class _AppClosedStream(Exception):
    """The app closed the media stream properly: Twilio moves on to the <Connect> action."""


class _Stream:
    """One <Connect><Stream>: the websocket, its reader thread and the 20 ms send rhythm."""

    def __init__(self, call: _Call, verb: ConnectStream) -> None:
        self.call = call
        self.verb = verb
        self.stream_sid = "MZ" + secrets.token_hex(16)
        self.sequence_number = 0
        self.inbox: queue.Queue[_Received | _Closed] = queue.Queue()
        self.stop_reading = threading.Event()
        self.speaker = _VirtualSpeaker(call.emit, time.monotonic())
        self.ws: websocket.WebSocket | None = None
        self.reader: threading.Thread | None = None

    def run(self) -> None:
        """Returns when the app has closed the stream; ends the call (raises _CallEnded) otherwise."""
        call = self.call
        if time.monotonic() >= call.deadline:
            call.emit("caller_hangup", "max_call_seconds reached")
            call.end("caller_hung_up")
        call.result.stream_sid = self.stream_sid
        try:
            self.open()
            self.exchange()
        except _AppClosedStream:
            call.emit("stream_closed", "the app closed the stream")
        finally:
            call.result.bot_audio_seconds += self.speaker.played_seconds
            self.shut_down()

    def open(self) -> None:
        url = self.verb.stream_url
        signature = self.call.sim.signer.sign(url, {})
        try:
            self.ws = websocket.create_connection(
                url, header={SIGNATURE_HEADER: signature}, timeout=SOCKET_TIMEOUT_SECONDS
            )
        except (websocket.WebSocketException, OSError) as error:
            self.call.end("stream_error", f"websocket handshake with {url} failed: {error}")
        self.call.stream_opened = True
        self.call.emit("stream_open", f"{url} ({self.stream_sid})")
        self.reader = threading.Thread(target=self.read, name=f"simulator-reader-{self.stream_sid}", daemon=True)
        self.reader.start()
        sim = self.call.sim
        self.send(media_protocol.connected_message())
        self.send(
            media_protocol.start_message(
                self.stream_sid, self.call.result.call_sid, sim.account_sid, self.verb.parameters, self.next_sequence()
            )
        )

    def exchange(self) -> None:
        """Every 20 ms: take in what the app sent, play it, echo marks, send one frame of the caller."""
        call = self.call
        caller = call.caller
        stream_started_at = next_tick = time.monotonic()
        caller.stream_started(stream_started_at)
        chunk = 0
        while True:
            now = time.monotonic()
            self.take_in_app_messages(now)
            for name in self.speaker.advance_to(now):
                self.echo_mark(name)
            if now >= call.deadline:
                call.emit("caller_hangup", "max_call_seconds reached")
                self.hang_up()
            step = caller.step(now, self.speaker)
            if step.hang_up:
                self.hang_up()
            chunk += 1
            self.send(
                media_protocol.inbound_media_message(
                    self.stream_sid,
                    step.frame,
                    chunk=chunk,
                    timestamp_ms=int((now - stream_started_at) * 1000),
                    sequence_number=self.next_sequence(),
                )
            )
            if step.digit is not None:
                self.send(media_protocol.dtmf_message(self.stream_sid, step.digit, self.next_sequence()))
            next_tick += _FRAME_SECONDS
            lag = time.monotonic() - next_tick
            if lag > MAX_TICK_LAG_SECONDS:
                next_tick = time.monotonic()
            elif lag < 0:
                time.sleep(-lag)

    def take_in_app_messages(self, now: float) -> None:
        """Applies what the reader received, in order; raises once the stream has closed."""
        while True:
            try:
                message = self.inbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(message, _Closed):
                self.stream_ended(message)
            # The speaker is advanced to the moment each message arrived, so playback starts on time.
            for name in self.speaker.advance_to(min(message.at, now)):
                self.echo_mark(name)
            command = message.command
            if isinstance(command, media_protocol.OutboundMedia):
                self.speaker.queue_audio(len(command.payload) / PHONE_RATE)
            elif isinstance(command, media_protocol.OutboundMark):
                for name in self.speaker.queue_mark(command.name):
                    self.echo_mark(name)
            else:
                self.call.emit("clear", "the app cleared the playback buffer")
                for name in self.speaker.clear():
                    self.echo_mark(name)

    def stream_ended(self, closed: _Closed) -> NoReturn:
        if closed.error is not None:
            self.call.end("stream_error", closed.error)
        raise _AppClosedStream

    def echo_mark(self, name: str) -> None:
        self.send(media_protocol.mark_message_from_twilio(self.stream_sid, name, self.next_sequence()))
        self.call.result.marks_echoed.append(name)
        self.call.emit("mark_echoed", name)

    def hang_up(self) -> NoReturn:
        call = self.call
        self.send(
            media_protocol.stop_message(
                self.stream_sid, call.result.call_sid, call.sim.account_sid, self.next_sequence()
            )
        )
        call.end("caller_hung_up")

    def send(self, message: str) -> None:
        assert self.ws is not None
        try:
            self.ws.send(message)
        except (websocket.WebSocketException, OSError) as error:
            # The app may have closed the stream a moment ago; the reader knows whether it did so properly.
            if self.reader is not None:
                self.reader.join(CLOSE_HANDSHAKE_SECONDS)
            while not self.inbox.empty():
                message_in = self.inbox.get_nowait()
                if isinstance(message_in, _Closed):
                    self.stream_ended(message_in)
            self.call.end("stream_error", f"sending to the stream failed: {error}")

    def next_sequence(self) -> int:
        self.sequence_number += 1
        return self.sequence_number

    def read(self) -> None:
        """Reader thread: only receives and parses; all state changes happen on the call's thread."""
        assert self.ws is not None
        while not self.stop_reading.is_set():
            try:
                opcode, data = self.ws.recv_data()
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketException, OSError) as error:
                if not self.stop_reading.is_set():
                    self.inbox.put(_Closed(time.monotonic(), f"stream connection lost: {error}"))
                return
            at = time.monotonic()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.inbox.put(_Closed(at, None))
                return
            if opcode != websocket.ABNF.OPCODE_TEXT:
                self.inbox.put(_Closed(at, "the app sent a binary frame; Media Streams messages are JSON text"))
                return
            try:
                command = media_protocol.parse_outbound(data, expected_stream_sid=self.stream_sid)
            except media_protocol.ProtocolError as error:
                # Real Twilio would only log this; failing loudly is what a test harness is for.
                self.inbox.put(_Closed(at, f"the app sent an invalid message: {error}"))
                return
            self.inbox.put(_Received(at, command))

    def shut_down(self) -> None:
        self.stop_reading.set()
        if self.ws is None:
            return
        if self.ws.connected:  # false once the app's close frame has been answered
            # If the connection is already gone there is nothing left to close politely.
            with contextlib.suppress(websocket.WebSocketException, OSError):
                self.ws.send_close()
        if self.reader is not None:
            self.reader.join(CLOSE_HANDSHAKE_SECONDS)
        # A reader still waiting for the app's close frame errors out here, or at its next socket timeout.
        self.ws.shutdown()


# --- the two people on the line -------------------------------------------------------------------


class _VirtualSpeaker:
    """Twilio's playback buffer for the app's audio: plays in arrival order, in real time."""

    def __init__(self, emit: Callable[[str, str], None], now: float) -> None:
        self._emit = emit
        self._queue: collections.deque[float | str] = collections.deque()  # seconds of audio, or a mark
        self._played_until = now
        self._last_heard_at: float | None = None
        self.played_seconds = 0.0
        self.talk_played_seconds = 0.0  # of the current stretch of bot speech

    @property
    def busy(self) -> bool:
        return bool(self._queue)

    def last_heard_at(self, now: float) -> float | None:
        """When the caller last heard the bot: now while it plays, else when it stopped; None if never."""
        return now if self.busy else self._last_heard_at

    def queue_audio(self, seconds: float) -> None:
        if not self._queue:
            self.talk_played_seconds = 0.0
            self._emit("bot_audio_start", "the bot starts speaking")
        if self._queue and isinstance(self._queue[-1], float):
            self._queue[-1] += seconds
        else:
            self._queue.append(seconds)

    def queue_mark(self, name: str) -> list[str]:
        """Returns the mark at once if nothing is playing before it, as Twilio echoes it then."""
        if not self._queue:
            return [name]
        self._queue.append(name)
        return []

    def clear(self) -> list[str]:
        """Drops the audio; the marks that were waiting for it are returned for echoing right away."""
        pending_marks = [item for item in self._queue if isinstance(item, str)]
        if self._queue:
            self._last_heard_at = self._played_until
            self._emit("bot_audio_end", f"cut off after {self.talk_played_seconds:.2f} s")
        self._queue.clear()
        return pending_marks

    def advance_to(self, now: float) -> list[str]:
        """Plays until `now`; returns the marks whose audio has finished playing."""
        budget = max(0.0, now - self._played_until)
        echoed: list[str] = []
        was_busy = self.busy
        while self._queue:
            head = self._queue[0]
            if isinstance(head, str):
                echoed.append(self._queue.popleft())
                continue
            if head > budget:
                self._queue[0] = head - budget
                self._played(budget)
                budget = 0.0
                break
            self._queue.popleft()
            self._played(head)
            budget -= head
        finished_at = max(now, self._played_until) - budget
        self._played_until = max(now, self._played_until)
        if was_busy and not self._queue:
            self._last_heard_at = finished_at
            self._emit("bot_audio_end", f"the bot stops after {self.talk_played_seconds:.2f} s")
        return echoed

    def _played(self, seconds: float) -> None:
        self.played_seconds += seconds
        self.talk_played_seconds += seconds


@dataclass(frozen=True)
class _Step:
    """What the caller does in one 20 ms tick."""

    frame: bytes = MULAW_SILENCE_FRAME
    digit: str | None = None
    hang_up: bool = False


class _Caller:
    """Follows the script, taking turns: speaks once the bot has spoken and fallen silent."""

    def __init__(self, script: list[ScriptItem], call: _Call) -> None:
        self._script = collections.deque(script)
        self._call = call
        self._frames: collections.deque[bytes] = collections.deque()
        self._digits: collections.deque[str] = collections.deque()
        self._next_digit_at = 0.0
        self._silent_until: float | None = None
        self._turn_ended_at: float | None = None
        self._waiting_since = 0.0
        self._announced_script_end = False

    def stream_started(self, now: float) -> None:
        self._waiting_since = now

    def step(self, now: float, speaker: _VirtualSpeaker) -> _Step:
        if self._frames:
            return _Step(frame=self._speak_next_frame(now))
        if self._digits:
            return _Step(digit=self._press_next_digit(now))
        if self._silent_until is not None:
            if now < self._silent_until:
                return _Step()
            self._silent_until = None
            self._waiting_since = now
        if not self._script:
            if not self._announced_script_end:
                self._announced_script_end = True
                self._call.emit("script_end", "the caller stays on the line, silent")
            return _Step()
        return self._begin_next_item(now, speaker)

    def _begin_next_item(self, now: float, speaker: _VirtualSpeaker) -> _Step:
        item = self._script[0]
        emit = self._call.emit
        if isinstance(item, Silence):
            self._script.popleft()
            self._silent_until = now + item.seconds
            emit("caller_silence", f"{item.seconds:g} s")
            return _Step()
        if not self._may_take_turn(item, now, speaker):
            if self._gave_up_waiting(now, speaker):
                emit("caller_gave_up", f"the bot said nothing for {self._call.sim.bot_silence_limit:g} s")
                return _Step(hang_up=True)
            return _Step()
        self._script.popleft()
        if isinstance(item, HangUp):
            emit("caller_hangup", "end of the caller's script")
            return _Step(hang_up=True)
        barging = " (barging in)" if speaker.busy else ""
        if isinstance(item, Speak):
            emit("caller_speak", f"{item.label}{barging}")
            self._frames.extend(split_frames(item.mulaw))
            return _Step(frame=self._speak_next_frame(now))
        emit("caller_press", f"{item.digits}{barging}")
        self._digits.extend(item.digits)
        self._next_digit_at = now
        return _Step(digit=self._press_next_digit(now))

    def _may_take_turn(self, item: ScriptItem, now: float, speaker: _VirtualSpeaker) -> bool:
        heard_at = speaker.last_heard_at(now)
        bot_spoke_since_my_turn = heard_at is not None and (
            self._turn_ended_at is None or heard_at > self._turn_ended_at
        )
        if not bot_spoke_since_my_turn:
            return False
        if not speaker.busy:
            return now - heard_at >= self._call.sim.answer_delay
        barge_in = isinstance(item, (Speak, Press)) and item.barge_in
        return barge_in and speaker.talk_played_seconds >= BARGE_IN_AFTER_SECONDS

    def _gave_up_waiting(self, now: float, speaker: _VirtualSpeaker) -> bool:
        heard_at = speaker.last_heard_at(now)
        quiet_since = self._waiting_since if heard_at is None else max(self._waiting_since, heard_at)
        return now - quiet_since >= self._call.sim.bot_silence_limit

    def _speak_next_frame(self, now: float) -> bytes:
        frame = self._frames.popleft()
        if not self._frames:
            self._end_turn(now + _FRAME_SECONDS)
        return frame

    def _press_next_digit(self, now: float) -> str | None:
        if now < self._next_digit_at:
            return None
        digit = self._digits.popleft()
        self._next_digit_at += DTMF_GAP_SECONDS
        if not self._digits:
            self._end_turn(now)
        return digit

    def _end_turn(self, at: float) -> None:
        self._turn_ended_at = at
        self._waiting_since = at
