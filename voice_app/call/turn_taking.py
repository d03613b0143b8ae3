"""The caller's audio turned into turns, on the stream reader's thread, so that turn detection and barge-in
never wait for speech recognition.

What the reader may do with the audio is the executor's decision: it posts a `Gate` (listening or not, whether
what plays may be cut, whether a short answer is expected) whenever that changes, and the reader takes the latest
gate before each frame. The two threads share nothing else.

With a turn-completion model, a short pause in the caller's speech is reported at once (so that transcription can
start) and the model is asked whether the turn is complete; if it is, the turn ends there, otherwise it ends when
the caller has been silent for the detector's fallback, or for `short_answer_fallback_ms` when the assistant asked
for a short answer (the model often scores a lone "yes" as unfinished).
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from telephony.audio import FRAME_MS, PCM16_FRAME_BYTES, mulaw_to_pcm16
from telephony.outbound import OutboundPlayer
from voice_app.call.inputs import CallInput, SpeechBegan, TurnPaused, Utterance
from voice_app.dialogue.messages import PromptFinished
from voice_app.speech.turns import PauseBegan, SpeechStarted, TurnDetector, UtteranceEnded

_BYTES_PER_SECOND = PCM16_FRAME_BYTES * 1000 // FRAME_MS


@dataclass(frozen=True)
class Gate:
    listening: bool = False
    interruptible: bool = False  # something is playing, and all of it may be cut when the caller talks
    short_answer: bool = False  # the assistant asked for consent or a yes or no


class CompletionModel(Protocol):
    def probability(self, pcm16: bytes) -> float: ...


@dataclass(frozen=True)
class SmartTurn:
    """Ending turns by a turn-completion model; without one, the detector's fixed silence ends them."""

    model: CompletionModel
    threshold: float
    short_answer_fallback_ms: int


class TurnTaking:
    def __init__(
        self,
        detector: TurnDetector,
        player: OutboundPlayer,
        put: Callable[[CallInput], None],
        smart_turn: SmartTurn | None = None,
    ) -> None:
        self.detector = detector
        self.player = player
        self.put = put
        self.smart_turn = smart_turn
        self._gate = Gate()
        self._posted: queue.SimpleQueue[Gate] = queue.SimpleQueue()
        self._decision_seconds = 0.0  # the model's time on the pause that ended the turn

    def post(self, gate: Gate) -> None:
        """Called by the executor's thread."""
        self._posted.put(gate)

    def hear(self, mulaw: bytes) -> None:
        """One frame of the caller's audio (reader's thread)."""
        self._take_posted_gate()
        if not self._gate.listening:
            return
        turn = self.detector.push(mulaw_to_pcm16(mulaw))
        if isinstance(turn, SpeechStarted):
            self.put(SpeechBegan(self._barge_in()))
        elif isinstance(turn, PauseBegan) and self.smart_turn is not None:
            self._paused(turn, self.smart_turn)
        elif isinstance(turn, UtteranceEnded):
            self._ended(turn)
        elif (
            turn is None
            and self.smart_turn is not None
            and self._gate.short_answer
            and self.detector.silence_ms >= self.smart_turn.short_answer_fallback_ms
        ):
            self._ended(self.detector.end_turn())

    def _paused(self, pause: PauseBegan, smart_turn: SmartTurn) -> None:
        self.put(TurnPaused(pause.pcm16))
        started = time.monotonic()
        complete = smart_turn.model.probability(pause.pcm16) >= smart_turn.threshold
        self._decision_seconds = time.monotonic() - started
        if complete:
            self._ended(self.detector.end_turn())

    def _ended(self, turn: UtteranceEnded | None) -> None:
        if turn is None:
            return  # too short to be a turn
        silence_seconds = (len(turn.pcm16) - turn.speech_bytes) / _BYTES_PER_SECOND
        self.put(
            Utterance(
                turn.pcm16,
                time.monotonic(),
                speech_bytes=turn.speech_bytes,
                end_of_turn_seconds=silence_seconds + self._decision_seconds,
            )
        )
        self._decision_seconds = 0.0

    def _take_posted_gate(self) -> None:
        while not self._posted.empty():
            gate = self._posted.get()
            if gate.listening and not self._gate.listening:
                self.detector.reset()  # nothing heard before listening began belongs to a turn
            self._gate = gate

    def _barge_in(self) -> datetime | None:
        """The caller talks over an interruptible prompt: stop it at once, so the assistant listens. Returns when,
        if a prompt was cut short."""
        if not self._gate.interruptible:
            return None
        at = datetime.now(UTC)
        dropped = self.player.clear()
        for prompt_id in dropped:
            self.put(PromptFinished(prompt_id, at))
        return at if dropped else None
