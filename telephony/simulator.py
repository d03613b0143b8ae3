"""A local Twilio for tests and demos: places one call against the app the way Twilio would.

It posts the signed voice webhook, follows the TwiML, opens the media stream with a signed handshake,
streams the caller's audio in real time (silence between turns, as a real line does), plays the app's
audio on a virtual speaker that drains in real time, echoes marks only once the audio before them has
played, follows the <Connect> action URL when the app closes the stream, and ends with the status
callback. The caller follows a script and takes turns like a person: it answers once the bot has
spoken and fallen silent.

Beyond the stream it follows what a transfer leads to: <Play> (fetched like Twilio fetches it, and played
in real time), <Say> (Twilio's own voice; its length is estimated at 150 words a minute), <Gather> with
keys from the caller's script (no key within its timeout: Twilio goes on with the next verb and requests
nothing, as with actionOnEmptyResult false), and <Dial> or <Enqueue> whose far side is scripted by
`dial_outcome` and `queue_result`: the simulator then posts the action URL with the parameters Twilio
sends (DialCallStatus, DialCallSid, DialCallDuration, DialBridged; QueueResult, QueueSid, QueueTime) and
follows the TwiML it gets back. An answering agent fetches the noun's whisper URL first.

Every wait is bounded by `max_call_seconds` or a fixed timeout, so a broken app cannot hang a test.

Each spoken turn on the stream is timed as Twilio would see it (`CallResult.turn_latencies`): from the caller's last
frame carrying sound to the first frame of the app's reply, and whether the app took the turn before the caller had
finished (a turn may hold pauses: `Speak.in_parts`, `insert_pauses`).

Like a load balancer in front of several instances, `route` may send each request to another address than the
one Twilio signs (`route_by_path` builds one from path prefixes); `ca_file` trusts a private certificate
authority for https and wss, as a test with a self-signed certificate needs.

The forms it posts come from `telephony.webhooks` and the stream messages from `telephony.media_protocol`, the
modules the app reads them with. It is one long module because the call, its stream and the scripted caller
share one clock and one result, and are read as one story of a call.
"""

from __future__ import annotations

import collections
import contextlib
import io
import itertools
import math
import queue
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import requests
import soundfile
import websocket

from telephony import media_protocol, webhooks
from telephony.audio import (
    FRAME_MS,
    MULAW_SILENCE_FRAME,
    PHONE_RATE,
    mulaw_to_pcm16,
    pcm16_to_float32,
    split_frames,
)
from telephony.signatures import SIGNATURE_HEADER, SignatureChecker, public_url
from telephony.twiml import (
    ConnectStream,
    Dial,
    Enqueue,
    Gather,
    Hangup,
    Other,
    Play,
    Say,
    TwimlError,
    TwimlVerb,
    parse_twiml,
)

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

# How a scripted agent side behaves in time: a busy or failed dial ends almost at once; an agent who answers
# picks up after a ring or two.
DIAL_FAILS_AFTER_SECONDS = 0.5
AGENT_ANSWERS_AFTER_SECONDS = 1.0
# Twilio's <Say> voices speak at about this pace; the simulator cannot hear them, so it estimates their length.
SAY_WORDS_PER_SECOND = 2.5
# The DialCallStatus values a scripted agent side can end with.
DIAL_OUTCOMES = frozenset({"completed", "busy", "no-answer", "failed"})

# A frame of the caller's audio carries sound when it is louder than the floor and no more than this far below the
# utterance's loudest frame: a recording's room noise and a synthesizer's fade-out then count as quiet, and the
# voice-to-voice time starts at the last frame a listener would call speech.
SOUND_BELOW_PEAK_DB = 30.0
SOUND_FLOOR_DBFS = -50.0
# Quiet inside a turn, between sounds, is a pause from this length on; shorter gaps are the breaks between words.
MIN_PAUSE_SECONDS = 0.2

_FRAME_SECONDS = FRAME_MS / 1000

Outcome = Literal["hangup", "transferred", "caller_hung_up", "rejected", "stream_error", "no_stream"]

Route = Callable[[str], str]
_HTTP_SCHEME_OF = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_WEBSOCKET_SCHEME_OF = {"http": "ws", "https": "wss"}


def _unrouted(url: str) -> str:
    return url


