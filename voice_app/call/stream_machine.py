"""The life of one call's stream as a pure state machine: the dialogue (greeting, consent, assistance, hand-over)
inside, and around it what the dialogue leaves to the call: which prompts are still playing, when the caller's
silence counts, whether the reader may listen or cut a prompt, how the call waits for its last prompts, and how a
broken stream or the server's drain ends it.

Events in, actions out, with the time given in (`now`, time.monotonic()), so it is tested with text alone. The
executor carries out the actions; what follows the stream is `transfer_flow`'s.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from consent.ledger import Decision
from voice_app.call.inputs import HandOverRequested, SpeechBegan, StopRequest, StreamEnded, StreamFailed, Utterance
from voice_app.call.turn_taking import Gate
from voice_app.dialogue.machine import Dialogue
from voice_app.dialogue.messages import (
    Action,
    CallerInterrupted,
    CallerSpoke,
    CallStarted,
    DigitPressed,
    EndCall,
    Event,
    PromptFinished,
    RecordConsent,
    Say,
    SilenceElapsed,
    StopPlaying,
)
from voice_app.models import HandoffReason

# After the last prompt is queued, how long to wait beyond its length for Twilio to report it played.
PLAYBACK_GRACE_SECONDS = 3.0


# Events besides the dialogue's, the executor's inputs and its stop requests ----------------------------------


@dataclass(frozen=True)
class Tick:
    """No input for a while: time passed."""

    at: datetime


@dataclass(frozen=True)
class PlaybackQueued:
    """After the call ended: how much of the last prompts' audio is still to be sent."""

    seconds: float


StreamEvent = (
    CallStarted
    | CallerSpoke
    | DigitPressed
    | PromptFinished
    | SpeechBegan
    | Utterance
    | Tick
    | PlaybackQueued
    | StopRequest
)


# Actions besides the dialogue's ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recognise:
    """Transcribe the utterance; what was said comes back as `CallerSpoke`."""

    utterance: Utterance
    known_language: str | None  # None while the caller may still switch language
    fallback_language: str


@dataclass(frozen=True)
class PromptHeard:
    """The caller heard the prompt to its end: its mark came back at `at`, and it was not stopped before."""

    say: Say
    at: datetime


@dataclass(frozen=True)
class PostGate:
    gate: Gate


@dataclass(frozen=True)
class RecordFailure:
    reason: HandoffReason


@dataclass(frozen=True)
class RecordHandOver:
    reason: HandoffReason


@dataclass(frozen=True)
class Finish:
    """The call is over on this stream: close it."""


StreamAction = Action | Recognise | PromptHeard | PostGate | RecordFailure | RecordHandOver | Finish


