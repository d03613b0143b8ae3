"""One call's executor: the only owner of the call's state, on one thread of its own.

It takes the call's inputs from one queue (the reader's turns, digits and marks, the player's reports), feeds the
call's state machine (`stream_machine`, with the dialogue inside) and carries out the actions it returns: speech
recognition and synthesis, the player, the consent ledger, the call records and the hand-over. What it did goes
to the observers. Stopping the call (the stream ended or broke, the server hands the caller over) is asked
through `stop`, and checked before each input, so a stopped call does not answer turns still queued.

Whatever fails while it acts (the database, speech recognition or its time bound, speech synthesis), the caller
hears the apology kept since start-up, and the stream closes so that the Connect action sends them to a person; the
failure is recorded when the database allows, and the Connect action dials a person when it does not.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from datetime import UTC, datetime

from telephony.audio import PHONE_RATE
from telephony.outbound import OutboundPlayer
from voice_app import calls
from voice_app.call import records
from voice_app.call.inputs import (
    CallInput,
    EarlyTranscriptReady,
    PromptStarted,
    StopAsked,
    StopRequest,
    StreamEnded,
    StreamFailed,
    TurnPaused,
)
from voice_app.call.observers import (
    CallEnded,
    CallFailed,
    ConsentRecorded,
    Heard,
    Observers,
    PromptHeard,
    Said,
    TimedAccounts,
    TurnStored,
    Understood,
    UtteranceAnswered,
    UtteranceTaken,
)
from voice_app.call.recognition import Recogniser
from voice_app.call.stream_machine import (
    Finish,
    PlaybackQueued,
    PostGate,
    Recognise,
    RecordFailure,
    RecordHandOver,
    StreamAction,
    StreamEvent,
    StreamMachine,
    Tick,
)
from voice_app.call.stream_machine import PromptHeard as MachinePromptHeard
from voice_app.call.turn_taking import Gate, TurnTaking, WordsJudged
from voice_app.call.turn_words import dialogue_would_act_on
from voice_app.dialogue.messages import (
    CallerSpoke,
    EndCall,
    PauseInvoice,
    PromptFinished,
    RecordConsent,
    Say,
    StopPlaying,
    StoreTurn,
)
from voice_app.dialogue.prompts import APOLOGIES
from voice_app.models import Call, CallOutcome, HandoffReason
from voice_app.services import Services

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
APOLOGY_PROMPT_ID = "apology"
# Beyond the apology's length: how long to wait for Twilio to report it heard before closing the stream anyway.
APOLOGY_GRACE_SECONDS = 3.0


FIRST_SENTENCE_MARK = ".first"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def split_first_sentence(text: str) -> tuple[str, str]:
    """The first sentence of `text` and the rest ("" when there is only one)."""
    parts = _SENTENCE_END.split(text.strip(), maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else ""


def now() -> datetime:
    return datetime.now(UTC)


def record_failure(services: Services, call: Call, reason: HandoffReason, observers: Observers) -> None:
    """Whatever went wrong, the caller goes to a person: the stream closes, the Connect action dials."""
    observers.observe(CallFailed(reason))
    calls.decide_outcome(services.engine, calls.id_of(call), CallOutcome.TRANSFER, reason)
    calls.add_event(services.engine, calls.id_of(call), "failure", reason.value)


class CallExecutor:
    def __init__(
        self,
        services: Services,
        call: Call,
        machine: StreamMachine,
        player: OutboundPlayer,
        turn_taking: TurnTaking,
        observers: Observers,
        inputs: queue.Queue[CallInput],
        finished: threading.Event,
        accounts: TimedAccounts | None = None,
    ) -> None:
        self.services = services
        self.call = call
        self.call_id = calls.id_of(call)
        self.machine = machine
        self.player = player
        self.turn_taking = turn_taking
        self.observers = observers
        self.inputs = inputs  # shared with the reader's turn taking, which puts what it heard there
        self.finished = finished
        self.recogniser = Recogniser(
            services.speech.transcriber, timeout_seconds=services.settings.speech.transcription_timeout_seconds
        )
        self.accounts = accounts  # the dialogue's directory, when its look-ups are timed
        self._stop_requests: queue.SimpleQueue[StopRequest] = queue.SimpleQueue()
        self._stream_gone = False  # the caller can no longer hear anything on this stream
        self._early_pause = 0  # the pause whose turn so far is being transcribed early

    # -- other threads ---------------------------------------------------------------------------------

    def submit(self, item: CallInput) -> None:
        self.inputs.put(item)

    def stop(self, request: StopRequest) -> None:
        self._stop_requests.put(request)
        self.inputs.put(StopAsked())

    # -- the executor's thread ---------------------------------------------------------------------------

    def run(self) -> None:
        try:
            while not self.finished.is_set():
                if not self._stop_requests.empty():
                    request = self._stop_requests.get()
                    self._stream_gone = isinstance(request, (StreamEnded, StreamFailed))
                    self._feed(request)
                    continue
                try:
                    item = self.inputs.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    self._feed(Tick(now()))
                    continue
                match item:
                    case StopAsked():
                        continue
                    case PromptStarted():
                        self.observers.observe(item)
                    case TurnPaused():
                        self._start_early(item)
                    case EarlyTranscriptReady():
                        self._judge_words(item)
                    case _:
                        self._feed(item)
        except Exception:
            log.exception("call %s: dialogue failed", self.call_id)
            self._fail_to_a_person()
            self.finished.set()

    def _start_early(self, paused: TurnPaused) -> None:
        self._early_pause = paused.pause
        smart_turn = self.turn_taking.smart_turn
        inputs = self.inputs
        on_ready = None
        if smart_turn is not None and smart_turn.words is not None:

            def on_ready() -> None:
                inputs.put(EarlyTranscriptReady(paused.pause))

        self.recogniser.start_early(paused.pcm16, *self.machine.recognition_languages(), on_ready=on_ready)

    def _judge_words(self, ready: EarlyTranscriptReady) -> None:
        """Tells the reader whether the dialogue would act on the turn so far, for the pause it paused at."""
        heard = self.recogniser.early_transcript() if ready.pause == self._early_pause else None
        act = heard is not None and dialogue_would_act_on(self.machine.dialogue, heard)
        self.turn_taking.post_words(WordsJudged(ready.pause, act))

    def _fail_to_a_person(self) -> None:
        """The apology first (recording the failure may wait on a database that is gone), then the record, then
        the apology heard to its end. Raises nothing: this is the last thing the call does."""
        audio_seconds = 0.0
        if not self._stream_gone:
            try:
                audio_seconds = self._start_apology()
            except Exception:
                log.exception("call %s: the apology could not be played", self.call_id)
        try:
            record_failure(self.services, self.call, HandoffReason.INTERNAL_ERROR, self.observers)
        except Exception:
            log.exception("call %s: the failure could not be recorded; the Connect action hands over", self.call_id)
        if audio_seconds:
            self._wait_for_apology(time.monotonic() + audio_seconds + APOLOGY_GRACE_SECONDS)

    def _start_apology(self) -> float:
        """Cuts what plays, stops listening and plays the kept apology; returns its length in seconds."""
        self.turn_taking.post(Gate(listening=False, interruptible=False))
        language = self.machine.dialogue.language
        audio = self.services.speech.synthesizer.kept(APOLOGIES[language], language)
        self.player.clear()
        self.player.play(audio, APOLOGY_PROMPT_ID)
        return len(audio) / PHONE_RATE

    def _wait_for_apology(self, deadline: float) -> None:
        while not self.finished.is_set() and self._stop_requests.empty() and time.monotonic() < deadline:
            try:
                item = self.inputs.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if isinstance(item, PromptFinished) and item.prompt_id == APOLOGY_PROMPT_ID:
                return

    def _feed(self, event: StreamEvent) -> None:
        for action in self.machine.handle(event, time.monotonic()):
            self._carry_out(action)

    def _carry_out(self, action: StreamAction) -> None:
        match action:
            case Recognise():
                self._recognise(action)
            case Say():
                self._say(action)
            case PostGate():
                self.turn_taking.post(action.gate)
            case MachinePromptHeard():
                self.observers.observe(PromptHeard(action.say, action.at))
            case StopPlaying():
                # What it drops was not heard: its marks are not fed back as finished (unlike a barge-in's).
                self.player.clear()
            case RecordConsent():
                self._record_consent(action)
            case StoreTurn():
                self.observers.observe(TurnStored(records.store_turn(self.services.engine, self.call, action)))
            case EndCall():
                self._end(action)
            case PauseInvoice():
                self._pause_invoice(action)
            case RecordFailure():
                record_failure(self.services, self.call, action.reason, self.observers)
            case RecordHandOver(reason=reason):
                calls.decide_outcome(self.services.engine, self.call_id, CallOutcome.TRANSFER, reason)
                calls.add_event(self.services.engine, self.call_id, "handed_over", reason.value)
            case Finish():
                self.finished.set()
            case _:
                raise TypeError(f"unknown action {action!r}")

    def _recognise(self, recognise: Recognise) -> None:
        utterance = recognise.utterance
        self.observers.observe(UtteranceTaken(utterance.ended_at, utterance.end_of_turn_seconds))
        try:
            recognised = self.recogniser.recognise(
                utterance.pcm16,
                recognise.known_language,
                recognise.fallback_language,
                speech_bytes=utterance.speech_bytes,
            )
            heard = recognised.transcript
            self.observers.observe(Heard(heard, recognised.seconds, now()))
            if self.accounts is not None:
                self.accounts.take_seconds()  # only this answer's look-ups count
            spoke = CallerSpoke(heard.text, heard.language, heard.language_probability, heard.confidence, now())
            started = time.monotonic()
            actions = self.machine.handle(spoke, started)
            lookups = self.accounts.take_seconds() if self.accounts is not None else 0.0
            self.observers.observe(Understood(time.monotonic() - started, lookups))
            for action in actions:
                self._carry_out(action)
        finally:
            self.observers.observe(UtteranceAnswered())

    def _say(self, say: Say) -> None:
        """Plays what the dialogue says. Of a composed answer that is not cached, the first sentence is rendered
        and sent first, and plays while the rest is rendered, so the caller hears the answer sooner."""
        synthesizer = self.services.speech.synthesizer
        inputs = self.inputs
        started = time.monotonic()
        first, rest = split_first_sentence(say.text)
        if rest and not synthesizer.is_cached(say.text, say.language):
            # Its own mark, which the call's state ignores: the prompt is heard when the rest has played.
            audio, mark = synthesizer.synthesize(first, say.language), say.prompt_id + FIRST_SENTENCE_MARK
        else:
            audio, mark, rest = synthesizer.synthesize(say.text, say.language), say.prompt_id, ""
        synthesised = time.monotonic()
        self.player.play(audio, mark, on_start=lambda: inputs.put(PromptStarted(say.prompt_id, time.monotonic())))
        if rest:
            self.player.play(synthesizer.synthesize(rest, say.language), say.prompt_id)
        self.observers.observe(Said(say, now(), synthesised - started, synthesised))

    def _record_consent(self, record: RecordConsent) -> None:
        records.record_consent(self.services.engine, self.services.notices, self.call, record)
        self.observers.observe(ConsentRecorded(record.decision, record.method, now()))

    def _pause_invoice(self, pause: PauseInvoice) -> None:
        records.pause_invoice(self.services.engine, self.services.accounts, self.call, pause)

    def _end(self, end: EndCall) -> None:
        records.record_end(
            self.services.engine,
            self.call,
            end,
            self.machine.dialogue.assistance.summary,
            dial_target=self.services.settings.telephony.agent_target.label,
        )
        self.observers.observe(CallEnded(end.outcome, end.reason, now()))
        self._feed(PlaybackQueued(self.player.queued_seconds))