def route_by_path(public_base: str, targets: Mapping[str, str]) -> Route:
    """A `route` that sends each request under `public_base` to the base URL of the longest matching path prefix in
    `targets` (include "/" for everything else), keeping the path and query; a websocket goes to the ws:// or
    wss:// form of its target. A URL outside `public_base` goes where it points, as Twilio would send it.

    >>> route = route_by_path("https://hotline.example.com", {"/": "http://127.0.0.1:8081",
    ...                                                       "/twilio/media": "http://127.0.0.1:8082"})
    >>> route("wss://hotline.example.com/twilio/media")
    'ws://127.0.0.1:8082/twilio/media'
    """
    public_url(public_base, VOICE_PATH)  # validates
    public = urlsplit(public_base)
    public_prefix = public.path.rstrip("/")
    for prefix, target in targets.items():
        if not prefix.startswith("/"):
            raise ValueError(f"route prefixes are paths starting with '/', got {prefix!r}")
        public_url(target, VOICE_PATH)
    by_length = sorted(targets.items(), key=lambda item: len(item[0]), reverse=True)

    def route(url: str) -> str:
        parts = urlsplit(url)
        if (_HTTP_SCHEME_OF.get(parts.scheme), parts.netloc) != (public.scheme, public.netloc) or not (
            parts.path == public_prefix or parts.path.startswith(public_prefix + "/")
        ):
            return url
        path = parts.path[len(public_prefix) :] or "/"
        target = next((target for prefix, target in by_length if path.startswith(prefix)), None)
        if target is None:
            return url
        destination = urlsplit(target)
        scheme = destination.scheme if parts.scheme in ("http", "https") else _WEBSOCKET_SCHEME_OF[destination.scheme]
        return urlunsplit((scheme, destination.netloc, destination.path.rstrip("/") + path, parts.query, ""))

    return route


# --- the caller's script ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Speak:
    """The caller says something (8 kHz mu-law; `label` is its text, for printing) once it is their turn.

    A turn comes when the bot has spoken since the caller's last turn and then been quiet for
    `answer_delay`; with `barge_in`, already after one second of the bot's speech; with `immediately`, as
    soon as the item before is done, whatever the bot does (to keep talking, or to speak into a recording).

    A turn may hold pauses (`Speak.in_parts`, `insert_pauses`); it ends with its last frame carrying sound, and
    the call's `turn_latencies` time the app's reply from there.
    """

    mulaw: bytes
    label: str
    barge_in: bool = False
    immediately: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.mulaw, bytes) or not self.mulaw:
            raise ValueError("Speak needs non-empty 8 kHz mu-law bytes")
        if not isinstance(self.label, str):
            raise ValueError("Speak label must be a string")

    @classmethod
    def in_parts(
        cls,
        parts: Sequence[bytes],
        pauses: Sequence[float],
        label: str,
        *,
        barge_in: bool = False,
        immediately: bool = False,
    ) -> Speak:
        """One turn said in parts with a pause of the given seconds between each part and the next (a hesitation,
        a breath in mid-sentence)."""
        return cls(join_with_pauses(parts, pauses), label, barge_in=barge_in, immediately=immediately)


def _whole_frames(mulaw: bytes) -> bytes:
    return b"".join(split_frames(mulaw))


def _silence(seconds: float) -> bytes:
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a pause is a non-negative number of seconds, got {seconds!r}")
    return MULAW_SILENCE_FRAME * round(seconds / _FRAME_SECONDS)


def join_with_pauses(parts: Sequence[bytes], pauses: Sequence[float]) -> bytes:
    """8 kHz mu-law parts joined by silences of `pauses` seconds (one fewer than parts; rounded to 20 ms frames,
    each part padded to whole frames so that the pauses start where the parts end)."""
    if not parts or not all(isinstance(part, bytes) and part for part in parts):
        raise ValueError("join_with_pauses needs non-empty 8 kHz mu-law parts")
    if len(pauses) != len(parts) - 1:
        raise ValueError(f"{len(parts)} parts need {len(parts) - 1} pauses, got {len(pauses)}")
    joined = _whole_frames(parts[0])
    for pause, part in zip(pauses, parts[1:], strict=True):
        joined += _silence(pause) + _whole_frames(part)
    return joined


