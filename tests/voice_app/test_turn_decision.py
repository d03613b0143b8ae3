"""The end of turn that listens to the words too, from text: the decision (`turn_is_over`), the words' half of it
(`dialogue_would_act_on`) and the reader's turn taking fed frames and judgements, without a model or audio."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pytest

from telephony.audio import MULAW_SILENCE_FRAME, mulaw_to_pcm16, pcm16_to_float32, split_frames
from telephony.caller_voice import caller_says
from tests.support import AT
from voice_app.call.inputs import TurnPaused, Utterance
from voice_app.call.turn_taking import Gate, SmartTurn, TurnTaking, WordsJudged, WordsRule, turn_is_over
from voice_app.call.turn_words import dialogue_would_act_on
from voice_app.dialogue.machine import State
from voice_app.dialogue.messages import CallStarted, DigitPressed, PromptFinished, Say
from voice_app.speech.stt import Transcript
from voice_app.speech.turns import PauseBegan, TurnDetector

FALLBACK, SHORT_FALLBACK, WORDS_UNFINISHED, SOUND_UNFINISHED = 3000, 1000, 1300, 700


class Scores:
    """A stand-in model that scores every pause the same: the decision is under test here, not the model."""

    def __init__(self, probability: float) -> None:
        self.value = probability

    def probability(self, pcm16: bytes) -> float:
        return self.value


def rule(probability: float = 0.9, *, words: bool = True) -> SmartTurn:
    words_rule = WordsRule(WORDS_UNFINISHED, SOUND_UNFINISHED) if words else None
    return SmartTurn(Scores(probability), 0.5, SHORT_FALLBACK, FALLBACK, words_rule)


def over(smart_turn: SmartTurn, silence_ms: int, probability: float | None, words_act: bool | None, **kw) -> bool:
    return turn_is_over(
        smart_turn,
        silence_ms=silence_ms,
        probability=probability,
        words_act=words_act,
        short_answer=kw.get("short_answer", False),
    )


# -- the decision ------------------------------------------------------------------------------------------------


def test_before_the_model_was_asked_the_turn_goes_on() -> None:
    assert not over(rule(), 2900, None, True)


def test_finished_by_sound_and_words_ends_at_the_pause() -> None:
    assert over(rule(), 200, 0.9, True)


@pytest.mark.parametrize("words_act", [False, None])
def test_finished_by_sound_but_not_by_words_waits_longer(words_act: bool | None) -> None:
    """'I would like to know my' sounds finished; the words are no request yet (or not transcribed yet)."""
    assert not over(rule(), 200, 0.9, words_act)
    assert not over(rule(), WORDS_UNFINISHED - 20, 0.9, words_act)
    assert over(rule(), WORDS_UNFINISHED, 0.9, words_act)


def test_finished_by_words_but_not_by_sound_waits_for_a_shorter_silence() -> None:
    assert not over(rule(), SOUND_UNFINISHED - 20, 0.1, True)
    assert over(rule(), SOUND_UNFINISHED, 0.1, True)


def test_neither_finished_waits_for_the_fallback() -> None:
    """A hesitation: 'I want to, um,' neither sounds finished nor is a request."""
    assert not over(rule(), FALLBACK - 20, 0.1, False)
    assert over(rule(), FALLBACK, 0.1, False)


def test_a_short_answer_expected_shortens_the_longest_wait() -> None:
    assert over(rule(), SHORT_FALLBACK, 0.1, False, short_answer=True)
    assert over(rule(), SHORT_FALLBACK, 0.9, False, short_answer=True)  # the words' silence is longer here
    assert not over(rule(), SHORT_FALLBACK - 20, 0.9, False, short_answer=True)


def test_without_the_words_the_sound_alone_decides() -> None:
    assert over(rule(words=False), 200, 0.9, False)
    assert not over(rule(words=False), WORDS_UNFINISHED, 0.1, True)
    assert over(rule(words=False), FALLBACK, 0.1, None)


# -- the words' half ---------------------------------------------------------------------------------------------


def heard(text: str, confidence: float = 0.6) -> Transcript:
    return Transcript(text, "en", 1.0, -0.5, 0.01, confidence, 2.0, 0.1)


@pytest.fixture
def at_consent(new_dialogue):
    dialogue = new_dialogue("en")
    for action in dialogue.handle(CallStarted(AT)):
        if isinstance(action, Say):
            dialogue.handle(PromptFinished(action.prompt_id, AT))
    assert dialogue.state is State.AWAITING_CONSENT
    return dialogue


@pytest.fixture
def in_conversation(at_consent):
    at_consent.handle(DigitPressed("1", AT))
    assert at_consent.state is State.CONVERSATION
    return at_consent


@pytest.mark.parametrize(
    ("text", "act"),
    [("Yes, I agree.", True), ("No.", True), ("I want a person.", True), ("Well, I", False), ("", False)],
)
def test_at_the_consent_question_a_clear_answer_is_acted_on(at_consent, text: str, act: bool) -> None:
    assert dialogue_would_act_on(at_consent, heard(text)) is act


@pytest.mark.parametrize(
    ("text", "act"),
    [
        ("Where is my refund for the broken chair?", True),
        ("Have I paid my invoice?", True),
        ("When is my next payment due?", True),
        ("I want to speak to an agent.", True),
        ("Goodbye.", True),
        ("I would like to know my", False),
        ("What is the", False),
        ("I want to, um,", False),
        ("What is the balance of my account?", False),  # out of scope: a person answers it, after a longer wait
    ],
)
def test_in_the_conversation_a_request_is_acted_on_and_a_fragment_is_not(in_conversation, text, act) -> None:
    assert dialogue_would_act_on(in_conversation, heard(text)) is act


def test_a_transcript_below_the_confidence_floor_is_not_acted_on(in_conversation) -> None:
    assert not dialogue_would_act_on(in_conversation, heard("What is the balance of my account?", confidence=0.01))


# -- the reader's turn taking, frames and judgements -------------------------------------------------------------


class NothingPlaying:
    def clear(self) -> list[str]:
        return []


@functools.cache
def spoken() -> list[bytes]:
    """A short espeak-ng sentence as the caller's voice gives it (silence trimmed), 8 kHz mu-law frames."""
    return split_frames(caller_says("Hello there.", "en"))


