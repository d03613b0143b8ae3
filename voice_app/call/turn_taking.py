"""The caller's audio turned into turns, on the stream reader's thread, so that turn detection and barge-in
never wait for speech recognition.

What the reader may do with the audio is the executor's decision: it posts a `Gate` (listening or not, whether
what plays may be cut) whenever that changes, and the reader takes the latest gate before each frame. The two
threads share nothing else.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from telephony.audio import mulaw_to_pcm16
from telephony.outbound import OutboundPlayer
from voice_app.call.inputs import CallInput, SpeechBegan, Utterance
from voice_app.dialogue.messages import PromptFinished
from voice_app.speech.turns import SpeechStarted, TurnDetector, UtteranceEnded


@dataclass(frozen=True)
class Gate:
    listening: bool = False
    interruptible: bool = False  # something is playing, and all of it may be cut when the caller talks


class TurnTaking:
    def __init__(self, detector: TurnDetector, player: OutboundPlayer, put: Callable[[CallInput], None]) -> None:
        self.detector = detector
        self.player = player
        self.put = put
        self._gate = Gate()
        self._posted: queue.SimpleQueue[Gate] = queue.SimpleQueue()

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
            self._barge_in()
            self.put(SpeechBegan())
        elif isinstance(turn, UtteranceEnded):
            self.put(Utterance(turn.pcm16, time.monotonic()))

    def _take_posted_gate(self) -> None:
        while not self._posted.empty():
            gate = self._posted.get()
            if gate.listening and not self._gate.listening:
                self.detector.reset()  # nothing heard before listening began belongs to a turn
            self._gate = gate

    def _barge_in(self) -> None:
        """The caller talks over an interruptible prompt: stop it at once, so the assistant listens."""
        if self._gate.interruptible:
            for dropped in self.player.clear():
                self.put(PromptFinished(dropped, datetime.now(UTC)))