class StreamMachine:
    def __init__(self, dialogue: Dialogue, *, silence_timeout_seconds: float, max_utterance_seconds: float) -> None:
        self.dialogue = dialogue
        self.silence_timeout_seconds = silence_timeout_seconds
        self.max_utterance_seconds = max_utterance_seconds
        self.outstanding: OrderedDict[str, Say] = OrderedDict()  # prompts sent, not yet heard to their end
        self.listening = False
        self.ending = False
        self.finished = False
        self._quiet_since: float | None = None  # when the silence clock started
        self._ending_by: float | None = None  # once the call ends: when to stop waiting for its last prompts
        self._gate = Gate()

    def handle(self, event: StreamEvent, now: float) -> list[StreamAction]:
        if self.finished:
            return []
        match event:
            case StreamFailed(reason=reason):
                return self._finish([RecordFailure(reason)])
            case HandOverRequested(reason=reason):
                return self._finish([RecordHandOver(reason)])
            case StreamEnded():
                return self._finish([])
        if self.ending:
            return self._while_ending(event, now)
        match event:
            case Tick():
                return self._tick(event.at, now)
            case SpeechBegan(talked_over_at=talked_over_at):
                # The caller may talk for up to the longest utterance before the silence clock runs again; a blip
                # too short to be a turn yields no utterance and so ends the wait that way.
                self._quiet_since = now + self.max_utterance_seconds
                if talked_over_at is None:
                    return []
                actions = self._dispatch(CallerInterrupted(talked_over_at))
            case Utterance():
                self._quiet_since = None
                return [Recognise(event, *self.recognition_languages())]
            case PlaybackQueued():
                return []
            case DigitPressed():
                self._quiet_since = None
                actions = self._dispatch(event)
            case PromptFinished():
                actions = self._prompt_finished(event)
            case _:
                actions = self._dispatch(event)
        if self.ending:
            return actions + self._end_when_heard(now)
        if self.listening and not self.outstanding and self._quiet_since is None:
            self._quiet_since = now
        return actions

    def recognition_languages(self) -> tuple[str | None, str]:
        """The language to transcribe the caller's next words in (None while they may still switch) and the
        fallback; the executor asks it too when it transcribes a turn early."""
        language = self.dialogue.language
        return None if self.dialogue.language_open else language, language

    def _tick(self, at: datetime, now: float) -> list[StreamAction]:
        if self._quiet_since is None or now - self._quiet_since < self.silence_timeout_seconds:
            return []
        self._quiet_since = None
        return self._dispatch(SilenceElapsed(at))

    def _prompt_finished(self, event: PromptFinished) -> list[StreamAction]:
        say = self.outstanding.pop(event.prompt_id, None)
        if say is None:
            return []
        return [*self._gate_changed(), PromptHeard(say, event.at), *self._dispatch(event)]

    def _dispatch(self, event: Event) -> list[StreamAction]:
        actions: list[StreamAction] = []
        for action in self.dialogue.handle(event):
            actions.append(action)
            match action:
                case Say():
                    self.outstanding[action.prompt_id] = action
                    actions += self._gate_changed()
                case StopPlaying():
                    # Twilio echoes the marks of what it drops, too: forgotten here, their echoes count for nothing.
                    self.outstanding.clear()
                    actions += self._gate_changed()
                case RecordConsent(decision=decision) if decision is not Decision.GRANTED:
                    # Nothing more the caller says is to be heard by the assistant.
                    self.listening = False
                    actions += self._gate_changed()
                case EndCall():
                    self.ending, self.listening = True, False
                    actions += self._gate_changed()
        if not self.ending:
            self.listening = self.dialogue.listening
            actions += self._gate_changed()
        return actions

    def _while_ending(self, event: StreamEvent, now: float) -> list[StreamAction]:
        """The call is decided: only the last prompts being heard still count."""
        actions: list[StreamAction] = []
        match event:
            case PlaybackQueued():
                self._ending_by = now + event.seconds + PLAYBACK_GRACE_SECONDS
            case PromptFinished():
                # Heard to its end although the call is decided (the notice before a hang-up, the transfer line):
                # still evidence of what the caller was told.
                say = self.outstanding.pop(event.prompt_id, None)
                if say is not None:
                    actions = [*self._gate_changed(), PromptHeard(say, event.at)]
        return actions + self._end_when_heard(now)

    def _end_when_heard(self, now: float) -> list[StreamAction]:
        if self._ending_by is not None and (not self.outstanding or now >= self._ending_by):
            return self._finish([])
        return []

    def _finish(self, actions: list[StreamAction]) -> list[StreamAction]:
        self.finished = True
        return [*actions, Finish()]

    def _gate_changed(self) -> list[StreamAction]:
        """The reader's gate, when what it may do with the caller's audio changed."""
        interruptible = bool(self.outstanding) and all(say.interruptible for say in self.outstanding.values())
        gate = Gate(
            listening=self.listening,
            interruptible=interruptible,
            short_answer=self.listening and self.dialogue.expects_short_answer,
        )
        if gate == self._gate:
            return []
        self._gate = gate
        return [PostGate(gate)]
