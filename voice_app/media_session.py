"""One call's media stream: Twilio's websocket on one side, the call's executor on the other.

Three threads per call, so that slow work never delays audio:
- the reader (the websocket request's own thread) reads the stream, runs turn detection and barge-in, and puts
  what it heard on the executor's queue; it decides nothing about the call;
- the executor (`voice_app.call.executor`) owns the call's state: it runs speech recognition, the dialogue and
  speech synthesis, and carries out the actions;
- the outbound player paces the assistant's audio to Twilio in real time.
Anything unexpected ends the call safely: the outcome becomes a transfer to a person, and the stream closes so
that Twilio asks the Connect action what to do next.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
from datetime import date

from telephony.media_protocol import Dtmf, Mark, Media, ProtocolError, Start
from telephony.media_stream import StreamClosed, StreamReader, Websocket
from telephony.outbound import OutboundPlayer
from voice_app import calls
from voice_app.accounts.directory import CustomerRef
from voice_app.call.executor import CallExecutor, now, record_failure
from voice_app.call.inputs import CallInput, HandOverRequested, StreamEnded, StreamFailed
from voice_app.call.observers import CallFailed, MetricsObserver, Observers, TimedAccounts, call_observers
from voice_app.call.stream_machine import StreamMachine
from voice_app.call.streams import call_of_start, conversation_token
from voice_app.call.turn_taking import SmartTurn, TurnTaking, WordsRule
from voice_app.dialogue.machine import Dialogue
from voice_app.dialogue.messages import CallStarted, DigitPressed, PromptFinished
from voice_app.models import Call, HandoffReason
from voice_app.observability.logs import bind_call
from voice_app.services import Services
from voice_app.speech.turn_completion import shared_turn_completion
from voice_app.speech.turns import QUIET_BELOW_PEAK_DB, TurnDetector

log = logging.getLogger(__name__)

EXECUTOR_JOIN_SECONDS = 5


class MediaSession:
    def __init__(self, websocket: Websocket, services: Services):
        self.websocket = websocket
        self.services = services
        self.finished = threading.Event()  # set by the executor once the call is over: the reader stops
        self.call: Call | None = None
        self.observers = Observers([MetricsObserver()])
        self.player: OutboundPlayer | None = None
        self.turn_taking: TurnTaking | None = None
        self.executor: CallExecutor | None = None
        self.executor_thread: threading.Thread | None = None

    def run(self) -> None:
        reader = StreamReader(self.websocket, conversation_token(self.services), self._admit)
        failure: HandoffReason | None = None
        try:
            for event in reader.events(until=self.finished):
                match event:
                    case Start():
                        self._start(event)
                    case Media(track="inbound") if self.turn_taking is not None:
                        self.turn_taking.hear(event.payload)
                    case Dtmf() if self.executor is not None:
                        self.executor.submit(DigitPressed(event.digit, now()))
                    case Mark() if self.executor is not None:
                        self.executor.submit(PromptFinished(event.name, now()))
                    case StreamClosed():
                        log.info("call %s: media stream closed by Twilio", self._call_label())
        except ProtocolError as error:
            log.warning("call %s: media stream protocol error: %s", self._call_label(), error)
            failure = HandoffReason.STREAM_ERROR
        except Exception:
            log.exception("call %s: media session failed", self._call_label())
            failure = HandoffReason.INTERNAL_ERROR
        finally:
            self._shut_down(failure)

    def _admit(self, start: Start) -> None:
        """Binds the stream to its call; a call with a stream already refuses a second (a replayed start)."""
        call = call_of_start(self.services, start)
        if not calls.attach_stream(self.services.engine, calls.id_of(call), start.stream_sid):
            raise ProtocolError("the call already has a media stream")
        self.call = call
        bind_call(call.call_sid)

    def _start(self, start: Start) -> None:
        call = self.call
        assert call is not None  # bound by _admit before the reader hands out the start
        log.info("call %s: media stream started", call.id)
        settings = self.services.settings
        self.player = OutboundPlayer(
            self.websocket.send, start.stream_sid, lead_ms=self.services.settings.telephony.playback_lead_ms
        )
        accounts = TimedAccounts(self.services.accounts)
        dialogue = Dialogue(
            call.language,
            self.services.notice_texts(),
            min_transcript_confidence=settings.dialogue.min_transcript_confidence,
            classifier=self.services.classifier,
            accounts=accounts,
            caller=CustomerRef(call.customer_ref, call.language) if call.customer_ref else None,
            today=date.today(),
            return_pause_days=settings.returns.pause_days,
        )
        speech = settings.speech
        smart_turn = None
        if speech.asks_smart_turn:
            smart_turn = SmartTurn(
                shared_turn_completion(speech.model_cache_dir),
                speech.turn_complete_threshold,
                speech.short_answer_fallback_ms,
                speech.turn_fallback_ms,
                WordsRule(speech.unfinished_words_silence_ms, speech.unfinished_sound_silence_ms)
                if speech.end_of_turn == "smart_turn_and_words"
                else None,
            )
        detector = TurnDetector(
            end_silence_ms=speech.turn_fallback_ms if smart_turn else speech.end_of_turn_silence_ms,
            pause_ms=speech.turn_pause_ms if smart_turn else None,
            quiet_below_peak_db=QUIET_BELOW_PEAK_DB if smart_turn else None,
            vad_aggressiveness=speech.vad_aggressiveness,
            min_speech_ms=speech.min_speech_ms,
            max_utterance_ms=speech.max_utterance_ms,
        )
        self.observers.add(call_observers(self.services, call))
        inputs: queue.Queue[CallInput] = queue.Queue()
        self.turn_taking = TurnTaking(detector, self.player, inputs.put, smart_turn)
        machine = StreamMachine(
            dialogue,
            silence_timeout_seconds=settings.dialogue.silence_timeout_seconds,
            max_utterance_seconds=settings.speech.max_utterance_ms / 1000,
        )
        executor = CallExecutor(
            self.services, call, machine, self.player, self.turn_taking, self.observers, inputs, self.finished, accounts
        )
        self.executor = executor
        # The executor runs in a copy of this thread's context, so its log lines name the call too.
        self.executor_thread = threading.Thread(
            target=contextvars.copy_context().run, args=(executor.run,), name=f"call-{call.id}", daemon=True
        )
        self.executor_thread.start()
        executor.submit(CallStarted(now()))

    def hand_over(self, reason: HandoffReason) -> None:
        """Ends the call from another thread (the server is shutting down): the caller goes to a person the way
        they do after a failure, unless the call's outcome was already decided."""
        if self.executor is not None:
            self.executor.stop(HandOverRequested(reason))
        else:
            self.finished.set()

    def _shut_down(self, failure: HandoffReason | None) -> None:
        if self.executor is not None and self.executor_thread is not None:
            self.executor.stop(StreamFailed(failure) if failure else StreamEnded())
            self.executor_thread.join(timeout=EXECUTOR_JOIN_SECONDS)
        elif failure is not None and self.call is not None:
            # No executor yet: this thread is the only one the call has.
            record_failure(self.services, self.call, failure, self.observers)
        elif failure is not None:
            self.observers.observe(CallFailed(failure))
        self.finished.set()
        if self.player is not None:
            self.player.close()
        log.info("call %s: media stream ended", self._call_label())

    def _call_label(self) -> str:
        return str(self.call.id) if self.call is not None else "-"