def insert_pauses(mulaw: bytes, pauses: Sequence[tuple[float, float]]) -> bytes:
    """`mulaw` with silence inserted: each pause is (seconds into the original audio, seconds of silence), both
    rounded to 20 ms frames."""
    frames = split_frames(mulaw)
    cuts = []
    for at, _ in pauses:
        if not isinstance(at, (int, float)) or not 0 <= at <= len(frames) * _FRAME_SECONDS:
            raise ValueError(f"a pause must start inside the audio's {len(frames) * _FRAME_SECONDS:g} s, got {at!r}")
        cuts.append(round(at / _FRAME_SECONDS))
    inserted = b""
    done = 0
    for cut, (_, seconds) in sorted(zip(cuts, pauses, strict=True)):
        inserted += b"".join(frames[done:cut]) + _silence(seconds)
        done = cut
    return inserted + b"".join(frames[done:])


@dataclass(frozen=True)
class Press:
    """The caller presses keys once it is their turn (as for Speak), one DTMF event per digit."""

    digits: str
    barge_in: bool = False
    immediately: bool = False

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
    """The caller hangs up once it is their turn (at once with `immediately`): Twilio sends `stop` and closes
    the stream."""

    immediately: bool = False


ScriptItem = Speak | Press | Silence | HangUp


# --- what a call produced ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SimEvent:
    kind: str
    detail: str
    at: float  # seconds since the call was placed


@dataclass(frozen=True)
class TurnLatency:
    """One spoken turn of the caller on a media stream, timed as Twilio would see it.

    `seconds`: voice-to-voice, from sending the turn's last frame that carries sound (trailing quiet excluded)
    to receiving the first media frame of the app's reply that follows (media arriving while nothing of the app
    was left to play, so not the tail of an earlier prompt); None when no reply came on that stream before the
    caller's next turn. `cut_off`: the app took the turn before the caller had finished: it started a reply,
    closed the stream, or cleared playback during a pause of the turn. `speech_ended_at`: seconds since the call
    was placed; None when the turn was not spoken to its end.
    """

    label: str
    seconds: float | None
    cut_off: bool
    speech_ended_at: float | None


