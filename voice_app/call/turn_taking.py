"""The caller's audio turned into turns, on the stream reader's thread, so that turn detection and barge-in
never wait for speech recognition.

What the reader may do with the audio is the executor's decision: it posts a `Gate` (listening or not, whether
what plays may be cut, whether a short answer is expected) whenever that changes, and the reader takes the latest
gate before each frame. The two threads share nothing else.

With a turn-completion model, a short pause in the caller's speech is reported at once (so that transcription can
start) and the model is asked whether the turn is complete; if it is, the turn ends there, otherwise it ends when
the caller has been silent for the detector's fallback, or for `short_answer_fallback_ms` when the assistant asked
for a short answer (the model often scores a lone "yes" as unfinished).

Listening to the words as well (`SmartTurn.words` set), the model's "finished" is believed at once only when the
transcript of the turn so far is something the dialogue would act on as it is (the executor judges it when the early
transcript is ready, and posts its judgement back). When the model says finished but the words are no request (yet),
the turn ends after `WordsRule.unfinished_words_ms` of silence: a caller who stops after "I would like to know my"
sounds finished, but is not. When the words are a request but the model says unfinished, after
`WordsRule.unfinished_sound_ms`; when neither says finished, after the fallback. `turn_is_over` is that decision.
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
class WordsRule:
    """The silences after which a turn ends when the model and the words heard so far disagree."""

    unfinished_words_ms: int  # the model says finished, the words are no request (yet)
    unfinished_sound_ms: int  # the words are a request, the model says unfinished


@dataclass(frozen=True)
class SmartTurn:
    """Ending turns by a turn-completion model; without one, the detector's fixed silence ends them."""

    model: CompletionModel
    threshold: float
    short_answer_fallback_ms: int
    fallback_ms: int = 3000  # the detector's own end of turn: the decision does not end a turn later than this
    words: WordsRule | None = None  # listening to the words too


def turn_is_over(
    smart_turn: SmartTurn, *, silence_ms: int, probability: float | None, words_act: bool | None, short_answer: bool
) -> bool:
    """Whether the caller's turn is over, `silence_ms` into a pause. `probability`: the model's that the turn is
    complete, None before it was asked (the pause is still too short). `words_act`: whether the dialogue would act on
    the transcript of the turn so far as it is, None while it is not known yet (only read when listening to words).
    `short_answer`: the assistant asked for consent or a yes or no."""
    if probability is None:
        return False
    sounds_finished = probability >= smart_turn.threshold
    longest = smart_turn.short_answer_fallback_ms if short_answer else smart_turn.fallback_ms
    if smart_turn.words is None:
        return sounds_finished or silence_ms >= longest
    if sounds_finished and words_act:
        return True
    if sounds_finished:
        return silence_ms >= min(smart_turn.words.unfinished_words_ms, longest)
    if words_act:
        return silence_ms >= min(smart_turn.words.unfinished_sound_ms, longest)
    return silence_ms >= longest


@dataclass(frozen=True)
class WordsJudged:
    """The executor's judgement of the early transcript at one pause (numbered as in its `TurnPaused`)."""

    pause: int
    act: bool


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
        self._judged: queue.SimpleQueue[WordsJudged] = queue.SimpleQueue()
        self._decision_seconds = 0.0  # the model's time on the pause that ended the turn
        # The pause in progress: its number, the model's probability (None outside a pause) and the words' judgement.
        self._pauses = 0
        self._probability: float | None = None
        self._words_act: bool | None = None

    def post(self, gate: Gate) -> None:
        """Called by the executor's thread."""
        self._posted.put(gate)

    def post_words(self, judged: WordsJudged) -> None:
        """Called by the executor's thread once the early transcript of a pause is judged."""
        self._judged.put(judged)

    def hear(self, mulaw: bytes) -> None:
        """One frame of the caller's audio (reader's thread)."""
        self._take_posted_gate()
        if not self._gate.listening:
            return
        turn = self.detector.push(mulaw_to_pcm16(mulaw))
        self._take_judgements()
        if isinstance(turn, SpeechStarted):
            self.put(SpeechBegan(self._barge_in()))
        elif isinstance(turn, PauseBegan) and self.smart_turn is not None:
            self._paused(turn, self.smart_turn)
        elif isinstance(turn, UtteranceEnded):
            self._ended(turn)
        elif turn is None and self.smart_turn is not None:
            self._decide(self.smart_turn)

    def _paused(self, pause: PauseBegan, smart_turn: SmartTurn) -> None:
        self._pauses += 1
        self.put(TurnPaused(pause.pcm16, self._pauses))
        started = time.monotonic()
        self._probability = smart_turn.model.probability(pause.pcm16)
        self._words_act = None
        self._decision_seconds = time.monotonic() - started
        self._decide(smart_turn)

    def _decide(self, smart_turn: SmartTurn) -> None:
        if self.detector.silence_ms == 0:
            self._probability = None  # not in a pause (any more): the next one is judged afresh
            return
        if turn_is_over(
            smart_turn,
            silence_ms=self.detector.silence_ms,
            probability=self._probability,
            words_act=self._words_act,
            short_answer=self._gate.short_answer,
        ):
            self._ended(self.detector.end_turn())

    def _take_judgements(self) -> None:
        while not self._judged.empty():
            judged = self._judged.get()
            if judged.pause == self._pauses and self._probability is not None:
                self._words_act = judged.act

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
        self._probability = None

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
