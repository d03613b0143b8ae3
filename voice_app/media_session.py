"""One call's media stream: Twilio's websocket on one side, the dialogue on the other.

Three threads per call, so that slow work never delays audio:
- the reader (the websocket request's own thread) parses frames, runs turn detection, handles barge-in;
- the worker runs speech recognition, the dialogue and speech synthesis, and carries out the actions;
- the outbound player paces the assistant's audio to Twilio in real time.
Anything unexpected ends the call safely: the outcome becomes a transfer to a person, and the stream
closes so that Twilio asks the Connect action what to do next.
"""

from __future__ import annotations

import contextvars
import hmac
import logging
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timezone
from hashlib import sha256

from simple_websocket import ConnectionClosed

from consent.ledger import ConsentRecord, Decision, append_event
from telephony.audio import PHONE_RATE, mulaw_to_pcm16, pcm16_to_float32, resample
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
from telephony.outbound import OutboundPlayer
from voice_app import calls
from voice_app.accounts.directory import CustomerRef
from voice_app.dialogue.machine import Dialogue
from voice_app.handoff.briefing import record_transfer
from voice_app.dialogue.messages import (
    Action,
    CallerSpoke,
    CallStarted,
    DigitPressed,
    EndCall,
    Event,
    PromptFinished,
    RecordConsent,
    Say,
    SilenceElapsed,
    StoreTurn,
)
from voice_app.models import Call, CallOutcome, HandoffReason
from voice_app.observability import metrics
from voice_app.observability.logs import bind_call
from voice_app.services import Services
from voice_app.speech.turns import SpeechStarted, TurnDetector, UtteranceEnded

log = logging.getLogger(__name__)

STT_RATE = 16000
RECEIVE_POLL_SECONDS = 0.2
# Twilio sends a frame every 20 ms for as long as the call lasts; a stream silent for this long is dead.
INBOUND_SILENCE_LIMIT_SECONDS = 10.0
# After the last prompt is queued, how long to wait beyond its length for Twilio to report it played.
PLAYBACK_GRACE_SECONDS = 3.0


def stream_token(secret_key: str, call_sid: str, purpose: str = "stream") -> str:
    """Binds a media stream to the call the voice webhook accepted: the handshake signature covers only the
    (fixed) stream URL, so without this a replayed handshake could claim any call. `purpose` keeps the token of
    one kind of stream (the conversation, a voice message) from opening another."""
    return hmac.new(secret_key.encode(), f"{purpose}:{call_sid}".encode(), sha256).hexdigest()


def call_of_start(services: Services, start: Start, purpose: str = "stream") -> Call:
    """The call a stream's start names, once its token proves the voice webhook accepted that call for this
    kind of stream."""
    call = calls.find_call(services.engine, start.call_sid)
    token = start.custom_parameters.get("stream_token", "")
    if call is None or not hmac.compare_digest(token, stream_token(services.secret_key, start.call_sid, purpose)):
        raise ProtocolError("start for an unknown call or with a wrong stream token")
    return call


def require_phone_format(start: Start) -> None:
    if start.encoding != "audio/x-mulaw" or start.sample_rate != PHONE_RATE or start.channels != 1:
        raise ProtocolError("unsupported media format")


def require_started(call: Call | None, started_sid: str | None, stream_sid: str) -> None:
    """Events count only after this stream's start, and only for it."""
    if call is None:
        raise ProtocolError("event before start")
    if stream_sid != started_sid:
        raise ProtocolError("event for another stream")


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class _SpeechBegan:
    pass


@dataclass(frozen=True)
class _Utterance:
    pcm16: bytes
    ended_at: float  # time.monotonic() when turn detection closed it


@dataclass
class _AwaitedReply:
    """An utterance being answered: when the caller stopped, and the turn it was kept as (with consent)."""

    ended_at: float
    turn_id: int | None = None
    timed: bool = False  # its first prompt is being timed


@dataclass(frozen=True)
class _ReplyStarted:
    """The first frame of the reply to an utterance went to Twilio (told by the player's thread)."""

    reply: _AwaitedReply
    sent_at: float


@dataclass(frozen=True)
class _StreamEnded:
    pass


_WorkItem = Event | _SpeechBegan | _Utterance | _ReplyStarted | _StreamEnded