@dataclass
class CallResult:
    """How the call ended. Outcomes:
    hangup: TwiML hung up (or ran out) after the stream; transferred: a <Dial> or <Enqueue> with no scripted
    far side (`dial_outcome`, `queue_result`), where the simulation stops; caller_hung_up: the
    script's HangUp, max_call_seconds, or a bot that stayed silent too long; rejected: a webhook or
    action request failed or answered something other than valid TwiML; stream_error: the websocket
    failed or the app sent invalid messages; no_stream: the call ended without a media stream.
    """

    call_sid: str
    stream_sid: str | None
    outcome: Outcome
    dial_target: str | None = None
    dial_kind: str | None = None  # number, sip, client, queue (a <Dial><Queue>), or enqueue
    dial_status: str | None = None  # the DialCallStatus or QueueResult the simulator posted
    whisper_twiml: str | None = None  # what the whisper URL answered, when a scripted agent picked up
    gathered: list[str | None] = field(default_factory=list)  # per <Gather>: the keys posted, None for no input
    stream_sids: list[str] = field(default_factory=list)  # every media stream of the call, in order
    http_status: int | None = None
    twiml: list[str] = field(default_factory=list)
    bot_audio_seconds: float = 0.0  # what the caller actually heard (cleared audio does not count)
    marks_echoed: list[str] = field(default_factory=list)
    events: list[SimEvent] = field(default_factory=list)
    turn_latencies: list[TurnLatency] = field(default_factory=list)  # per Speak turn on a media stream, in order
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
        dial_outcome: str | None = None,
        queue_result: str | None = None,
        ring_seconds: float | None = None,
        agent_talk_seconds: float = 1.0,
        route: Route | None = None,
        ca_file: str | Path | None = None,
    ) -> None:
        """`bot_silence_limit`: how long the caller waits for a bot that says nothing before hanging up.

        The far side of a transfer: `dial_outcome` (completed, busy, no-answer, failed) is what a <Dial> comes
        to; `queue_result` (bridged, hangup, queue-full, ...) how an <Enqueue> ends. None stops the simulation
        at that verb as "transferred". `ring_seconds`: how long a no-answer rings, and how long a caller waits
        in a queue (default: the Dial's own timeout, as Twilio; one second in a queue). `agent_talk_seconds`:
        how long an agent who answers talks before hanging up (DialCallDuration).

        `route(url)` gives the address each request is sent to, while it is still signed for `url` as Twilio signs
        it (default: the URL itself). `ca_file`: a PEM file of certificate authorities to trust for https and wss
        instead of the system's."""
        if dial_outcome is not None and dial_outcome not in DIAL_OUTCOMES:
            raise ValueError(f"dial_outcome must be one of {sorted(DIAL_OUTCOMES)} or None, got {dial_outcome!r}")
        if queue_result is not None and queue_result not in webhooks.QUEUE_RESULTS:
            raise ValueError(
                f"queue_result must be one of {sorted(webhooks.QUEUE_RESULTS)} or None, got {queue_result!r}"
            )
        public_url(base_url, VOICE_PATH)  # validates the base URL now rather than mid-call
        for name, value in (("from_number", from_number), ("to_number", to_number), ("account_sid", account_sid)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string")
        for name, seconds in (
            ("answer_delay", answer_delay),
            ("max_call_seconds", max_call_seconds),
            ("bot_silence_limit", bot_silence_limit),
            ("ring_seconds", 0 if ring_seconds is None else ring_seconds),
            ("agent_talk_seconds", agent_talk_seconds),
        ):
            if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
                raise ValueError(f"{name} must be a non-negative number of seconds, got {seconds!r}")
        if route is not None and not callable(route):
            raise ValueError(f"route must be a callable from URL to URL, got {route!r}")
        if ca_file is not None and not Path(ca_file).is_file():
            raise ValueError(f"ca_file must be an existing PEM file, got {ca_file!r}")
        self.base_url = base_url
        self.route = route or _unrouted
        self.tls_verify: str | bool = str(ca_file) if ca_file is not None else True
        self.websocket_sslopt = {"ca_certs": str(ca_file)} if ca_file is not None else None
        self.signer = SignatureChecker(auth_token)
        self.from_number = from_number
        self.to_number = to_number
        self.account_sid = account_sid
        self.answer_delay = float(answer_delay)
        self.max_call_seconds = float(max_call_seconds)
        self.on_event = on_event
        self.status_callback = status_callback
        self.bot_silence_limit = float(bot_silence_limit)
        self.dial_outcome = dial_outcome
        self.queue_result = queue_result
        self.ring_seconds = None if ring_seconds is None else float(ring_seconds)
        self.agent_talk_seconds = float(agent_talk_seconds)

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
        self.turns = _TurnClock(self)
        self.stream_opened = False
        self.result = CallResult(call_sid="CA" + secrets.token_hex(16), stream_sid=None, outcome="no_stream")

    def run(self) -> CallResult:
        try:
            verbs = self.request_twiml(public_url(self.sim.base_url, VOICE_PATH), {"CallStatus": "ringing"}, "webhook")
            self.follow(verbs)
        except _CallEnded:
            pass
        self.result.duration_seconds = time.monotonic() - self.started_at
        self.result.turn_latencies = self.turns.latencies()
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
            next_verbs: list[TwimlVerb] | None = None
            for verb in verbs:
                if isinstance(verb, (Say, Play)):
                    self.listen_while_playing([verb], gather=None)
                elif isinstance(verb, Other):
                    self.emit("twiml_other", f"<{verb.tag}> is not simulated; skipped")
                elif isinstance(verb, Hangup):
                    self.end("hangup" if self.stream_opened else "no_stream")
                elif isinstance(verb, Dial):
                    next_verbs = self.dial(verb)
                elif isinstance(verb, Enqueue):
                    next_verbs = self.enqueue(verb)
                elif isinstance(verb, Gather):
                    next_verbs = self.gather(verb)
                elif isinstance(verb, ConnectStream):
                    stream = _Stream(self, verb)
                    stream.run()
                    if verb.action_url is not None:
                        next_verbs = self.request_twiml(
                            verb.action_url, {"CallStatus": "in-progress", "StreamSid": stream.stream_sid}, "action"
                        )
                if next_verbs is not None:
                    break
            else:
                # Twilio ends the call when it runs out of verbs.
                self.end("hangup" if self.stream_opened else "no_stream")
            verbs = next_verbs

    # -- what follows a transfer ---------------------------------------------------------------------

    def dial(self, verb: Dial) -> list[TwimlVerb] | None:
        """The far side does what `dial_outcome` says; then the action URL (or, without one, the next verb)."""
        self.result.dial_target, self.result.dial_kind = verb.target, verb.kind
        self.emit("dial", f"{verb.kind} {verb.target} (timeout {verb.timeout} s)")
        outcome = self.sim.dial_outcome
        if outcome is None:
            self.end("transferred")
        dial_sid = "CA" + secrets.token_hex(16)
        talked = 0
        if outcome == "completed":
            self.wait(min(AGENT_ANSWERS_AFTER_SECONDS, verb.timeout))
            if verb.whisper_url is not None:
                self.whisper(verb.whisper_url, dial_sid, verb.target)
            self.emit("agent_connected", f"talks for {self.sim.agent_talk_seconds:g} s")
            self.wait(self.sim.agent_talk_seconds)
            talked = math.ceil(self.sim.agent_talk_seconds)
        elif outcome == "no-answer":
            self.wait(verb.timeout if self.sim.ring_seconds is None else self.sim.ring_seconds)
        else:
            self.wait(DIAL_FAILS_AFTER_SECONDS)
        self.result.dial_status = outcome
        self.emit("dial_ended", outcome)
        if verb.action_url is None:
            return None
        params = webhooks.dial_result_fields(outcome, dial_sid, talked)
        return self.request_twiml(verb.action_url, params, "dial_action")

    def whisper(self, url: str, dial_sid: str, target: str) -> None:
        """The agent answered: Twilio runs the noun's URL on their leg before bridging; they hear what it plays."""
        verbs = self.request_twiml(
            url,
            {
                "CallSid": dial_sid,
                "ParentCallSid": self.result.call_sid,
                "CallStatus": "in-progress",
                "Direction": "outbound-dial",
                "To": target,
                "Called": target,
            },
            "whisper",
        )
        self.result.whisper_twiml = self.result.twiml[-1]
        for verb in verbs:
            if isinstance(verb, Play):
                self.emit("whisper_play", f"{verb.url} ({self.fetch_audio(verb.url):.2f} s)")
            elif isinstance(verb, Say):
                self.emit("whisper_say", verb.text)
            else:
                self.emit("twiml_other", f"<{type(verb).__name__}> in a whisper is not simulated; skipped")

    def enqueue(self, verb: Enqueue) -> list[TwimlVerb] | None:
        self.result.dial_target, self.result.dial_kind = verb.queue, "enqueue"
        self.emit("enqueue", verb.queue + (f" (waitUrl {verb.wait_url} not simulated)" if verb.wait_url else ""))
        result = self.sim.queue_result
        if result is None:
            self.end("transferred")
        waited = 1.0 if self.sim.ring_seconds is None else self.sim.ring_seconds
        self.wait(waited)
        if result in ("bridged", "redirected-from-bridged"):
            self.emit("agent_connected", f"talks for {self.sim.agent_talk_seconds:g} s")
            self.wait(self.sim.agent_talk_seconds)
        self.result.dial_status = result
        self.emit("queue_left", result)
        if verb.action_url is None:
            if result == webhooks.QUEUE_CALLER_HUNG_UP:
                self.end("caller_hung_up")
            return None
        params = webhooks.queue_result_fields(result, "QU" + secrets.token_hex(16), round(waited))
        verbs = self.request_twiml(verb.action_url, params, "queue_action")
        if result == webhooks.QUEUE_CALLER_HUNG_UP:
            # The caller is gone: Twilio reports the result, and there is nobody left to follow the answer.
            self.end("caller_hung_up")
        return verbs

    def gather(self, verb: Gather) -> list[TwimlVerb] | None:
        """Keys from the caller's script while the prompts play; the action with Digits, or on to the next verb."""
        if verb.input != "dtmf":
            self.end("rejected", f"<Gather input={verb.input!r}> is not simulated; only keys are")
        digits = self.listen_while_playing(list(verb.nested), gather=verb)
        self.result.gathered.append(digits)
        self.emit("gathered", digits if digits is not None else "no input")
        if digits is None and not verb.action_on_empty_result:
            return None
        if verb.action_url is None:
            self.end("rejected", "<Gather> without an action URL is not simulated")
        return self.request_twiml(verb.action_url, webhooks.gather_result_fields(digits or ""), "gather")

    def listen_while_playing(self, prompts: list[Say | Play], gather: Gather | None) -> str | None:
        """Plays the prompts in real time while the caller follows the script (hanging up, or pressing keys,
        which only a Gather hears and which cut its prompts short). For a Gather, returns the keys collected
        once it has enough, the caller pressed its finishOnKey, or `timeout` passed after the prompts and the
        last key; None for no input."""
        speaker = _VirtualSpeaker(self.emit, time.monotonic())
        for prompt in prompts:
            if isinstance(prompt, Say):
                self.emit("say", f"[{prompt.language or 'default'}] {prompt.text}")
                seconds = max(0.5, len(prompt.text.split()) / SAY_WORDS_PER_SECOND)
            else:
                seconds = self.fetch_audio(prompt.url)
                self.emit("play", f"{prompt.url} ({seconds:.2f} s)")
            speaker.queue_audio(seconds)
        started = next_tick = time.monotonic()
        self.caller.stream_started(started)
        digits, last_key_at = "", None
        try:
            while True:
                now = time.monotonic()
                speaker.advance_to(now)
                if now >= self.deadline:
                    self.emit("caller_hangup", "max_call_seconds reached")
                    self.end("caller_hung_up")
                step = self.caller.step(now, speaker)
                if step.hang_up:
                    self.end("caller_hung_up")
                if step.digit is not None and gather is not None:
                    if step.digit in gather.finish_on_key:
                        return digits or None
                    speaker.clear()  # a key stops the prompts, as Twilio's Gather does
                    digits, last_key_at = digits + step.digit, now
                    if gather.num_digits is not None and len(digits) >= gather.num_digits:
                        return digits
                if not speaker.busy:
                    if gather is None:
                        return None
                    quiet_since = max(speaker.last_heard_at(now) or started, last_key_at or started)
                    if now - quiet_since >= gather.timeout:
                        return digits or None
                next_tick += _FRAME_SECONDS
                lag = time.monotonic() - next_tick
                if lag > MAX_TICK_LAG_SECONDS:
                    next_tick = time.monotonic()
                elif lag < 0:
                    time.sleep(-lag)
        finally:
            self.result.bot_audio_seconds += speaker.played_seconds

    def fetch_audio(self, url: str) -> float:
        """Fetches a <Play> file as Twilio does (GET, no signature); its length in seconds. A file Twilio could not
        play ends the simulated call: real Twilio would skip it and log an error, a test should fail."""
        try:
            response = requests.get(
                self.sim.route(url), timeout=WEBHOOK_TIMEOUT_SECONDS, allow_redirects=False, verify=self.sim.tls_verify
            )
        except requests.RequestException as error:
            self.end("rejected", f"<Play> GET {url} failed: {error}")
        content_type = response.headers.get("Content-Type", "")
        if response.status_code != 200 or not content_type.startswith("audio/"):
            self.end("rejected", f"<Play> GET {url} answered HTTP {response.status_code} {content_type}")
        try:
            info = soundfile.info(io.BytesIO(response.content))
        except (RuntimeError, soundfile.LibsndfileError) as error:
            self.end("rejected", f"<Play> {url} is not audio Twilio can play: {error}")
        return float(info.duration)

    def wait(self, seconds: float) -> None:
        """Time passes on the line (ringing, waiting, an agent talking); the caller's patience still ends it."""
        until = time.monotonic() + seconds
        if until > self.deadline:
            time.sleep(max(0.0, self.deadline - time.monotonic()))
            self.emit("caller_hangup", "max_call_seconds reached")
            self.end("caller_hung_up")
        time.sleep(max(0.0, until - time.monotonic()))

    def request_twiml(self, url: str, extra_params: dict[str, str], kind: str) -> list[TwimlVerb]:
        """Asks the app what to do next; a failed request or unreadable answer ends the call as Twilio would."""
        try:
            status, body = self.post(url, extra_params)
        except requests.RequestException as error:
            self.end("rejected", f"{kind} POST {url}{self.routed_to(url)} failed: {error}")
        self.result.http_status = status
        self.emit(kind, f"POST {url}{self.routed_to(url)} -> {status}")
        if status != 200:
            self.end("rejected", f"{kind} answered HTTP {status}")
        self.result.twiml.append(body)
        try:
            verbs = parse_twiml(body)
        except TwimlError as error:
            self.end("rejected", f"{kind} answered invalid TwiML: {error}")
        return verbs

    def post(self, url: str, extra_params: dict[str, str]) -> tuple[int, str]:
        sim = self.sim
        params = {
            **webhooks.call_fields(sim.account_sid, self.result.call_sid, sim.from_number, sim.to_number),
            **extra_params,
        }
        headers = {SIGNATURE_HEADER: self.sim.signer.sign(url, params)}
        response = requests.post(
            self.sim.route(url),
            data=params,
            headers=headers,
            timeout=WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
            verify=self.sim.tls_verify,
        )
        return response.status_code, response.text

    def routed_to(self, url: str) -> str:
        """' (sent to ...)' when `route` sends the request elsewhere than the URL it is signed for."""
        destination = self.sim.route(url)
        return "" if destination == url else f" (sent to {destination})"

    def post_status(self) -> None:
        url = public_url(self.sim.base_url, STATUS_PATH)
        duration = math.ceil(self.result.duration_seconds)
        try:
            status, _ = self.post(url, webhooks.status_callback_fields("completed", duration))
        except requests.RequestException as error:
            self.emit("status_callback", f"POST {url}{self.routed_to(url)} failed: {error}")
            return
        self.emit("status_callback", f"POST {url}{self.routed_to(url)} -> {status}")


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
        if call.result.stream_sid is None:
            call.result.stream_sid = self.stream_sid
        call.result.stream_sids.append(self.stream_sid)
        try:
            self.open()
            self.exchange()
        except _AppClosedStream:
            call.emit("stream_closed", "the app closed the stream")
            call.turns.app_took_turn("closed the stream")
        finally:
            call.turns.stream_ended()
            call.result.bot_audio_seconds += self.speaker.played_seconds
            self.shut_down()

    def open(self) -> None:
        url = self.verb.stream_url
        sim = self.call.sim
        signature = sim.signer.sign(url, {})
        routed_to = self.call.routed_to(url)
        try:
            self.ws = websocket.create_connection(
                sim.route(url),
                header={SIGNATURE_HEADER: signature},
                timeout=SOCKET_TIMEOUT_SECONDS,
                sslopt=sim.websocket_sslopt,
            )
        except (websocket.WebSocketException, OSError) as error:
            self.call.end("stream_error", f"websocket handshake with {url}{routed_to} failed: {error}")
        self.call.stream_opened = True
        self.call.emit("stream_open", f"{url}{routed_to} ({self.stream_sid})")
        self.reader = threading.Thread(target=self.read, name=f"simulator-reader-{self.stream_sid}", daemon=True)
        self.reader.start()
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
            if step.turn is not None:
                call.turns.frame_sent(step.turn, time.monotonic())
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
                if not self.speaker.busy:
                    self.call.turns.reply_started(message.at)
                self.speaker.queue_audio(len(command.payload) / PHONE_RATE)
            elif isinstance(command, media_protocol.OutboundMark):
                for name in self.speaker.queue_mark(command.name):
                    self.echo_mark(name)
            else:
                self.call.emit("clear", "the app cleared the playback buffer")
                self.call.turns.cleared()
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
                self._queue.popleft()
                echoed.append(head)
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


class _SpokenTurn:
    """A Speak as it goes out frame by frame: where its sound ends, where its pauses are, what the app did."""

    def __init__(self, item: Speak) -> None:
        self.label = item.label
        self.frames = split_frames(item.mulaw)
        sounding = _sounding(self.frames)
        sound_at = [index for index, sounds in enumerate(sounding) if sounds]
        # A turn of nothing but quiet ends with its last frame.
        self.last_sound = sound_at[-1] if sound_at else len(self.frames) - 1
        self.in_pause_at = _pauses(sounding, sound_at)
        self.sent = 0
        self.speech_ended_at: float | None = None
        self.reply_at: float | None = None
        self.cut_off = False

    @property
    def speaking(self) -> bool:
        return self.sent > 0 and self.speech_ended_at is None

    @property
    def in_pause(self) -> bool:
        return self.speaking and self.in_pause_at[self.sent - 1]


def _sounding(frames: list[bytes]) -> list[bool]:
    """Per 20 ms frame: does it carry sound (see SOUND_BELOW_PEAK_DB)?"""
    samples = pcm16_to_float32(mulaw_to_pcm16(b"".join(frames))).reshape(len(frames), -1)
    level_db = 10 * np.log10(np.mean(samples**2, axis=1) + 1e-12)
    threshold = max(SOUND_FLOOR_DBFS, float(level_db.max()) - SOUND_BELOW_PEAK_DB)
    return [bool(level >= threshold) for level in level_db]


def _pauses(sounding: list[bool], sound_at: list[int]) -> list[bool]:
    """Per frame: is it inside a pause, a quiet stretch of at least MIN_PAUSE_SECONDS between two sounds?"""
    in_pause = [False] * len(sounding)
    for before, after in itertools.pairwise(sound_at):
        if (after - before - 1) * _FRAME_SECONDS >= MIN_PAUSE_SECONDS - 1e-9:
            in_pause[before + 1 : after] = [True] * (after - before - 1)
    return in_pause


class _TurnClock:
    """Times the caller's spoken turns on the media stream from the frames sent and the app's messages received,
    in the order the call's thread handles them."""

    def __init__(self, call: _Call) -> None:
        self._call = call
        self._turns: list[_SpokenTurn] = []
        self._awaiting_reply: _SpokenTurn | None = None

    def frame_sent(self, turn: _SpokenTurn, at: float) -> None:
        if not self._turns or self._turns[-1] is not turn:
            self._turns.append(turn)
            self._awaiting_reply = None  # a reply from now on answers this turn, not the one before
        turn.sent += 1
        if turn.sent - 1 == turn.last_sound:
            turn.speech_ended_at = at
            self._awaiting_reply = turn

    def reply_started(self, at: float) -> None:
        if self._turns and self._turns[-1].speaking:
            self.app_took_turn("started a reply")
        elif self._awaiting_reply is not None:
            turn, self._awaiting_reply = self._awaiting_reply, None
            assert turn.speech_ended_at is not None
            turn.reply_at = at
            self._call.emit("voice_to_voice", f"{turn.label}: {at - turn.speech_ended_at:.3f} s")

    def cleared(self) -> None:
        if self._turns and self._turns[-1].in_pause:
            self.app_took_turn("cleared playback in a pause")

    def app_took_turn(self, how: str) -> None:
        if self._turns and self._turns[-1].speaking and not self._turns[-1].cut_off:
            turn = self._turns[-1]
            turn.cut_off = True
            self._call.emit("cut_off", f"the app {how} while the caller was still saying {turn.label!r}")

    def stream_ended(self) -> None:
        self._awaiting_reply = None

    def latencies(self) -> list[TurnLatency]:
        started_at = self._call.started_at
        return [
            TurnLatency(
                label=turn.label,
                seconds=None
                if turn.reply_at is None or turn.speech_ended_at is None
                else round(turn.reply_at - turn.speech_ended_at, 4),
                cut_off=turn.cut_off,
                speech_ended_at=None if turn.speech_ended_at is None else round(turn.speech_ended_at - started_at, 3),
            )
            for turn in self._turns
        ]


@dataclass(frozen=True)
class _Step:
    """What the caller does in one 20 ms tick; `turn` is the spoken turn `frame` belongs to."""

    frame: bytes = MULAW_SILENCE_FRAME
    digit: str | None = None
    hang_up: bool = False
    turn: _SpokenTurn | None = None


class _Caller:
    """Follows the script, taking turns: speaks once the bot has spoken and fallen silent."""

    def __init__(self, script: list[ScriptItem], call: _Call) -> None:
        self._script = collections.deque(script)
        self._call = call
        self._turn: _SpokenTurn | None = None
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
            return self._speak_next_frame(now)
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
        if not item.immediately and not self._may_take_turn(item, now, speaker):
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
            self._turn = _SpokenTurn(item)
            self._frames.extend(self._turn.frames)
            return self._speak_next_frame(now)
        emit("caller_press", f"{item.digits}{barging}")
        self._digits.extend(item.digits)
        self._next_digit_at = now
        return _Step(digit=self._press_next_digit(now))

    def _may_take_turn(self, item: ScriptItem, now: float, speaker: _VirtualSpeaker) -> bool:
        heard_at = speaker.last_heard_at(now)
        if heard_at is None or (self._turn_ended_at is not None and heard_at <= self._turn_ended_at):
            return False  # the bot has not spoken since my turn
        if not speaker.busy:
            return now - heard_at >= self._call.sim.answer_delay
        barge_in = isinstance(item, (Speak, Press)) and item.barge_in
        return barge_in and speaker.talk_played_seconds >= BARGE_IN_AFTER_SECONDS

    def _gave_up_waiting(self, now: float, speaker: _VirtualSpeaker) -> bool:
        heard_at = speaker.last_heard_at(now)
        quiet_since = self._waiting_since if heard_at is None else max(self._waiting_since, heard_at)
        return now - quiet_since >= self._call.sim.bot_silence_limit

    def _speak_next_frame(self, now: float) -> _Step:
        frame = self._frames.popleft()
        if not self._frames:
            self._end_turn(now + _FRAME_SECONDS)
        return _Step(frame=frame, turn=self._turn)

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
