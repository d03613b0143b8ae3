"""Speech synthesis through pyttsx3 and espeak-ng, to phone audio, and back through the real model."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest
from speech_helpers import word_error_rate

from telephony.audio import PHONE_RATE, mulaw_to_pcm16, pcm16_to_float32, phone_mulaw_to_float
from voice_app.speech.stt import Transcriber
from voice_app.speech.tts import SynthesisError, Synthesizer

# Phrases base hears reliably, so a failure points at the synthesizer; measured: every word right.
# (Accuracy over all hotline phrases is test_stt.py's business.)
ROUND_TRIP = {
    "en": (["I want to speak to an agent", "I did not receive my refund", "how much do I still owe"], 0.2),
    "de": (["ich möchte eine Rückerstattung", "ich habe meine Rückerstattung nicht bekommen"], 0.2),
}


def decoded(mulaw: bytes) -> np.ndarray:
    return pcm16_to_float32(mulaw_to_pcm16(mulaw))


@pytest.mark.parametrize(
    ("text", "language"),
    [("I want to speak to an agent", "en"), ("ich möchte mit einem Mitarbeiter sprechen", "de")],
)
def test_speech_is_phone_audio_of_plausible_length(synthesizer: Synthesizer, text: str, language: str) -> None:
    mulaw = synthesizer.synthesize(text, language)
    samples = decoded(mulaw)
    seconds = len(mulaw) / PHONE_RATE

    assert 1.2 < seconds < 3.5  # six words at 165 words a minute, plus at most 0.2 s of silence
    assert 20 * np.log10(np.sqrt(np.mean(samples**2))) > -30, "speech, not silence"
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    assert loud[0] <= 0.15 * PHONE_RATE, "leading silence is trimmed to about 100 ms"
    assert len(samples) - loud[-1] <= 0.15 * PHONE_RATE, "trailing silence is trimmed to about 100 ms"


def test_voices_differ_by_language(synthesizer: Synthesizer) -> None:
    assert synthesizer.synthesize("Mitarbeiter", "de") != synthesizer.synthesize("Mitarbeiter", "en")


def test_second_request_comes_from_the_cache(synthesizer: Synthesizer) -> None:
    first = synthesizer.synthesize("Your last invoice was paid on the third of May.", "en")
    renders, hits = synthesizer.renders, synthesizer.cache_hits

    again = synthesizer.synthesize("Your last invoice was paid on the third of May.", "en")

    assert again == first
    assert (synthesizer.renders, synthesizer.cache_hits) == (renders, hits + 1)


def test_prerendered_prompts_are_cache_hits() -> None:
    synthesizer = Synthesizer(cache_size=2)
    try:
        prompts = [("Hallo, hier ist der digitale Assistent.", "de"), ("Hello, this is the assistant.", "en")]
        synthesizer.prerender(prompts)
        assert synthesizer.renders == 2

        synthesizer.synthesize("Hallo, hier ist der digitale Assistent.", "de")
        synthesizer.synthesize("A third text pushes out the oldest.", "en")
        synthesizer.synthesize("Hello, this is the assistant.", "en")

        assert synthesizer.cache_hits == 1
        assert synthesizer.renders == 4
    finally:
        synthesizer.close()


def test_concurrent_requests_all_succeed_with_the_same_speech_as_one_by_one() -> None:
    texts = [("one moment please", "en"), ("einen Moment bitte", "de"), ("goodbye", "en"), ("auf Wiederhören", "de")]
    uncached = Synthesizer(cache_size=0)
    try:
        expected = [uncached.synthesize(text, language) for text, language in texts]
        results: dict[int, bytes] = {}
        errors: list[BaseException] = []

        def work(index: int) -> None:
            try:
                results[index] = uncached.synthesize(*texts[index % len(texts)])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert not errors
        # espeak-ng's output varies by a few milliseconds from render to render, so compare lengths.
        for i in range(8):
            assert len(results[i]) == pytest.approx(len(expected[i % len(texts)]), rel=0.1)
    finally:
        uncached.close()


@pytest.mark.parametrize("language", ["en", "de"])
def test_round_trip_through_the_real_model(synthesizer: Synthesizer, transcriber: Transcriber, language: str) -> None:
    texts, bound = ROUND_TRIP[language]
    audio = [phone_mulaw_to_float(synthesizer.synthesize(text, language), 16000) for text in texts]
    heard = [transcriber.transcribe(clip, language).text for clip in audio]

    assert word_error_rate(texts, heard) <= bound, list(zip(texts, heard, strict=True))


@pytest.mark.parametrize("text", ["", "   \n", None])
def test_empty_text_is_refused(synthesizer: Synthesizer, text) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        synthesizer.synthesize(text, "en")


def test_overlong_text_is_refused(synthesizer: Synthesizer) -> None:
    with pytest.raises(ValueError, match="limit"):
        synthesizer.synthesize("word " * 300, "en")


def test_unknown_language_is_refused(synthesizer: Synthesizer) -> None:
    with pytest.raises(ValueError, match="no voice for language 'fr'"):
        synthesizer.synthesize("Bonjour", "fr")


def test_unknown_voice_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="no voice gmw/xx"):
        Synthesizer({"en": "gmw/xx"})


@pytest.mark.parametrize("kwargs", [{"rate_wpm": 20}, {"cache_size": -1}, {"timeout_seconds": 0}])
def test_bad_settings_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        Synthesizer(**kwargs)


def test_closed_synthesizer_refuses_work() -> None:
    synthesizer = Synthesizer()
    synthesizer.close()

    with pytest.raises(SynthesisError, match="closed"):
        synthesizer.synthesize("hello", "en")


def test_missing_espeak_says_to_install_it() -> None:
    # A separate interpreter in which loading pyttsx3's espeak binding fails, as it does without the library.
    code = (
        "import sys; sys.modules['pyttsx3.drivers._espeak'] = None\n"
        "from voice_app.speech.tts import Synthesizer, SynthesisError\n"
        "try:\n    Synthesizer()\nexcept SynthesisError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout

    assert "apt-get install espeak-ng" in out
