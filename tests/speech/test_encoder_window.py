"""The encoder window sized to the utterance, its fallback to Whisper's full 30 s window, and language
detection from the same encoder pass (the real base model; benchmarks/transcription_window.py has the numbers)."""

from __future__ import annotations

import numpy as np
import pytest
from faster_whisper.transcribe import Segment
from speech_helpers import espeak_cli, shared_audio, through_phone, word_error_rate

from voice_app.speech import stt
from voice_app.speech.stt import FULL_WINDOW_SECONDS, Transcriber


def phrase_audio(text: str, language: str) -> np.ndarray:
    return through_phone(*espeak_cli(text, language))


@pytest.fixture(scope="module")
def full_window(base_model_dir) -> Transcriber:
    return Transcriber(str(base_model_dir), encoder_window="full")


def test_a_short_phrase_is_decoded_from_the_floor_window(transcriber: Transcriber) -> None:
    result = transcriber.transcribe(phrase_audio("I want to speak to an agent", "en"), "en")

    assert word_error_rate(["I want to speak to an agent"], [result.text]) == 0, result.text
    assert result.encoder_window_seconds == stt.DEFAULT_ENCODER_FLOOR_SECONDS


def test_a_long_utterance_gets_its_length_plus_the_margin(transcriber: Transcriber) -> None:
    result = transcriber.transcribe(through_phone(*shared_audio("jfk.flac")), "en")

    assert result.encoder_window_seconds == pytest.approx(11.0 + stt.DEFAULT_ENCODER_MARGIN_SECONDS, abs=0.1)
    assert "what your country can do for you" in result.text


@pytest.mark.parametrize(("text", "language"), [("ich möchte eine Rückerstattung", "de"), ("yes", "en")])
def test_the_full_window_setting_hears_the_same(
    transcriber: Transcriber, full_window: Transcriber, text: str, language: str
) -> None:
    audio = phrase_audio(text, language)
    sized, full = transcriber.transcribe(audio, language), full_window.transcribe(audio, language)

    assert full.encoder_window_seconds == FULL_WINDOW_SECONDS
    assert sized.encoder_window_seconds < FULL_WINDOW_SECONDS
    assert sized.text == full.text


def test_language_is_detected_from_the_same_sized_window(transcriber: Transcriber) -> None:
    result = transcriber.transcribe(phrase_audio("ich möchte eine Rückerstattung", "de"), None, fallback_language="en")

    assert result.language == "de"
    assert result.language_probability >= stt.SWITCH_MIN_PROBABILITY
    assert result.encoder_window_seconds < FULL_WINDOW_SECONDS


def test_a_repeated_output_is_decoded_again_from_the_full_window(
    transcriber: Transcriber, full_window: Transcriber
) -> None:
    # A word said four times: the sized window's output repeats ("Re-times, Re-times, ..."), so the
    # full window is asked again, and its answer is the one kept.
    audio = phrase_audio("refund, refund, refund, refund", "en")
    result = transcriber.transcribe(audio, "en")

    assert result.encoder_window_seconds == FULL_WINDOW_SECONDS
    assert result.text == full_window.transcribe(audio, "en").text


def segment(text: str, *, avg_logprob: float = -0.3, compression_ratio: float = 1.2) -> Segment:
    return Segment(
        id=0, seek=0, start=0.0, end=1.0, text=text, tokens=[], avg_logprob=avg_logprob,
        compression_ratio=compression_ratio, no_speech_prob=0.1, words=None, temperature=0.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("segments", "fall_back"),
    [
        ([segment(" I would like a refund.")], False),
        ([segment(" Yes, yes.")], False),
        ([segment(" Yes, yes, yes.")], True),
        ([segment(" Ich möchte, ich möchte, ich möchte eine Rate.")], True),
        # What base heard in "wurde meine letzte Rechnung bezahlt" (espeak-ng, phone line) with a 10 s window:
        ([segment(" Der Einruf, der Meinrätst, der Einruf, der Zahlung, der Einruf, der Einruf,")], True),
        (
            [segment(" And so my fellow America asked not what your country can do for you, ask what you can do.")],
            False,
        ),
        ([segment(" I would like a refund."), segment(" a refund," * 20, compression_ratio=4.5)], True),
        ([segment(" Ich möchte eine Rückerstattung.", avg_logprob=-1.4)], True),
        ([segment(" ", avg_logprob=-2.0)], False),  # nothing heard: the full window would only cost time
        ([], False),
    ],
)
def test_when_the_full_window_is_asked_again(segments: list[Segment], fall_back: bool) -> None:
    assert stt.needs_full_window(segments) is fall_back


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"encoder_window": "half"}, "encoder_window"),
        ({"encoder_floor_seconds": 0.0}, "encoder_floor_seconds"),
        ({"encoder_floor_seconds": 31.0}, "encoder_floor_seconds"),
        ({"encoder_margin_seconds": -1.0}, "encoder_margin_seconds"),
    ],
)
def test_bad_window_settings_are_refused(base_model_dir, setting: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Transcriber(str(base_model_dir), **setting)