class MediaSession:
    def __init__(self, websocket, services: Services):
        self.websocket = websocket
        self.services = services
        settings = services.settings.speech
        self.turns = TurnDetector(
            end_silence_ms=settings.end_of_turn_silence_ms,
            vad_aggressiveness=settings.vad_aggressiveness,
            min_speech_ms=settings.min_speech_ms,
            max_utterance_ms=settings.max_utterance_ms,
        )
        self.work: queue.Queue[_WorkItem] = queue.Queue()
        self.finished = threading.Event()
        self.call: Call | None = None
        self.stream_sid: str | None = None
        self.player: OutboundPlayer | None = None
        self.worker: threading.Thread | None = None
        self.dialogue: Dialogue | None = None
        self._listening = False
        self._outstanding: OrderedDict[str, Say] = OrderedDict()
        self._outstanding_lock = threading.Lock()
        self._awaited_reply: _AwaitedReply | None = None  # worker only

    # -- reader ----------------------------------------------------------------------------------------

    def run(self) -> None:
        last_frame = time.monotonic()
        try:
            while not self.finished.is_set():
                raw = self.websocket.receive(timeout=RECEIVE_POLL_SECONDS)
                if raw is None:
                    if time.monotonic() - last_frame > INBOUND_SILENCE_LIMIT_SECONDS:
                        raise ProtocolError("no frames from Twilio for too long")
                    continue
                last_frame = time.monotonic()
                if self._on_frame(parse_inbound(raw)):
                    break
        except ProtocolError as error:
            log.warning("call %s: media stream protocol error: %s", self._call_label(), error)
            self._fail(HandoffReason.STREAM_ERROR)
        except ConnectionClosed:
            log.info("call %s: media stream closed by Twilio", self._call_label())
        except Exception:
            log.exception("call %s: media session failed", self._call_label())
            self._fail(HandoffReason.INTERNAL_ERROR)
        finally:
            self._shut_down()

    def _on_frame(self, event) -> bool:
        """Handles one parsed frame; True when the stream is over."""
        match event:
            case Connected():
                return False
            case Start():
                self._start(event)
                return False
            case Stop():
                require_started(self.call, self.stream_sid, event.stream_sid)
                return True
            case Media():
                require_started(self.call, self.stream_sid, event.stream_sid)
                if event.track == "inbound" and self._listening:
                    self._detect_turns(mulaw_to_pcm16(event.payload))
                return False
            case Dtmf():
                require_started(self.call, self.stream_sid, event.stream_sid)
                self.work.put(DigitPressed(event.digit, now()))
                return False
            case Mark():
                require_started(self.call, self.stream_sid, event.stream_sid)
                self.work.put(PromptFinished(event.name, now()))
                return False
        raise ProtocolError(f"unexpected event {type(event).__name__}")

    def _start(self, start: Start) -> None:
        if self.call is not None:
            raise ProtocolError("second start on one stream")
        call = call_of_start(self.services, start)
        if not calls.attach_stream(self.services.engine, call.id, start.stream_sid):
            raise ProtocolError("the call already has a media stream")
        # Bound before the format check, so that a refused format still ends this call with a transfer.
        self.call, self.stream_sid = call, start.stream_sid
        bind_call(call.call_sid)
        require_phone_format(start)
        log.info("call %s: media stream started", self._call_label())
        self.player = OutboundPlayer(self.websocket.send, start.stream_sid)
        self.dialogue = Dialogue(
            call.language,
            self.services.notice_texts(),
            min_transcript_confidence=self.services.settings.dialogue.min_transcript_confidence,
            classifier=self.services.classifier,
            accounts=self.services.accounts,
            caller=CustomerRef(call.customer_ref, call.language) if call.customer_ref else None,
            today=date.today(),
        )
        # The worker runs in a copy of this thread's context, so its log lines name the call too.
        self.worker = threading.Thread(target=contextvars.copy_context().run, args=(self._work,),
                                       name=f"call-{call.id}", daemon=True)
        self.worker.start()
        self.work.put(CallStarted(now()))

    def _detect_turns(self, pcm16: bytes) -> None:
        turn = self.turns.push(pcm16)
        if isinstance(turn, SpeechStarted):
            self._barge_in()
            self.work.put(_SpeechBegan())
        elif isinstance(turn, UtteranceEnded):
            self.work.put(_Utterance(turn.pcm16, time.monotonic()))

    def _barge_in(self) -> None:
        """The caller talks over an interruptible prompt: stop it at once, so the assistant listens."""
        with self._outstanding_lock:
            interruptible = bool(self._outstanding) and all(say.interruptible for say in self._outstanding.values())
        if interruptible and self.player is not None:
            for dropped in self.player.clear():
                self.work.put(PromptFinished(dropped, now()))

    # -- worker ----------------------------------------------------------------------------------------

    def _work(self) -> None:
        quiet_since: float | None = None
        silence_limit = self.services.settings.dialogue.silence_timeout_seconds
        max_utterance_seconds = self.services.settings.speech.max_utterance_ms / 1000
        try:
            while not self.finished.is_set():
                try:
                    item = self.work.get(timeout=RECEIVE_POLL_SECONDS)
                except queue.Empty:
                    if quiet_since is not None and time.monotonic() - quiet_since >= silence_limit:
                        quiet_since = None
                        self._dispatch(SilenceElapsed(now()))
                    continue
                if isinstance(item, _StreamEnded):
                    return
                if isinstance(item, _SpeechBegan):
                    # The caller may talk for up to the longest utterance before the silence clock runs again;
                    # a blip too short to be a turn yields no utterance and so ends the wait that way.
                    quiet_since = time.monotonic() + max_utterance_seconds
                    continue
                if isinstance(item, _ReplyStarted):
                    self._record_latency(item)
                    continue
                if isinstance(item, _Utterance):
                    quiet_since = None
                    self._awaited_reply = _AwaitedReply(item.ended_at)
                    try:
                        self._dispatch(self._transcribe(item.pcm16))
                    finally:
                        self._awaited_reply = None
                elif isinstance(item, DigitPressed):
                    quiet_since = None
                    self._dispatch(item)
                elif isinstance(item, PromptFinished):
                    self._prompt_finished(item)
                else:
                    self._dispatch(item)
                if self._listening and not self._has_outstanding() and quiet_since is None:
                    quiet_since = time.monotonic()
        except Exception:
            log.exception("call %s: dialogue failed", self._call_label())
            self._fail(HandoffReason.INTERNAL_ERROR)

    def _transcribe(self, pcm16: bytes) -> CallerSpoke:
        audio = resample(pcm16_to_float32(pcm16), PHONE_RATE, STT_RATE)
        known = None if self.dialogue.language_open else self.dialogue.language
        with metrics.transcribing():
            heard = self.services.speech.transcriber.transcribe(audio, known, fallback_language=self.dialogue.language)
        self.services.observe(
            self.call.call_sid, "heard", f"{heard.text!r} ({heard.language}, confidence {heard.confidence:.2f})", now()
        )
        return CallerSpoke(heard.text, heard.language, heard.language_probability, heard.confidence, now())

    def _prompt_finished(self, event: PromptFinished) -> None:
        with self._outstanding_lock:
            say = self._outstanding.pop(event.prompt_id, None)
        if say is None:
            return
        if say.evidence:
            notice = self.services.notices[("consent" if say.evidence == "notice" else say.evidence, say.language)]
            calls.add_event(
                self.services.engine,
                self.call.id,
                f"{say.evidence}_played",
                f"{notice.kind} {notice.language} v{notice.version} sha256:{notice.sha256}",
            )
        self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        for action in self.dialogue.handle(event):
            self._carry_out(action)
        listening = self.dialogue.listening
        if listening and not self._listening:
            self.turns.reset()
        self._listening = listening

    def _carry_out(self, action: Action) -> None:
        match action:
            case Say():
                self._say(action)
            case RecordConsent():
                self._record_consent(action)
            case StoreTurn():
                turn_id = calls.store_turn(
                    self.services.engine,
                    self.call.id,
                    transcript=action.transcript,
                    confidence=action.confidence,
                    language=action.language,
                    intent=action.intent,
                    intent_confidence=action.intent_confidence,
                    route=action.route,
                    reply=action.reply,
                )
                if self._awaited_reply is not None:
                    self._awaited_reply.turn_id = turn_id
            case EndCall():
                self._end(action.outcome, action.reason, action.topic)
            case _:
                raise TypeError(f"unknown action {action!r}")

    def _say(self, say: Say) -> None:
        audio = self.services.speech.synthesizer.synthesize(say.text, say.language)
        with self._outstanding_lock:
            self._outstanding[say.prompt_id] = say
        # The first thing said after an utterance is its reply: time it from the caller's last word.
        reply, on_start = self._awaited_reply, None
        if reply is not None and not reply.timed:
            reply.timed = True
            on_start = lambda: self.work.put(_ReplyStarted(reply, time.monotonic()))  # noqa: E731
        self.player.play(audio, say.prompt_id, on_start=on_start)
        self.services.observe(self.call.call_sid, "bot", say.text, now())

    def _record_latency(self, started: _ReplyStarted) -> None:
        latency_seconds = started.sent_at - started.reply.ended_at
        metrics.answered(latency_seconds)
        latency_ms = round(latency_seconds * 1000)
        try:
            calls.record_answer_latency(self.services.engine, self.call.id, latency_ms, started.reply.turn_id)
        except Exception:  # a lost measurement must not end the caller's conversation
            log.exception("call %s: answer latency not stored", self._call_label())

    def _record_consent(self, record: RecordConsent) -> None:
        notices = self.services.notices
        event = append_event(
            self.services.engine,
            ConsentRecord(
                call_ref=self.call.call_sid,
                subject=self.call.caller,
                notice=notices[("consent", record.language)],
                disclosure=notices[("disclosure", record.language)],
                language=record.language,
                decision=record.decision,
                method=record.method,
                recognised_answer=record.recognised_answer,
                prompt_count=record.prompt_count,
                notice_played_at=record.notice_played_at,
                answered_at=record.answered_at,
            ),
        )
        calls.record_consent_decision(self.services.engine, self.call.id, record.decision.value)
        calls.add_event(self.services.engine, self.call.id, "consent_recorded", f"{record.decision.value} seq {event.seq}")
        self.services.observe(self.call.call_sid, "consent", f"{record.decision.value} by {record.method.value}", now())
        if record.decision is not Decision.GRANTED:
            # Nothing more the caller says is to be heard by the assistant.
            self._listening = False

    def _end(self, outcome: CallOutcome, reason: HandoffReason | None, topic: str | None) -> None:
        calls.decide_outcome(self.services.engine, self.call.id, outcome, reason, topic)
        if outcome is CallOutcome.TRANSFER:
            account = self.dialogue.assistance.summary
            record_transfer(
                self.services.engine, self.call.id, reason=reason, topic=topic,
                customer_name=f"{account.first_name} {account.last_name}" if account else None,
                verified=account is not None, dial_target=self.services.settings.telephony.agent_target.label,
            )
        calls.add_event(self.services.engine, self.call.id, outcome.value, reason.value if reason else "")
        self.services.observe(self.call.call_sid, "end", f"{outcome.value}{f' ({reason.value})' if reason else ''}", now())
        self._listening = False
        deadline = time.monotonic() + self.player.queued_seconds + PLAYBACK_GRACE_SECONDS
        while self._has_outstanding() and time.monotonic() < deadline and not self.finished.is_set():
            try:
                item = self.work.get(timeout=RECEIVE_POLL_SECONDS)
            except queue.Empty:
                continue
            if isinstance(item, PromptFinished):
                with self._outstanding_lock:
                    self._outstanding.pop(item.prompt_id, None)
            elif isinstance(item, _ReplyStarted):  # the goodbye or the transfer notice answering the last words
                self._record_latency(item)
            elif isinstance(item, _StreamEnded):
                break
        self.finished.set()

    def _has_outstanding(self) -> bool:
        with self._outstanding_lock:
            return bool(self._outstanding)

    # -- endings ---------------------------------------------------------------------------------------

    def hand_over(self, reason: HandoffReason) -> None:
        """Ends the call from another thread (the server is shutting down): the caller goes to a person the way
        they do after a failure, unless the call's outcome was already decided."""
        if self.call is not None:
            calls.decide_outcome(self.services.engine, self.call.id, CallOutcome.TRANSFER, reason)
            calls.add_event(self.services.engine, self.call.id, "handed_over", reason.value)
        self.finished.set()

    def _fail(self, reason: HandoffReason) -> None:
        """Whatever went wrong, the caller goes to a person: the stream closes, the action URL dials."""
        metrics.error(reason.value)
        if self.call is not None:
            calls.decide_outcome(self.services.engine, self.call.id, CallOutcome.TRANSFER, reason)
            calls.add_event(self.services.engine, self.call.id, "failure", reason.value)
        self.finished.set()

    def _shut_down(self) -> None:
        self.finished.set()
        self.work.put(_StreamEnded())
        if self.worker is not None and self.worker is not threading.current_thread():
            self.worker.join(timeout=5)
        if self.player is not None:
            self.player.close()
        log.info("call %s: media stream ended", self._call_label())

    def _call_label(self) -> str:
        return str(self.call.id) if self.call is not None else "-"
