"""The Smart Turn model: its pinned file, its judgement on real speech and espeak-ng answers through 8 kHz mu-law,
the reader's turn taking with it, and recognition started at a pause.

Measured with pause_ms=200 (probability the turn is complete): jfk.flac 0.03 at the 840 ms pause after
"Americans", 0.02 at the 540 ms one, 0.64 at its end; espeak-ng "Yes." 0.98, "Ja." 0.96, "Yes please." 0.19,
"Ich stimme zu." 0.30 (short answers the model takes for unfinished: the short-answer fallback's reason).
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from speech_helpers import espeak_cli, shared_audio

from telephony.audio import float_to_phone_mulaw, split_frames
from voice_app.call.inputs import TurnPaused, Utterance
from voice_app.call.recognition import Recogniser
from voice_app.call.turn_taking import Gate, SmartTurn, TurnTaking
from voice_app.speech import model_store
from voice_app.speech.model_store import ModelUnavailable, install_smart_turn, smart_turn_model
from voice_app.speech.stt import Transcriber, Transcript
from voice_app.speech.turn_completion import TurnCompletion, shared_turn_completion
from voice_app.speech.turns import TurnDetector


@pytest.fixture(scope="module")
def completion(model_cache_dir: Path) -> TurnCompletion:
    return shared_turn_completion(model_cache_dir)


def phone_mulaw_frames(samples: np.ndarray, rate: int, silence_after_s: float = 4) -> list[bytes]:
    padded = np.concatenate(
        [np.zeros(rate // 2, np.float32), samples, np.zeros(int(rate * silence_after_s), np.float32)]
    )
    return split_frames(float_to_phone_mulaw(padded, rate))


class Player:
    def clear(self) -> list[str]:
        return []


def take_turns(completion: TurnCompletion, frames: list[bytes], *, short_answer: bool = False) -> list[object]:
    heard: list[object] = []
    taking = TurnTaking(
        TurnDetector(end_silence_ms=3000, pause_ms=200),
        Player(),  # type: ignore[arg-type]
        heard.append,
        SmartTurn(completion, threshold=0.5, short_answer_fallback_ms=1000),
    )
    taking.post(Gate(listening=True, short_answer=short_answer))
    for frame in frames:
        taking.hear(frame)
    return heard


def trailing_silence_ms(utterance: Utterance) -> int:
    return (len(utterance.pcm16) - utterance.speech_bytes) // 16


# -- the model file --------------------------------------------------------------------------------------------


def test_the_installed_model_is_the_pinned_one(model_cache_dir: Path) -> None:
    assert smart_turn_model(model_cache_dir).stat().st_size == 8_679_182


def test_a_damaged_model_is_refused_and_reinstalled_from_the_wheel(model_cache_dir: Path, tmp_path: Path) -> None:
    good = smart_turn_model(model_cache_dir)
    damaged = tmp_path / model_store.SMART_TURN_FILE_NAME
    data = bytearray(good.read_bytes())
    data[4096] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(ModelUnavailable, match="damaged"):
        smart_turn_model(tmp_path)

    wheel = tmp_path / "pipecat_ai-1.14.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(good, f"pipecat/audio/turn/smart_turn/data/{model_store.SMART_TURN_FILE_NAME}")
    assert install_smart_turn(wheel, tmp_path) == damaged
    assert smart_turn_model(tmp_path) == damaged


def test_a_wheel_without_the_pinned_model_installs_nothing(model_cache_dir: Path, tmp_path: Path) -> None:
    wheel = tmp_path / "other.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"pipecat/audio/turn/smart_turn/data/{model_store.SMART_TURN_FILE_NAME}", b"not a model")
    with pytest.raises(ModelUnavailable, match="not the pinned one"):
        install_smart_turn(wheel, tmp_path / "cache")
    with pytest.raises(ModelUnavailable, match="not installed"):
        smart_turn_model(tmp_path / "cache")
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)


# -- its judgement ---------------------------------------------------------------------------------------------


def test_real_speech_is_judged_unfinished_mid_sentence_and_finished_at_its_end(completion: TurnCompletion) -> None:
    heard = take_turns(completion, phone_mulaw_frames(*shared_audio("jfk.flac")))

    # Asked at each of jfk's three pauses: not cut at "Americans," nor later, ended 200 ms after the last word.
    assert sum(isinstance(item, TurnPaused) for item in heard) == 3
    (utterance,) = [item for item in heard if isinstance(item, Utterance)]
    assert len(utterance.pcm16) // 16 > 10_000
    assert trailing_silence_ms(utterance) == 200


@pytest.mark.parametrize(("text", "language"), [("Yes.", "en"), ("Ja.", "de")])
def test_a_plain_yes_ends_the_turn_at_the_first_pause(completion: TurnCompletion, text: str, language: str) -> None:
    (utterance,) = [
        item
        for item in take_turns(completion, phone_mulaw_frames(*espeak_cli(text, language)))
        if isinstance(item, Utterance)
    ]
    assert trailing_silence_ms(utterance) == 200


@pytest.mark.parametrize(("short_answer", "silence_ms"), [(False, 3000), (True, 1000)])
def test_an_answer_judged_unfinished_waits_for_the_fallback(
    completion: TurnCompletion, short_answer: bool, silence_ms: int
) -> None:
    frames = phone_mulaw_frames(*espeak_cli("Yes please.", "en"))
    (utterance,) = [
        item for item in take_turns(completion, frames, short_answer=short_answer) if isinstance(item, Utterance)
    ]
    assert trailing_silence_ms(utterance) == silence_ms


# -- recognition started at the pause ---------------------------------------------------------------------------


def test_a_turn_that_ends_at_the_pause_uses_the_early_transcript(
    completion: TurnCompletion, transcriber: Transcriber
) -> None:
    heard = take_turns(completion, phone_mulaw_frames(*espeak_cli("I want to speak to an agent", "en")))
    paused = next(item for item in heard if isinstance(item, TurnPaused))
    (utterance,) = [item for item in heard if isinstance(item, Utterance)]
    recogniser = Recogniser(transcriber, timeout_seconds=60)

    recogniser.start_early(paused.pcm16, "en", "en")
    early = recogniser.recognise(utterance.pcm16, "en", "en", speech_bytes=utterance.speech_bytes)
    # The caller spoke on after the pause: the early transcript of the first words is not used.
    recogniser.start_early(paused.pcm16[: len(paused.pcm16) // 2], "en", "en")
    fresh = recogniser.recognise(utterance.pcm16, "en", "en", speech_bytes=utterance.speech_bytes)

    assert early.early and not fresh.early
    assert early.transcript.text == fresh.transcript.text
    assert "agent" in fresh.transcript.text.lower()


class FailingRecogniser(Transcriber):
    """A recogniser that raises on every utterance, counting how often it was asked."""

    def __init__(self) -> None:  # no model: it never transcribes
        self.calls = 0

    def transcribe(
        self, audio_16k: np.ndarray, language: str | None = None, *, fallback_language: str | None = None
    ) -> Transcript:
        self.calls += 1
        raise RuntimeError("recogniser failure")


def test_a_recogniser_that_failed_at_the_pause_is_not_asked_again_for_the_same_turn() -> None:
    failing = FailingRecogniser()
    recogniser = Recogniser(failing, timeout_seconds=10)
    speech = np.random.default_rng(7).integers(-8000, 8000, 8000, dtype=np.int16).tobytes()
    silence = bytes(3200)

    recogniser.start_early(speech, "en", "en")
    with pytest.raises(RuntimeError, match="recogniser failure"):
        recogniser.recognise(speech + silence, "en", "en", speech_bytes=len(speech))

    assert failing.calls == 1