def sound_then_silence(silence_ms: int) -> list[bytes]:
    return spoken() + [MULAW_SILENCE_FRAME] * (silence_ms // 20)


def last_sounding_frame(frames: list[bytes]) -> int:
    """The last frame within 40 dB of the loudest: where the sound ends."""
    levels = [10 * np.log10(np.mean(pcm16_to_float32(mulaw_to_pcm16(frame)) ** 2) + 1e-12) for frame in frames]
    return max(index for index, level in enumerate(levels) if level >= max(levels) - 40)


def taking(probability: float) -> tuple[TurnTaking, list[object]]:
    heard_inputs: list[object] = []
    turn_taking = TurnTaking(
        TurnDetector(end_silence_ms=FALLBACK, pause_ms=200, quiet_below_peak_db=35),
        NothingPlaying(),  # type: ignore[arg-type]
        heard_inputs.append,
        rule(probability),
    )
    turn_taking.post(Gate(listening=True))
    return turn_taking, heard_inputs


def silence_when_ended(inputs: list[object]) -> int | None:
    ended = [item for item in inputs if isinstance(item, Utterance)]
    if not ended:
        return None
    (utterance,) = ended
    return round(utterance.end_of_turn_seconds * 1000)


def hear_and_judge(probability: float, judge: Callable[[TurnPaused], WordsJudged]) -> list[object]:
    """Plays a sound and 2 s of silence to the reader, and posts a judgement of the words right after the pause."""
    turn_taking, inputs = taking(probability)
    judged = False
    for frame in sound_then_silence(2000):
        turn_taking.hear(frame)
        paused = [item for item in inputs if isinstance(item, TurnPaused)]
        if paused and not judged:
            turn_taking.post_words(judge(paused[0]))
            judged = True
    return inputs


def test_the_reader_ends_the_turn_once_the_words_are_judged_acted_on() -> None:
    inputs = hear_and_judge(0.9, lambda paused: WordsJudged(paused.pause, act=True))
    silence = silence_when_ended(inputs)
    assert silence is not None and silence <= 240  # the pause, and the frame on which the judgement is taken


def test_words_not_acted_on_make_the_reader_wait_longer() -> None:
    inputs = hear_and_judge(0.9, lambda paused: WordsJudged(paused.pause, act=False))
    assert silence_when_ended(inputs) == WORDS_UNFINISHED


def test_a_judgement_of_another_pause_is_ignored() -> None:
    inputs = hear_and_judge(0.9, lambda paused: WordsJudged(paused.pause + 1, act=True))
    assert silence_when_ended(inputs) == WORDS_UNFINISHED


@pytest.mark.parametrize(("quiet_below_peak_db", "lag_ms"), [(35.0, (0, 60)), (None, (100, 140))])
def test_the_pause_is_measured_from_the_end_of_the_sound_not_of_the_vads_hangover(
    quiet_below_peak_db: float | None, lag_ms: tuple[int, int]
) -> None:
    """WebRTC's VAD flags 100 ms of digital silence after the sound as speech; without the level check the 200 ms
    pause comes about 300 ms after the sound."""
    detector = TurnDetector(end_silence_ms=FALLBACK, pause_ms=200, quiet_below_peak_db=quiet_below_peak_db)
    frames = sound_then_silence(1000)
    events = [detector.push(mulaw_to_pcm16(frame)) for frame in frames]
    paused_at = next(index for index, event in enumerate(events) if isinstance(event, PauseBegan))
    lag = (paused_at - last_sounding_frame(frames)) * 20 - 200
    assert lag_ms[0] <= lag <= lag_ms[1]
